"""Twins for the AUTH checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="auth-login-refused",
        description="A data fix reset the smoke user's password hash (V: Login Fails with Correct Credentials): "
        "the declared login answers 401, and every check that needs a logged-in user is blocked by AUTH-06.",
        guide=f"{V}: Login Fails with Correct Credentials",
        breaks={
            "AUTH-06": r"POST \S+/api/auth/login \(session.login\) answered 401 .*the smoke credentials are wrong",
        },
        blocked={"COOK-01": "AUTH-06", "COOK-04": "AUTH-06", "AUTH-02": "AUTH-06", "AUTH-05": "AUTH-06"},
        data={"sql": ("UPDATE users SET password_hash = 'pbkdf2:sha256:600000$reset$0' WHERE email LIKE 'smoke@%'",)},
    ),
    Twin(
        name="auth-route-open",
        description="/api/v1/payments was added without the login requirement (auth.protected lacks it): "
        "anyone can list payments.",
        guide=f"{H}: Authentication Bypass",
        breaks={
            "AUTH-01": r"GET \S+/api/v1/payments answered 200 .*without credentials: the route is open",
        },
        app={"auth": {"protected": ["/api/v1/account"]}},
    ),
    Twin(
        name="auth-jwt-alg-none",
        description="The JWT verifier's algorithm list includes 'none': an unsigned token is accepted.",
        guide=f"{H}: Authentication Bypass",
        breaks={
            "AUTH-02": r"forged token, alg none \(an unsigned token\), answered 200: accepted",
        },
        app={"auth": {"algorithms": ["HS256", "none"]}},
    ),
    Twin(
        name="auth-jwt-unverified",
        description="The JWT is decoded with verify_signature=False: any signature is accepted.",
        guide=f"{H}: JWT Token Issues",
        breaks={
            "AUTH-02": r"forged token, a tampered signature .*answered 200: accepted",
        },
        app={"auth": {"verify_signature": False}},
    ),
    Twin(
        name="auth-jwt-no-exp",
        description="The JWT is decoded with verify_exp=False: an expired token stays valid.",
        guide=f"{H}: JWT Token Issues",
        breaks={
            "AUTH-02": r"forged token, an expired exp .*answered 200: accepted",
        },
        app={"auth": {"verify_exp": False}},
    ),
    Twin(
        name="auth-not-proxied",
        description="nginx proxies /api/v1/ and /api/health but not /api/auth/: the auth health URL "
        "falls into the SPA fallback and answers the HTML shell.",
        guide=f"{H}: Authentication Issues",
        breaks={
            "AUTH-03": r"/api/auth/health answered 200 text/html, an HTML page, not the auth service",
        },
        nginx={"api_locations": ["/api/v1/", "= /api/health"]},
    ),
    Twin(
        name="auth-token-week",
        description="Access tokens live a week (ACCESS_TOKEN_LIFETIME = 7 days).",
        guide=f"{V}: Session Expires Too Quickly",
        breaks={
            "AUTH-05": r"lives 10080 minutes \(exp - iat\); the policy allows 60 minutes",
        },
        app={"auth": {"access_minutes": 10080}},
    ),
    Twin(
        name="auth-realworld-token-week",
        description='A RealWorld-style API (H: JWT Token Issues): the login takes {"user": {email, password}}, '
        "answers the JWT at user.token, and reads `Authorization: Token <jwt>`; the environment declares that shape "
        "(session.token.at, scheme), and the token lives a week and the verifier accepts alg none.",
        guide=f"{H}: JWT Token Issues",
        breaks={
            "AUTH-05": r"the session's token lives 10080 minutes",
            "AUTH-02": r"alg none \(an unsigned token\), answered 200: accepted; expected 401 "
            r"\(sent as Authorization: Token",
        },
        app={"auth": {"style": "nested", "scheme": "Token", "access_minutes": 10080, "algorithms": ["HS256", "none"]}},
        env={
            "session": {
                "login": {
                    "json": {"user": {"email": "${SANDBOX_LOGIN_EMAIL}", "password": "${SANDBOX_LOGIN_PASSWORD}"}}
                },
                "token": {"request": None, "at": "user.token", "scheme": "Token"},
            }
        },
    ),
]
