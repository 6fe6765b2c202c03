"""The site's pages: a public home, the login (django.contrib.auth's LoginView), pages behind it, health."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from sandbox.django_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    *(path(page.strip("/") + "/", views.gated(page), name=page.strip("/")) for page in views.PAGES),
]
