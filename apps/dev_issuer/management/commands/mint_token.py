"""``python manage.py mint_token``: print an access token from the dev issuer."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.conf import portico_settings
from apps.dev_issuer.minting import mint_token
from apps.dev_issuer.personas import PERSONAS


def _items(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


class Command(BaseCommand):
    help = "Print an access token signed by the dev-only issuer (dev only)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> ArgumentParser:
        # The interface is --version 1|2 (the token version); let it replace
        # Django's own --version flag instead of clashing with it.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--user",
            default="admin",
            help=f"persona ({', '.join(PERSONAS)}) or any name; default admin",
        )
        parser.add_argument(
            "--roles",
            type=_items,
            default=None,
            help="app roles, comma-separated (default: the persona's)",
        )
        parser.add_argument(
            "--scopes",
            type=_items,
            default=["access_as_user"],
            help="delegated scopes, comma-separated",
        )
        parser.add_argument("--groups", type=_items, default=[], help="group object ids")
        parser.add_argument(
            "--app",
            action="store_true",
            help="an app-only (client credentials) token; --user names the app",
        )
        parser.add_argument("--version", choices=["1", "2"], default="2", dest="token_version")
        parser.add_argument("--expires-in", type=int, default=3600, help="seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = portico_settings()
        # call_command() skips the system checks, so dev_issuer.C001 cannot be relied on here.
        if not conf.dev_issuer or conf.env != "dev":
            raise CommandError(
                "The dev issuer is off (PORTICO_DEV_ISSUER=0 or not PORTICO_ENV=dev)."
            )
        if not 0 < options["expires_in"] <= 30 * 3600:
            raise CommandError("--expires-in must be 1 to 108000 seconds.")
        token = mint_token(
            user=options["user"],
            roles=options["roles"],
            scopes=options["scopes"],
            groups=options["groups"],
            app=options["app"],
            version=f"{options['token_version']}.0",
            expires_in=options["expires_in"],
        )
        self.stdout.write(token)
