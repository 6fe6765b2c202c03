"""Twins for the UI checks: the SPA as a browser runs it."""

from __future__ import annotations

from sandbox.parts import CSP
from sandbox.twins.model import H, Twin

TWINS = [
    Twin(
        name="ui-white-screen",
        description="The deployed bundle throws at start-up (it reads config.features, which the "
        "runtime config lacks): TypeError before the first render, an empty #root.",
        guide=f"{H}: Runtime JavaScript Errors",
        breaks={
            "UI-01": r"#root is empty after the page settled: a white screen.*"
            r"uncaught exception: TypeError: Cannot read properties of undefined \(reading 'enabled'\)",
        },
        nginx={"build": "broken"},
    ),
    Twin(
        name="ui-cors-origin-port",
        description="The API's CORS allows https://app.preflight.test but not the origin the browser "
        "sends, https://app.preflight.test:<port>: header probes pass, every SPA call is blocked.",
        guide=f"{H}: CORS Issues",
        breaks={
            "UI-01": r"console error: Access to fetch at 'https://api\.preflight\.test:\d+/api/v1/properties' "
            r"from origin 'https://app\.preflight\.test:\d+' has been blocked by CORS policy",
        },
        app={"cors": {"origin_regexes": []}},
    ),
    Twin(
        name="ui-api-dead-host",
        description="The runtime config points the SPA at the retired API host api-v1.preflight.test, "
        "which no longer resolves: the page renders, every API call fails.",
        guide=f"{H}: Application Not Loading",
        breaks={
            "UI-01": r"GET https://api-v1\.preflight\.test/api/v1/properties failed: net::ERR_NAME_NOT_RESOLVED",
        },
        nginx={"spa_api_url": "https://api-v1.preflight.test/api"},
    ),
    Twin(
        name="ui-csp-blocks-api",
        description="The Content-Security-Policy's connect-src is 'self' alone: the browser refuses the "
        "SPA's calls to the API origin before they leave the page (the server never sees them).",
        guide=f"{H}: Runtime JavaScript Errors",
        breaks={
            "UI-01": r"console error: Connecting to 'https://api\.preflight\.test:\d+/api/v1/properties' "
            r"violates the following Content Security Policy directive: \"connect-src 'self'\"",
        },
        nginx={"csp": CSP.replace("connect-src 'self' https://*.preflight.test:*", "connect-src 'self'")},
    ),
]
