"""gunicorn's access log as one JSON line per request (``config/gunicorn.conf.py``).

gunicorn's own ``access_log_format`` pastes raw values into a template, so a ``"`` in a
user agent breaks the JSON; this logger serialises properly instead. The line never holds
the query string (it may carry ``access_token=``) nor any request header but the user
agent, so no ``Authorization`` value can reach it; the path and user agent go through the
token redaction of ``apps.core.logging`` as well.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from gunicorn.config import AccessLogFormat
from gunicorn.glogging import Logger

from apps.core.logging import redact


def access_line(resp: Any, environ: dict[str, Any], request_time: dt.timedelta) -> str:
    """The JSON access-log line for one response."""
    headers = {name.lower(): value for name, value in getattr(resp, "headers", ())}
    return json.dumps(
        {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "logger": "gunicorn.access",
            "request_id": headers.get("x-request-id"),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": redact(environ.get("PATH_INFO", "")),
            "status": resp.status_code,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": redact(environ.get("HTTP_USER_AGENT", "")),
        },
        ensure_ascii=False,
    )


class JsonAccessLogger(Logger):
    """gunicorn's logger, with :func:`access_line` as the access-log line.

    An explicit ``--access-logformat`` (a diagnostic run, a test) is honoured as given.
    """

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if self.cfg.access_log_format != AccessLogFormat.default:
            super().access(resp, req, environ, request_time)
        elif self.access_log_enabled:
            self.access_log.info(access_line(resp, environ, request_time))
