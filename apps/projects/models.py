"""A deliberately small domain model for the sample API and the SPA."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Project(models.Model):
    """Guarded by Django's model permissions (view/add/change/delete_project)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
