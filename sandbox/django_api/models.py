"""VeriHome's tables as the H guide names them: users, properties, payments, messages, user_sessions, login_attempts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import Q, UniqueConstraint
from django.db.models.functions import Lower


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    email = models.EmailField(unique=True)
    is_active = models.BooleanField(default=True)
    role = models.CharField(max_length=20, default="tenant")
    failed_login_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = UserManager()

    class Meta:
        db_table = "users"
        # The H guide's fix for duplicate users, and emails that differ only in case.
        constraints = [UniqueConstraint(Lower("email"), name="users_email_lower_uniq")]


class Property(models.Model):
    owner = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="properties")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    city = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="available")
    price_per_month = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "properties"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["city", "status"], name="idx_properties_city_status", condition=Q(status="available")),
        ]


class Payment(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="payments")
    property = models.ForeignKey(Property, on_delete=models.PROTECT, related_name="payments")
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=20, default="pending")
    due_date = models.DateField()
    stripe_payment_intent = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "payments"
        ordering = ["-due_date", "id"]
        indexes = [
            models.Index(fields=["due_date"], name="idx_payments_due_date", condition=Q(status="pending")),
        ]


class Message(models.Model):
    conversation_id = models.UUIDField()
    sender = models.ForeignKey(User, on_delete=models.CASCADE, related_name="messages")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "messages"
        # idx_messages_conversation_created (the guide's name, longer than Django's 30-character limit for
        # Index names) is created by migration 0003 in SQL.


class UserSession(models.Model):
    """One row per login, next to Django's own session store (H: Authentication Issues counts these)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "user_sessions"


class LoginAttempt(models.Model):
    email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    success = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "login_attempts"
        indexes = [models.Index(fields=["email", "created_at"], name="idx_login_attempts_email")]
