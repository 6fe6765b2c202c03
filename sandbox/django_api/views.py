"""The API's views (sandbox/API.md). Errors are JSON; the webhook is verified by the stripe library."""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.db import DatabaseError, connection
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from sandbox import verify
from sandbox.django_api.models import LoginAttempt, Payment, Property, User, UserSession

log = logging.getLogger("sandbox.django_api")
View = Callable[..., HttpResponse]


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def methods(*allowed: str) -> Callable[[View], View]:
    """Like django.views.decorators.http.require_http_methods, with a JSON 405."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                response = error(405, "method not allowed")
                response["Allow"] = ", ".join(allowed)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


# --- error handlers (urls.handler400 ... handler500, CSRF_FAILURE_VIEW) ----------------------------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(400, "bad request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(403, "forbidden")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(404, "not found")


def server_error(request: HttpRequest) -> JsonResponse:
    return error(500, "internal server error")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error(403, "csrf verification failed")


# --- health ------------------------------------------------------------------------------------


@methods("GET", "HEAD")
def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        log.exception("database health check failed")
        return JsonResponse({"status": "error", "database": "error"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@methods("GET", "HEAD")
def auth_health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# --- properties --------------------------------------------------------------------------------


def _public(request: HttpRequest, prop: Property) -> dict[str, Any]:
    return {
        "id": prop.id,
        "title": prop.title,
        "city": prop.city,
        "price_per_month": prop.price_per_month,
        "currency": "EUR",
        # https://<public host>/... behind nginx: SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST.
        "url": request.build_absolute_uri(reverse("property-detail", args=[prop.id])),
    }


@methods("GET", "HEAD")
def properties(request: HttpRequest) -> JsonResponse:
    if settings.SLOW_QUERY_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [settings.SLOW_QUERY_SECONDS])
    return JsonResponse([_public(request, p) for p in Property.objects.all()], safe=False)


@methods("GET", "HEAD")
def property_detail(request: HttpRequest, property_id: int) -> JsonResponse:
    prop = Property.objects.filter(pk=property_id).first()
    if prop is None:
        return error(404, "not found")
    return JsonResponse(_public(request, prop))


# --- authentication ----------------------------------------------------------------------------


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return None
    found = verify.credentials(body, settings.API_AUTH)
    return None if found is None else (found[0].strip().lower(), found[1])


def _client_ip(request: HttpRequest) -> str | None:
    return request.headers.get("X-Real-IP") or request.META.get("REMOTE_ADDR") or None


def _authenticate(request: HttpRequest, email: str, password: str) -> User | None:
    # Like the Flask app: an unknown address costs no password hash (ModelBackend would hash anyway to
    # hide which addresses exist, which makes every failed login as slow as a real one).
    user = User.objects.filter(email=email).first()
    ok = user is not None and user.is_active and user.check_password(password)
    LoginAttempt.objects.create(email=email, ip_address=_client_ip(request), success=ok)
    if user is None:
        return None
    if not ok:
        User.objects.filter(pk=user.pk).update(failed_login_attempts=F("failed_login_attempts") + 1)
        return None
    if user.failed_login_attempts:
        User.objects.filter(pk=user.pk).update(failed_login_attempts=0)
    return user


def _logging_in(request: HttpRequest) -> User | JsonResponse:
    """The user of a JSON {email, password} body, or the 400/401 answer (Flask: app._check_credentials)."""
    credentials = _credentials(request)
    if credentials is None:
        return error(400, "expected a JSON object with email and password")
    user = _authenticate(request, *credentials)
    if user is None:
        return error(401, "invalid credentials")
    return user


# The SPA logs in with JSON and gets its CSRF cookie from this answer: there is no token to check yet.
@csrf_exempt
@methods("POST")
def login(request: HttpRequest) -> JsonResponse:
    user = _logging_in(request)
    if not isinstance(user, User):
        return user
    auth.login(request, user)  # a new session key, and a new CSRF token
    UserSession.objects.create(
        user=user,
        session_key=request.session.session_key or "",
        ip_address=_client_ip(request),
        expires_at=request.session.get_expiry_date(),
    )
    get_token(request)
    response = JsonResponse(verify.login_answer(user.pk, user.email, settings.API_AUTH, settings.SECRET_KEY))
    remember = settings.REMEMBER_COOKIE
    response.set_cookie(
        remember["name"],
        secrets.token_urlsafe(32),
        max_age=remember["max_age"],
        secure=remember["secure"],
        httponly=remember["httponly"],
        samesite=remember["samesite"],
    )
    return response


@csrf_exempt
@methods("POST")
def token(request: HttpRequest) -> JsonResponse:
    user = _logging_in(request)
    if not isinstance(user, User):
        return user
    return JsonResponse(verify.access_token(user.pk, settings.API_AUTH, settings.SECRET_KEY, user.email))


# Who is calling is request.api_user_id (middleware.ApiAuthMiddleware: the session's user or the JWT's
# sub); which paths need one is settings auth.protected, checked there.


@methods("GET", "HEAD")
def account(request: HttpRequest) -> JsonResponse:
    user_id = getattr(request, "api_user_id", None)
    if user_id is None:
        return error(401, "authentication required")
    email = request.user.email if request.user.is_authenticated else None
    return JsonResponse({"id": user_id, "email": email})


@methods("GET", "HEAD")
def payments(request: HttpRequest) -> JsonResponse:
    rows = Payment.objects.order_by("id")
    if request.user.is_authenticated:
        rows = rows.filter(user=request.user)
    return JsonResponse(
        [
            {
                "id": p.stripe_payment_intent or f"pay_{p.pk}",
                "property_id": p.property_id,
                "amount": p.amount_cents // 100,
                "currency": p.currency,
                "status": p.status,
            }
            for p in rows
        ],
        safe=False,
    )


# --- Stripe ------------------------------------------------------------------------------------


# Exempt from CSRF in urls.py unless the setting webhook.csrf_exempt says otherwise.
@methods("POST")
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    hook = settings.WEBHOOK
    if hook["missing_signature"] == "crash":
        signature = request.META["HTTP_STRIPE_SIGNATURE"]
    else:
        signature = request.headers.get("Stripe-Signature")
    status, body = verify.stripe_event(request.body, signature, hook["secret"], hook["verify"])
    if status == 200:
        log.info("stripe event received: %s at %s", body.pop("type"), timezone.now().isoformat())
    return JsonResponse(body, status=status)
