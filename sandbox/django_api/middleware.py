"""Who is calling (the session's user or a Bearer JWT), and the login requirement of settings auth.protected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def bearer_claims(request: HttpRequest) -> dict[str, Any] | None:
    """The claims of `Authorization: Bearer <JWT>`, verified as settings.API_AUTH says (sandbox/API.md)."""
    auth = settings.API_AUTH
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
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
            claims = jwt.decode(token, settings.SECRET_KEY, algorithms=signed, options=options)
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) and claims.get("sub") else None


class ApiAuthMiddleware:
    """Sets request.api_user_id; answers 401 JSON on a protected path without one (after AuthenticationMiddleware).

    Protection by a list of paths, like a login_required decorator that can be forgotten on a new route.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.protected = frozenset(settings.API_AUTH["protected"])

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user_id: Any = request.user.pk if request.user.is_authenticated else None
        if user_id is None:
            claims = bearer_claims(request)
            if claims is not None:
                user_id = claims["sub"]  # not looked up, as in the Flask app
        request.api_user_id = user_id  # type: ignore[attr-defined]
        # CORS preflights carry no credentials; django-cors-headers answers them before this runs.
        if request.path in self.protected and user_id is None and request.method != "OPTIONS":
            return JsonResponse({"error": "authentication required"}, status=401)
        return self.get_response(request)
