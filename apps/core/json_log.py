"""The production log format: one JSON object per line (CloudWatch Logs indexes the fields).

Each line has the time, level, logger, message and, inside a request, its ``request_id``;
the request log line adds its ``http`` fields (``apps.core.request_log``). The redaction
filter on every handler cleans the message before this runs; the finished line is passed
through :func:`~apps.core.logging.redact` once more, so no field escapes it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from apps.core.logging import redact
from apps.core.request_log import request_id_var


class JsonFormatter(logging.Formatter):
    """``logging.Formatter`` writing one JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        http = getattr(record, "http", None)
        if http is not None:
            line["http"] = http
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return redact(json.dumps(line, ensure_ascii=False, default=str))
