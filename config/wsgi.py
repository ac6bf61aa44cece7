"""WSGI entry point for gunicorn; refuses to serve with a broken configuration.

Django runs system checks for ``runserver`` and ``migrate`` but not under gunicorn, so they
run here: an error (or a critical) stops the worker with every message printed, each naming
the environment variable to fix.
"""

import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _run_system_checks() -> None:
    from django.core import checks
    from django.core.management import BaseCommand
    from django.core.management.base import SystemCheckError
    from django.core.management.color import no_style

    command = BaseCommand(stdout=sys.stderr, no_color=True)
    command.style = no_style()
    try:
        command.check(include_deployment_checks=False, fail_level=checks.ERROR)
    except SystemCheckError as exc:
        sys.stderr.write(f"Portico refuses to start: {exc}\n")
        raise SystemExit(4) from None


_run_system_checks()
