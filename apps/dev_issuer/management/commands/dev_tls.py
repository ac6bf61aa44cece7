"""``python manage.py dev_tls``: make sure var/dev-tls/ holds a localhost certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.dev_issuer.tls import ensure_certificate


class Command(BaseCommand):
    help = "Create (or renew) the self-signed certificate `make run` serves https://localhost with."

    def handle(self, *args: Any, **options: Any) -> None:
        cert, key = ensure_certificate(Path(settings.VAR_DIR) / "dev-tls")
        self.stdout.write(f"certificate: {cert}\nkey: {key}")
