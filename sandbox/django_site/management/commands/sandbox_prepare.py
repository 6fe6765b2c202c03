"""The site's release step: the API's (migrate, then the smoke user), with django.contrib.auth's user, whose
username is its e-mail address."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from sandbox.django_api.management.commands import sandbox_prepare


class Command(sandbox_prepare.Command):
    def smoke_user(self, email: str, password: str) -> None:
        user, _ = get_user_model().objects.get_or_create(username=email, defaults={"email": email})
        user.set_password(password)
        user.save()
