"""A logging filter that removes anything token-shaped before a record is written.

Defence in depth: no code logs tokens on purpose, but an exception message, a repr of a
request or a third-party library might. JWS and JWE compact tokens, and their header or
payload segments on their own (base64url JSON objects start with ``eyJ``), ``Bearer ...``
values and ``access_token=...`` query values are replaced by ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)*"),
    # 16+ characters: every real credential is longer, and "Bearer token refused" or
    # 'Bearer realm="portico"' must stay readable.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]{16,}=*"),
    re.compile(r"(?i)((?:access|id|refresh)_token=)[^&\s\"']+"),
)


# Each pattern needs one of these (compared in lower case), so text without any is returned
# as it is without running the expressions: most log lines, paths and user agents.
_MARKERS = ("eyj", "bearer", "_token=")


def redact(text: str) -> str:
    """``text`` with every token-shaped substring replaced."""
    lowered = text.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


class RedactTokensFilter(logging.Filter):
    """Rewrites the formatted message (and exception text) of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info:
            # Format the traceback now, redacted, so handlers do not format the raw one.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True
