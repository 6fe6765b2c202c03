"""Twins for the HOOK checks."""

from __future__ import annotations

from sandbox.twins.model import H, Twin, V

TWINS = [
    Twin(
        name="hook-unverified",
        description="The Stripe webhook view parses the JSON and answers 200 without verifying any signature.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-02": r"answered 200: the endpoint accepted an unsigned event",
            "HOOK-03": r"accepted a forged event",
            "HOOK-04": r"accepted a replayed event signed 301 s ago",
        },
        app={"webhook": {"verify": "none"}},
    ),
    Twin(
        name="hook-header-presence-only",
        description="The webhook view only checks that a Stripe-Signature header is present.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-03": r"accepted a forged event",
            "HOOK-04": r"accepted a replayed event signed 301 s ago",
        },
        app={"webhook": {"verify": "header-presence"}},
    ),
    Twin(
        name="hook-no-tolerance",
        description="The webhook view checks the HMAC but not the timestamp (tolerance=None): "
        "a captured event can be replayed forever.",
        guide=f"{H}: Webhook Issues",
        breaks={
            "HOOK-04": r"accepted a replayed event signed 301 s ago",
        },
        app={"webhook": {"verify": "no-tolerance"}},
    ),
    Twin(
        name="hook-secret-mismatch",
        description="The app verifies with a different whsec_ secret than the endpoint's: "
        "genuine Stripe events get 400 (webhook secret mismatch).",
        guide=f"{V}: Stripe Webhook Errors",
        breaks={
            "HOOK-05": r"rejected a genuine 'ping' event .*answered 400.*secret mismatch",
        },
        app={"webhook": {"secret": "stale"}},
    ),
    Twin(
        name="hook-path-mismatch",
        description="The app registers /webhooks/stripe without the trailing slash the Stripe "
        "endpoint uses: every delivery answers 404.",
        guide=f"{V}: Stripe Webhook Errors",
        breaks={
            "HOOK-01": r"answered 404: no route for the webhook URL",
            "HOOK-05": r"answered 404",
        },
        app={"webhook": {"path": "/webhooks/stripe"}},
    ),
    Twin(
        name="hook-plain-http",
        description="The Stripe endpoint is registered with an http:// URL.",
        guide=f"{H}: Payment Gateway Failures",
        breaks={
            "HOOK-06": r"webhooks\.stripe\.url is http://.*must use https://",
            "HOOK-01": r"redirect to https://",
        },
        env={"webhooks": {"stripe": {"url": "http://localhost:${SANDBOX_HTTP_PORT}/webhooks/stripe/"}}},
    ),
]
