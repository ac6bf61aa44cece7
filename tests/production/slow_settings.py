"""Portico's settings plus a test-only slow endpoint (tests/production/test_gunicorn.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.production.slow_urls"
