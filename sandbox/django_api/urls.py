"""Routes of sandbox/API.md. The webhook's path is a setting (a twin drops its trailing slash)."""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sandbox import verify
from sandbox.django_api import middleware, views

# json_errors: without these, Django's default HTML error pages.
if settings.JSON_ERRORS:
    handler400 = "sandbox.django_api.views.bad_request"
    handler403 = "sandbox.django_api.views.permission_denied"
    handler404 = "sandbox.django_api.views.not_found"
    handler500 = "sandbox.django_api.views.server_error"

verify.webhook_mode(settings.WEBHOOK["verify"])

urlpatterns = [
    path("metrics", middleware.metrics_view, name="metrics"),
    path("api/health", views.health, name="health"),
    path("api/auth/health", views.auth_health, name="auth-health"),
    path("api/auth/login", views.login, name="login"),
    path("api/auth/token", views.token, name="token"),
    path("api/v1/properties", views.properties, name="properties"),
    path("api/v1/properties/<int:property_id>", views.property_detail, name="property-detail"),
    path("api/v1/account", views.account, name="account"),
    path("api/v1/payments", views.payments, name="payments"),
    path(
        settings.WEBHOOK["path"].lstrip("/"),
        csrf_exempt(views.stripe_webhook) if settings.WEBHOOK["csrf_exempt"] else views.stripe_webhook,
        name="stripe-webhook",
    ),
]
