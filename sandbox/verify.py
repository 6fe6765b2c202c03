"""What both sandbox APIs verify (and issue) the same way, whatever the framework: Bearer JWTs and Stripe events.

A twin's settings decide how strictly (sandbox/API.md); Flask (sandbox.app) and Django
(sandbox.django_api) only adapt the request and the response.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import stripe

WEBHOOK_MODES = ("signature", "none", "header-presence", "no-tolerance")


def webhook_mode(mode: str) -> str:
    """The webhook.verify setting, checked when the app is built (an unknown mode stops the app)."""
    if mode not in WEBHOOK_MODES:
        raise ValueError(f"unknown webhook verify mode {mode!r}")
    return mode


def access_token(user_id: Any, auth: dict[str, Any], secret: str, email: str = "") -> dict[str, Any]:
    """The JSON body of POST /api/auth/token: an HS256 JWT for the user, valid `auth` access_minutes
    (under `user.token` in the nested style)."""
    now = int(time.time())
    lifetime = int(auth["access_minutes"] * 60)
    access = jwt.encode({"sub": str(user_id), "iat": now, "exp": now + lifetime}, secret, algorithm="HS256")
    if auth["style"] == "nested":
        return {"user": {"email": email, "token": access}}
    return {"access": access, "token_type": "Bearer", "expires_in": lifetime}


def login_answer(user_id: Any, email: str, auth: dict[str, Any], secret: str) -> dict[str, Any]:
    """The JSON body of a successful POST /api/auth/login (the nested style carries the token too)."""
    if auth["style"] == "nested":
        return access_token(user_id, auth, secret, email)
    return {"status": "ok", "user": {"id": user_id, "email": email}}


def credentials(body: Any, auth: dict[str, Any]) -> tuple[str, str] | None:
    """(email, password) of a login body: {email, password}, or {"user": {...}} in the nested style."""
    if auth["style"] == "nested":
        body = body.get("user") if isinstance(body, dict) else None
    if not isinstance(body, dict):
        return None
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    return email, password


def bearer_claims(authorization: str, auth: dict[str, Any], secret: str) -> dict[str, Any] | None:
    """The claims of an `Authorization: <scheme> <JWT>` value, verified as the `auth` settings say."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != auth["scheme"].lower() or not token.strip():
        return None
    token = token.strip()
    try:
        alg = jwt.get_unverified_header(token).get("alg")
        if alg not in auth["algorithms"]:
            return None
        if alg == "none":
            # Only a verifier configured to accept alg "none" gets here: it trusts unsigned tokens.
            claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": auth["verify_exp"]})
        else:
            options = {
                "verify_signature": auth["verify_signature"],
                "verify_exp": auth["verify_exp"],
                "require": ["sub"],
            }
            signed = [a for a in auth["algorithms"] if a != "none"]
            claims = jwt.decode(token, secret, algorithms=signed, options=options)
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) and claims.get("sub") else None


def stripe_event(payload: bytes, signature: str | None, secret: str, mode: str) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for a webhook delivery; `mode` is the twin's webhook.verify setting."""
    webhook_mode(mode)
    try:
        if mode == "signature":
            event = stripe.Webhook.construct_event(payload, signature, secret)
            event_type = event.get("type")
        else:
            if mode == "header-presence" and not signature:
                return 400, {"error": "missing Stripe-Signature header"}
            text = payload.decode("utf-8")
            if mode == "no-tolerance":
                stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=None)
            event_type = json.loads(text).get("type")
    except stripe.SignatureVerificationError:
        return 400, {"error": "invalid signature"}
    except (ValueError, AttributeError):
        return 400, {"error": "invalid payload"}
    return 200, {"received": True, "type": event_type}
