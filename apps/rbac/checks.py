"""Start-up checks of the RBAC settings; each message names the variable to fix."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, register

from apps.core.conf import portico_settings, variable_for
from apps.entra_auth.client_credentials import has_client_credential


@register()
def check_graph_credentials(**_: object) -> list[CheckMessage]:
    """rbac.E001: the Graph group lookup needs an app credential."""
    conf = portico_settings()
    if not conf.rbac_graph_groups or has_client_credential(conf):
        return []
    return [
        Error(
            f"{variable_for('RBAC_GRAPH_GROUPS')} is on, but none of ENTRA_CLIENT_SECRET, "
            "ENTRA_CLIENT_ASSERTION_FILE, ENTRA_CLIENT_CERTIFICATE_FILE is set.",
            hint="Set ENTRA_CLIENT_ASSERTION_FILE (a federated assertion, preferred) or "
            f"ENTRA_CLIENT_SECRET for the API registration, or turn "
            f"{variable_for('RBAC_GRAPH_GROUPS')} off. See docs/rbac-graph.md.",
            id="rbac.E001",
        )
    ]


@register()
def check_graph_host(**_: object) -> list[CheckMessage]:
    """rbac.E002: Microsoft Graph is reached over https (http only in dev) at a bare origin."""
    conf = portico_settings()
    host = conf.entra_graph_host
    parts = urlsplit(host)
    schemes = {"https", "http"} if conf.env == "dev" else {"https"}
    if parts.scheme in schemes and parts.netloc and not (parts.path or parts.query):
        return []
    return [
        Error(
            f"ENTRA_GRAPH_HOST must be an https origin, got {host!r}.",
            hint="For example https://graph.microsoft.com (or a national cloud's Graph host), "
            f"without a path; http is accepted with {variable_for('ENV')}=dev only.",
            id="rbac.E002",
        )
    ]
