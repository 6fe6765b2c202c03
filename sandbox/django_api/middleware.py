"""Who is calling (the session's user or a Bearer JWT), and the login requirement of settings auth.protected."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.debug import technical_500_response

from sandbox import metrics, verify


def bearer_claims(request: HttpRequest) -> dict[str, Any] | None:
    """The claims of `Authorization: Bearer <JWT>`, verified as settings.API_AUTH says (sandbox/API.md)."""
    return verify.bearer_claims(request.headers.get("Authorization", ""), settings.API_AUTH, settings.SECRET_KEY)


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


class InternalTracebackMiddleware:
    """The technical 500 page for callers in INTERNAL_IPS, with DEBUG off (setting error_tracebacks).

    The snippet meant "tracebacks for us only"; behind nginx REMOTE_ADDR is the proxy, so it is everyone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.META.get("REMOTE_ADDR") in settings.INTERNAL_IPS:
            return technical_500_response(request, type(exception), exception, exception.__traceback__)
        return None


class MetricsMiddleware:
    """Counts every answer for /metrics (sandbox.metrics), the first middleware: it sees what the others answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.monotonic()
        response = self.get_response(request)
        metrics.observe(request.method or "GET", response.status_code, time.monotonic() - began)
        return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics on gunicorn's own port, for Prometheus: nginx does not proxy it."""
    body, kind = metrics.exposition()
    return HttpResponse(body, content_type=kind)
