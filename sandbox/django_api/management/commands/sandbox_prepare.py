"""The release step: apply the migrations, then create (or reset) the smoke user the suite logs in with.

The smoke user's email and password come from the environment, not argv (ps would show them).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

EMAIL_ENV = "SANDBOX_SMOKE_EMAIL"
PASSWORD_ENV = "SANDBOX_SMOKE_PASSWORD"


class Command(BaseCommand):
    help = f"migrate, then the smoke user from ${EMAIL_ENV} and ${PASSWORD_ENV}"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--done", type=Path, help="create this file when everything succeeded")
        parser.add_argument("--target", nargs=2, metavar=("APP", "MIGRATION"), help="then migrate back to this one")

    def handle(self, *args: Any, **options: Any) -> None:
        email, password = os.environ.get(EMAIL_ENV), os.environ.get(PASSWORD_ENV)
        if not email or not password:
            raise CommandError(f"{EMAIL_ENV} and {PASSWORD_ENV} must be set")
        call_command("migrate", interactive=False, verbosity=1)
        if options["target"]:
            call_command("migrate", *options["target"], interactive=False, verbosity=1)
        self.smoke_user(email.lower(), password)
        self.stdout.write(f"smoke user {email.lower()} ready")
        if options["done"]:
            options["done"].touch()

    def smoke_user(self, email: str, password: str) -> None:
        """The API's user (its e-mail is its name) and the rent it paid."""
        from sandbox.django_api.models import Payment, User

        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, password)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        # The smoke user's rent, as in the Flask app's fixed list.
        for intent, property_id, amount in (("pay_1001", 42, 1450), ("pay_1002", 43, 1180)):
            Payment.objects.update_or_create(
                stripe_payment_intent=intent,
                defaults={
                    "user": user,
                    "property_id": property_id,
                    "amount_cents": amount * 100,
                    "status": "succeeded",
                    "due_date": date(2026, 11, 1),
                },
            )
