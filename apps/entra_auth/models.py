"""Portico's user model: people and applications, both identified by Entra ``(tid, oid)``."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """A principal Django can attach permissions to.

    Entra principals are keyed on ``(entra_tenant_id, entra_object_id)``, never on upn or
    email, which change and can be reused (entra-token-spec §6.1). App-only callers (daemons
    using client credentials) are rows of kind ``application`` keyed on their service
    principal's object id: they can hold permissions like anyone, but they never get a
    password, staff status or a human name. Local rows (``kind=person`` without an Entra
    identity) are for emergency ``createsuperuser`` access only.
    """

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        APPLICATION = "application", "Application (app-only tokens)"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PERSON)
    entra_tenant_id = models.CharField("Entra tenant id", max_length=36, blank=True, default="")
    entra_object_id = models.CharField("Entra object id", max_length=36, blank=True, default="")
    entra_client_id = models.CharField(
        "Entra client id",
        max_length=36,
        blank=True,
        default="",
        help_text="For applications: the app registration (azp / appid) that called.",
    )
    display_name = models.CharField(max_length=256, blank=True, default="")
    preferred_username = models.CharField(max_length=256, blank=True, default="")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                fields=["entra_tenant_id", "entra_object_id"],
                condition=~Q(entra_object_id=""),
                name="unique_entra_identity",
            )
        ]

    def __str__(self) -> str:
        return self.preferred_username or self.display_name or self.username
