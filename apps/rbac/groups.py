"""The group ids that group rules are matched against, for one token.

Groups overage (spec §6.3): when the groups did not fit in the token, it carries a pointer
(``_claim_names`` / ``hasgroups``) instead of the list. Portico never fetches the URL inside
the token. By default group rules simply do not apply to such a token (no silent gain, and
the loss is visible in ``/api/me``, a counter and a warning log).
"""

from __future__ import annotations

import logging

from apps.core import metrics
from apps.entra_auth.claims import Claims

logger = logging.getLogger(__name__)


def groups_for_matching(*, claims: Claims) -> frozenset[str]:
    """The token's groups; empty for an overage token."""
    if not claims.groups_overage:
        return claims.groups
    metrics.increment("portico_groups_overage_total")
    logger.warning("Groups overage: group rules do not apply to this token")
    return frozenset()
