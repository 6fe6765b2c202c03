from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "sandbox.django_site"
    label = "verisite"
    verbose_name = "VeriHome site"
