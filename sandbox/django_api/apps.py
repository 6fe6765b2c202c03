from __future__ import annotations

from django.apps import AppConfig


class VeriHomeConfig(AppConfig):
    name = "sandbox.django_api"
    label = "verihome"
    verbose_name = "VeriHome"
    default_auto_field = "django.db.models.BigAutoField"
