"""Portico's one settings module.

Everything that differs between dev, uat and prod comes from environment variables, read
through ``config.env`` (the README's table lists them). Values are parsed here and validated
by system checks (``apps.core.checks``, ``apps.entra_auth.checks``, ``apps.dev_issuer.checks``),
which ``config/wsgi.py`` runs before serving.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from config import env as envmod

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = envmod.reader()

# A misspelt environment name is treated as prod (the strictest) while core.E001 reports it.
PORTICO_ENV = env.choice("PORTICO_ENV", "dev", envmod.ENVIRONMENTS, invalid="prod")
IS_DEV = PORTICO_ENV == "dev"

SECRET_KEY = env.text("DJANGO_SECRET_KEY") or (
    envmod.dev_secret_key(VAR_DIR / "dev-secret-key") if IS_DEV else ""
)
DEBUG = env.flag("DJANGO_DEBUG", IS_DEV)
ALLOWED_HOSTS = list(
    env.items("DJANGO_ALLOWED_HOSTS", ("localhost", "127.0.0.1") if IS_DEV else ())
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "apps.core",
    "apps.entra_auth",
    "apps.dev_issuer",
    "apps.rbac",
    "apps.projects",
    "apps.api",
]

# Entra principals get exactly what their token's mappings grant; Django's stored permissions
# and passwords serve local break-glass accounts only (apps/rbac/backends.py).
AUTHENTICATION_BACKENDS = [
    "apps.rbac.backends.MappedPermissionsBackend",
    "apps.rbac.backends.LocalAccountsBackend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "entra_auth.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env.text("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portico.sqlite3'}"),
        conn_max_age=600,
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.text("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portico",
            # Short socket timeouts: a Redis outage must degrade requests, not hang them.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Portico ----------------------------------------------------------------------------
# One namespaced dict, read through apps.core.conf.portico_settings(). Keys are named after
# the environment variable that sets them (PORTICO_ prefix dropped), so every check message
# names what the operator has to change.
# GUIDs are compared verbatim with the token's tid and aud, which Entra writes in lower case.
_tenant = env.text("ENTRA_TENANT_ID", envmod.DEV_TENANT_ID if IS_DEV else "").lower()
_api_client_id = env.text("ENTRA_API_CLIENT_ID", envmod.DEV_API_CLIENT_ID if IS_DEV else "").lower()
_dev_issuer = env.flag("PORTICO_DEV_ISSUER", IS_DEV)
PORTICO = {
    "ENV": PORTICO_ENV,
    "DEV_ISSUER": _dev_issuer,
    "ENTRA_TENANT_ID": _tenant,
    "ENTRA_ALLOWED_TENANTS": tuple(t.lower() for t in env.items("ENTRA_ALLOWED_TENANTS")),
    "ENTRA_API_CLIENT_ID": _api_client_id,
    "ENTRA_API_APP_ID_URI": env.text("ENTRA_API_APP_ID_URI", f"api://{_api_client_id}"),
    "ENTRA_AUTHORITY_HOST": env.text(
        "ENTRA_AUTHORITY_HOST",
        envmod.DEV_AUTHORITY_HOST if _dev_issuer else "https://login.microsoftonline.com",
    ).rstrip("/"),
    "ENTRA_ACCEPTED_TOKEN_VERSIONS": env.items("ENTRA_ACCEPTED_TOKEN_VERSIONS", ("1", "2")),
    "ENTRA_ALLOW_INSECURE_AUTHORITY": env.flag("ENTRA_ALLOW_INSECURE_AUTHORITY", IS_DEV),
    "ENTRA_CLOCK_SKEW_SECONDS": env.integer("ENTRA_CLOCK_SKEW_SECONDS", 60),
    "ENTRA_KEYS_REFRESH_MIN_SECONDS": env.integer("ENTRA_KEYS_REFRESH_MIN_SECONDS", 300),
    "ENTRA_SPA_CLIENT_ID": env.text(
        "ENTRA_SPA_CLIENT_ID", envmod.DEV_SPA_CLIENT_ID if IS_DEV else ""
    ),
    "ENTRA_SPA_SCOPES": env.items(
        "ENTRA_SPA_SCOPES", (f"api://{_api_client_id}/access_as_user",) if IS_DEV else ()
    ),
    # An app role value that always grants RBAC administration and admin site access, so a
    # new environment can be administered without a local superuser.
    "RBAC_ADMIN_ROLE": env.text("PORTICO_RBAC_ADMIN_ROLE", "Portico.Admin" if IS_DEV else ""),
    # Groups overage: resolve groups through Microsoft Graph (off by default; docs/rbac-graph.md).
    "RBAC_GRAPH_GROUPS": env.flag("PORTICO_RBAC_GRAPH_GROUPS", False),
    "RBAC_GRAPH_CACHE_SECONDS": env.integer("PORTICO_RBAC_GRAPH_CACHE_SECONDS", 600),
    # The API registration's own credential for app-only tokens (client credentials flow,
    # apps/entra_auth/client_credentials.py): a client secret, or a file holding a federated
    # assertion that is re-read on each acquisition (workload identity; no secret stored).
    # The secret is never logged nor published (its dataclass field has repr=False).
    "ENTRA_CLIENT_SECRET": env.text("ENTRA_CLIENT_SECRET"),
    "ENTRA_CLIENT_ASSERTION_FILE": env.text("ENTRA_CLIENT_ASSERTION_FILE"),
    # Microsoft Graph for this cloud (national clouds have their own host).
    "ENTRA_GRAPH_HOST": env.text("ENTRA_GRAPH_HOST", "https://graph.microsoft.com").rstrip("/"),
}

# --- HTTP, security ---------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = list(env.items("CORS_ALLOWED_ORIGINS"))
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # bearer tokens travel in a header, never as cookies
CORS_PREFLIGHT_MAX_AGE = 3600

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = list(env.items("DJANGO_CSRF_TRUSTED_ORIGINS"))
if not IS_DEV:
    # TLS ends at the ALB, which sets X-Forwarded-Proto; the tasks accept traffic only from it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.flag("DJANGO_SECURE_SSL_REDIRECT", True)
    # ALB target-group health checks arrive over plain HTTP: never redirect them.
    SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/ready$"]
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True
else:
    SECURE_SSL_REDIRECT = env.flag("DJANGO_SECURE_SSL_REDIRECT", False)

REST_FRAMEWORK = {
    # The bearer class must come first: DRF builds WWW-Authenticate from the first class
    # only and turns every 401 into a 403 when it has none (entra-token-spec §8.3).
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.rbac.authentication.MappedEntraAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "apps.core.exception_handler.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not IS_DEV
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ----------------------------------------------------------------------------
# Every handler carries the redaction filter: no token or Authorization value reaches a log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "apps.core.logging.RedactTokensFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_tokens"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env.text("PORTICO_LOG_LEVEL", "INFO")},
    # Django's default config gives these loggers handlers of its own, without the filter
    # (runserver's access log prints query strings, which may carry access_token=): clear
    # them, so that their records reach the root's filtered handler only.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# Problems found while parsing the environment; reported by the check core.E001.
PORTICO_ENV_PROBLEMS = tuple(env.problems)
