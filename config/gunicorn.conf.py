"""gunicorn settings: ``gunicorn -c config/gunicorn.conf.py config.wsgi:application``."""

import multiprocessing
import os

bind = os.environ.get("PORTICO_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))

# A v2 access token with 200 group ids is about 12.1 KB; gunicorn's default 8190-byte field
# limit would answer 431 before Django runs (entra-token-spec §6.3). The ALB caps one header
# at 16 KB, Portico caps tokens at 16 384 characters: 20 KB leaves room for "Bearer ".
limit_request_field_size = 20_480
limit_request_fields = 100
limit_request_line = 8190

# Repeated or underscore header names are never mapped onto identity headers.
header_map = "drop"

# The ALB's idle timeout is 60 s: keep connections open longer so it never reuses a dead one.
# (Applies to threaded/async workers; the default sync worker closes after each response.)
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# GUNICORN_ACCESSLOG= (empty) turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
# No query string (it may carry access_token=) and no Authorization header in access logs.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
