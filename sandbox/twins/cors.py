"""Twins for the CORS checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin

TWINS = [
    Twin(
        name="cors-reflect-any",
        description="CORS reflects any Origin together with Allow-Credentials "
        "(Flask-CORS origins=r'.*', supports_credentials=True).",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-03": r"https://evil\.example was echoed in Access-Control-Allow-Origin",
            "CORS-04": r"http://localhost:3000 is allowed in production",
        },
        app={"cors": {"origins": r".*"}},
    ),
    Twin(
        name="cors-unanchored-regex",
        description="The allowed-origin regex is unanchored (https://.*app\\.preflight\\.test.*): "
        "https://app.preflight.test.evil.example is allowed.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-03": r"https://app\.preflight\.test\.evil\.example .*was echoed",
        },
        app={"cors": {"origins": [r"https://.*app\.preflight\.test.*"]}},
    ),
    Twin(
        name="cors-wildcard-credentials",
        description="An nginx snippet sends Access-Control-Allow-Origin * with "
        "Allow-Credentials true on /api/, hiding the app's own CORS headers.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-01": r"Access-Control-Allow-Origin is \*; expected exactly https://app\.preflight\.test",
            "CORS-02": r"Access-Control-Allow-Origin: \* together with Access-Control-Allow-Credentials: true",
            "CORS-03": r"got Access-Control-Allow-Origin: \* with Access-Control-Allow-Credentials: true",
        },
        nginx={"cors": "wildcard-credentials"},
    ),
    Twin(
        name="cors-no-credentials",
        description="CORS is configured without credentials: the SPA's cookie-authenticated "
        "calls are blocked (no Access-Control-Allow-Credentials).",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-02": r"carries Access-Control-Allow-Credentials: \(none\); expected true",
        },
        app={"cors": {"supports_credentials": False}},
    ),
    Twin(
        name="cors-missing-header",
        description="CORS allow_headers lacks x-csrftoken: preflights for the SPA's writes fail.",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-01": r"Access-Control-Allow-Headers \(.*\) lacks x-csrftoken",
        },
        app={"cors": {"allow_headers": ["authorization", "content-type"]}},
    ),
    Twin(
        name="cors-dev-origins",
        description="The 'Development only' origins http://localhost:3000 and "
        "http://127.0.0.1:3000 were left in the production CORS list.",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-04": r"http://localhost:3000 is allowed in production",
        },
        app={
            "cors": {
                "origins": [
                    "https://app.preflight.test",
                    "https://www.preflight.test",
                    "http://localhost:3000",
                    "http://127.0.0.1:3000",
                ]
            }
        },
    ),
    Twin(
        name="cors-dev-origins-left",
        description="The production CORS list still holds the team's dev servers (Angular on 4200, a "
        "mock API on 4100, Storybook-style tools on 4000, Django's runserver on 8000), each also as the "
        "http://0.0.0.0:<port> address the dev server printed; not the guide's :3000.",
        guide=f"{H}: CORS Configuration",
        breaks={
            "CORS-04": r"http://localhost:4000 is allowed in production.*http://localhost:4100 is allowed.*"
            r"http://localhost:4200 is allowed.*http://localhost:8000 is allowed.*"
            r"http://0\.0\.0\.0:4000 is allowed.*http://0\.0\.0\.0:4100 is allowed.*"
            r"http://0\.0\.0\.0:4200 is allowed.*http://0\.0\.0\.0:8000 is allowed",
        },
        app={
            "cors": {
                "origins": [
                    "https://app.preflight.test",
                    "https://www.preflight.test",
                    "http://localhost:4100",
                    "http://localhost:4000",
                    "http://localhost:4200",
                    "http://localhost:8000",
                    "http://0.0.0.0:4100",
                    "http://0.0.0.0:4000",
                    "http://0.0.0.0:4200",
                    "http://0.0.0.0:8000",
                ]
            }
        },
    ),
    Twin(
        name="cors-no-vary",
        description="CORS answers depend on Origin but carry no Vary: Origin "
        "(Flask-CORS vary_header=False): shared caches mix up origins.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-05": r"Vary lacks Origin",
        },
        app={"cors": {"vary_header": False}},
        # django-cors-headers always sends Vary: Origin.
        frameworks=("flask",),
    ),
    Twin(
        name="cors-preflight-only",
        description="nginx answers the OPTIONS preflight itself while the app has no CORS: "
        "the real GET carries no Access-Control-Allow-Origin.",
        guide=f"{H}: CORS Issues",
        breaks={
            "CORS-06": r"carries Access-Control-Allow-Origin: \(none\), but its preflight answered",
        },
        nginx={"cors": "preflight-only"},
        app={"cors": {"enabled": False}},
    ),
]
