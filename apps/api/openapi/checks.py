"""Start-up check of the one setting the API docs add; the message names the variable."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, register

from apps.core.conf import portico_settings
from apps.entra_auth.validation import GUID


@register()
def check_devtools_client(**_: object) -> list[CheckMessage]:
    """api.E001: the developer-tools client id Swagger UI signs in with, when one is set."""
    value = portico_settings().entra_devtools_client_id
    if not value or GUID.fullmatch(value.lower()):
        return []
    return [
        Error(
            f"ENTRA_DEVTOOLS_CLIENT_ID must be a GUID, got {value!r}.",
            hint="Set it to the developer-tools app registration's Application (client) ID "
            "(docs/entra-setup.md), or leave it unset to sign in as the SPA.",
            id="api.E001",
        )
    ]
