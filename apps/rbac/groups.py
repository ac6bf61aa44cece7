"""The group ids that group rules are matched against, for one token.

Groups overage (spec §6.3): when the groups did not fit in the token, it carries a pointer
(``_claim_names`` / ``hasgroups``) instead of the list. Portico never fetches the URL inside
the token. By default group rules simply do not apply to such a token (no silent gain, and
the loss is visible in ``/api/me``, a counter and a warning log).

With ``PORTICO_RBAC_GRAPH_GROUPS`` on, the groups of an overage token are looked up in
Microsoft Graph instead (``graph.py``, docs/rbac-graph.md); when that fails, the default
applies, with its own warning and the counter ``portico_graph_groups_failures_total``.
"""

from __future__ import annotations

import logging

from apps.core import metrics
from apps.core.conf import portico_settings
from apps.core.throttle import Throttle
from apps.entra_auth.claims import Claims
from apps.rbac import graph

logger = logging.getLogger(__name__)
# Every request of an overage user would log; the counter has the rate, the log the reminder.
_overage_warning = Throttle(60.0)


def groups_for_matching(*, claims: Claims, simulated: bool = False) -> frozenset[str]:
    """The token's groups; for an overage token, Graph's answer (if enabled) or none.

    ``simulated`` (the simulator) never counts, logs nor asks Graph: group rules do not apply.
    """
    if not claims.groups_overage:
        return claims.groups
    if simulated:
        return frozenset()
    metrics.increment("portico_groups_overage_total")
    if portico_settings().rbac_graph_groups:
        return _groups_from_graph(claims)
    if _overage_warning.ready():
        logger.warning(
            "Groups overage: group rules do not apply to tokens whose groups did not fit "
            "(set PORTICO_RBAC_GRAPH_GROUPS=1 to resolve them through Microsoft Graph)"
        )
    return frozenset()


def _groups_from_graph(claims: Claims) -> frozenset[str]:
    try:
        return graph.graph_groups(claims=claims)
    except Exception as exc:  # GraphError, or a bug: either way a request never fails here
        metrics.increment("portico_graph_groups_failures_total")
        logger.warning(
            "Groups overage: the Microsoft Graph lookup for oid %s failed, group rules do "
            "not apply to this token: %s",
            claims.oid,
            exc,
        )
        return frozenset()
