"""No tables: one permission-only model, so that a permission can be granted to callers.

``core.view_metrics`` guards ``/api/metrics``. Mapping rules grant Django permissions (rows
of ``auth.Permission``), and a permission needs a content type, hence this model: unmanaged
(no table is created and nothing ever queries it) and with only the ``view`` default
permission. Being a real model, its content type is never "stale" to
``remove_stale_contenttypes``, and its permission is created by ``migrate`` like any other
and appears in the admin's and the RBAC API's permission lists.
"""

from django.db import models


class Metrics(models.Model):
    """The ``/api/metrics`` counters; exists for its permission ``core.view_metrics``."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name_plural = "metrics"

    def __str__(self) -> str:
        return "metrics"
