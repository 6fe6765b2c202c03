"""The site's views. Each login-gated page is @login_required, unless a twin lists it in site.unprotected."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

PROPERTIES = [
    {"id": 42, "title": "Sunny two-bedroom flat", "city": "Lisbon", "price_per_month": 1450},
    {"id": 43, "title": "Loft near the river", "city": "Porto", "price_per_month": 1180},
    {"id": 44, "title": "Family house with garden", "city": "Braga", "price_per_month": 1720},
]
# path -> (title, template)
PAGES = {
    "/dashboard/": ("Dashboard", "site/dashboard.html"),
    "/properties/": ("Your properties", "site/properties.html"),
    "/account/": ("Your account", "site/account.html"),
}


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "site/home.html", {"properties": PROPERTIES})


def gated(page: str) -> Callable[[HttpRequest], HttpResponse]:
    title, template = PAGES[page]

    def view(request: HttpRequest) -> HttpResponse:
        return render(request, template, {"title": title, "properties": PROPERTIES})

    view.__name__ = page.strip("/")
    if page in settings.UNPROTECTED_PAGES:
        return never_cache(view)  # the decorator that was forgotten
    return never_cache(login_required(view))


def health(request: HttpRequest) -> JsonResponse:
    """200 with the database reachable, else 503: what the start waits for and APP-01 reads."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "error"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
