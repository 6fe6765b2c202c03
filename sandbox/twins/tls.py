"""Twins for the TLS checks."""

from __future__ import annotations

from sandbox.twins.model import Twin, V

TWINS = [
    Twin(
        name="tls-cert-expired",
        description="The certificate expired two days ago: the renewal job stopped and nobody noticed.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-03": r"localhost:\d+: CRITICAL: the certificate expired on \S+",
        },
        nginx={"certificate": "expired"},
    ),
    Twin(
        name="tls-cert-expiring",
        description="The certificate expires in three days: renewal is failing.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-03": r"CRITICAL: the certificate expires in [0-6]\.\d days .*under 7 days",
        },
        nginx={"certificate": "expiring"},
    ),
    Twin(
        name="tls-cert-other-name",
        description="nginx presents the certificate of another site (www.other.test), from the same CA.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-03": r"does not match the host name localhost: it names www\.other\.test",
        },
        nginx={"certificate": "other-name"},
    ),
    Twin(
        name="tls-intermediate-expired",
        description="The leaf is fresh, but the chain file nginx presents still carries the intermediate the "
        "CA has since renewed (same subject and key), expired two days ago. Clients whose trust store holds "
        "the renewed intermediate still connect (OpenSSL tries trusted certificates first), so only "
        "clients that build the chain from what the server sends fail.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            # Only the intermediate: the chain still verifies through the CA bundle, and the leaf is fresh.
            "TLS-03": r"^(?!.*not trusted)(?!.*the leaf).*"
            r"localhost:\d+: CRITICAL: the certificate expired on \S+ \S+ UTC \([\d.]+ days ago\): "
            r"the intermediate CN=preflight sandbox intermediate CA, #2 of 2 in the chain the server presents",
        },
        nginx={"certificate": "intermediate-expired"},
    ),
    Twin(
        name="tls-legacy-protocols",
        description="ssl_protocols TLSv1 TLSv1.1 TLSv1.2 with ssl_ciphers DEFAULT:@SECLEVEL=0, copied from "
        "an old compatibility snippet: TLS 1.0 and 1.1 handshakes succeed.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-04": r"localhost:\d+ accepts TLS 1\.0 \(negotiated TLSv1,.*accepts TLS 1\.1",
        },
        nginx={"ssl_protocols": "TLSv1 TLSv1.1 TLSv1.2", "ssl_ciphers": "DEFAULT:@SECLEVEL=0"},
    ),
    Twin(
        name="tls-no-hsts",
        description="The Strict-Transport-Security header was dropped from the security headers.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-02": r"https://localhost:\d+/ \(200\) has no Strict-Transport-Security header",
        },
        nginx={"hsts": None},
    ),
    Twin(
        name="tls-redirect-loop",
        description="location / keeps a force-https rule copied from a server behind a load balancer: "
        "it redirects unless X-Forwarded-Proto is https, which nothing sets here, so https:// "
        "redirects to itself (V: 'redirect loops').",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-01": r"redirect loop: http://localhost:\d+/ -> https://localhost:\d+/ -> https://localhost:\d+/",
        },
        nginx={"force_https_unless_forwarded": True},
    ),
    Twin(
        name="app-ignores-forwarded-proto",
        description="The app does not trust its proxy: no ProxyFix, and gunicorn's forwarded_allow_ips "
        "does not list nginx. It ignores X-Forwarded-Proto and builds http:// URLs behind nginx's TLS "
        "(V: mixed content).",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-05": r"links to http://localhost/api/v1/properties/42 \(at \[0\]\.url\); expected https://",
        },
        app={"trust_proxy": False},
    ),
    Twin(
        name="nginx-no-forwarded-proto",
        description="nginx proxies to the app without `proxy_set_header X-Forwarded-Proto $scheme`: the "
        "app, trusting its proxy, still sees http and builds http:// URLs.",
        guide=f"{V}: SSL/HTTPS Issues",
        breaks={
            "TLS-05": r"links to http://localhost:\d+/api/v1/properties/\d+ \(at \[\d\]\.url\); expected https://",
        },
        nginx={"forwarded_proto": False},
    ),
]
