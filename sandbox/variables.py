"""The variables the sandbox provides to an environment file, in one place.

Each name maps to its stand-in for `--collect-only`, which starts nothing: a value of the right
shape, so that the file still validates.
"""

from __future__ import annotations

VARIABLES: dict[str, str] = {
    "SANDBOX_HTTPS_PORT": "1",
    "SANDBOX_HTTP_PORT": "1",
    "SANDBOX_CA_BUNDLE": "/dev/null",
    "SANDBOX_DATABASE_URL": "postgresql://app:not-started@127.0.0.1:1/app",
    "SANDBOX_PG_MAX_CONNECTIONS": "0",
    "SANDBOX_REDIS_URL": "redis://127.0.0.1:1/0",
    "SANDBOX_REDIS_CACHE_URL": "redis://127.0.0.1:1/1",
    "SANDBOX_WEBHOOK_SECRET": "whsec_not_started",
    "SANDBOX_LOGIN_EMAIL": "nobody@preflight.test",
    "SANDBOX_LOGIN_PASSWORD": "not-started",
    "SANDBOX_NGINX_CONF": "/dev/null",
    "SANDBOX_NGINX_BINARY": "nginx",
    # The app's secret key, which signs its JWTs (AUTH-02 signs an expired token with it).
    "SANDBOX_JWT_SECRET": "not-started",
    # Prometheus and Alertmanager (the API's; a site has none).
    "SANDBOX_PROMETHEUS_URL": "http://127.0.0.1:1",
    "SANDBOX_ALERTMANAGER_URL": "http://127.0.0.1:1",
    # The mail domain's DNS server (host:port), which resolves its SPF, DMARC, DKIM, MTA-STS and TLS-RPT records.
    "SANDBOX_DNS_RESOLVER": "127.0.0.1:1",
    # The mail server (Postfix): submission with STARTTLS, implicit TLS, and the application's mail login.
    "SANDBOX_SMTP_PORT": "1",
    "SANDBOX_SMTPS_PORT": "1",
    "SANDBOX_SMTP_USER": "app@preflight.test",
    "SANDBOX_SMTP_PASSWORD": "not-started",
}
