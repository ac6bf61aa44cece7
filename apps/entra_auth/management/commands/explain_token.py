"""``manage.py explain_token``: why Portico accepts or refuses an access token, step by step.

The token is read from standard input, never from the command line, where it would land in
shell history and in every process listing. Nothing is logged; the output shows a few claims
and the verdict of each validation step, never the token.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.entra_auth.explain import explain_token, render_text
from apps.entra_auth.validation import MAX_TOKEN_LENGTH


class Command(BaseCommand):
    help = (
        "Explain why a token is accepted or refused. Reads the token from standard input: "
        "pbpaste | manage.py explain_token, or type it and press Ctrl-D."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fail-on-invalid",
            action="store_true",
            help="Exit with status 1 when the token is refused (for scripts).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Read a little past the limit, so that an oversize token is explained, not cut.
        token = sys.stdin.read(MAX_TOKEN_LENGTH * 4).strip()
        if not token:
            raise CommandError("No token on standard input.")
        explanation = explain_token(token)
        self.stdout.write(render_text(explanation), ending="")
        if options["fail_on_invalid"] and not explanation.valid:
            raise CommandError(f"refused: {explanation.reason}", returncode=1)
