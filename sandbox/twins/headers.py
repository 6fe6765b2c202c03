"""Twins for the HDR checks."""

from __future__ import annotations

from sandbox.parts import CSP
from sandbox.twins.model import H, Twin

TWINS = [
    Twin(
        name="hdr-no-nosniff",
        description="X-Content-Type-Options: nosniff was dropped from the security headers.",
        guide=f"{H}: Security Issues",
        breaks={
            "HDR-01": r"https://localhost:\d+/ \(200\) has no X-Content-Type-Options header \(expected nosniff\)",
        },
        nginx={"nosniff": False},
    ),
    Twin(
        name="hdr-framing-open",
        description="No X-Frame-Options, and a CSP without frame-ancestors: any site can frame the app (clickjacking).",
        guide=f"{H}: Security Issues",
        breaks={
            "HDR-02": r"has neither X-Frame-Options nor a CSP frame-ancestors directive",
        },
        nginx={"frame_options": None, "csp": CSP.replace("; frame-ancestors 'none'", "")},
    ),
    Twin(
        name="hdr-csp-unsafe",
        description="The CSP was loosened for a legacy widget: script-src 'self' 'unsafe-inline' 'unsafe-eval'.",
        guide=f"{H}: Security Issues",
        breaks={
            "HDR-03": r"CSP script-src allows 'unsafe-eval'.*CSP script-src allows 'unsafe-inline' without a nonce",
        },
        nginx={"csp": CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline' 'unsafe-eval'")},
    ),
    Twin(
        name="hdr-referrer-unsafe-url",
        description="Referrer-Policy: unsafe-url sends full URLs (with ids and tokens) to every other site.",
        guide=f"{H}: Security Issues",
        breaks={
            "HDR-04": r"Referrer-Policy is 'unsafe-url'; expected one of",
        },
        nginx={"referrer_policy": "unsafe-url"},
    ),
    Twin(
        name="hdr-server-tokens",
        description="server_tokens is on (nginx's default): the Server header and error pages say nginx/1.x.y.",
        guide=f"{H}: Security Issues",
        breaks={
            "HDR-05": r"the Server header names a version \('nginx/[\d.]+'\).*error page names a version",
            "NGX-04": r"server_tokens is on \(\S+\); expected off",
        },
        nginx={"server_tokens": True},
    ),
]
