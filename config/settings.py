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
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served locally (no CDN)
    "apps.core",
    "apps.entra_auth",
    "apps.dev_issuer",
    "apps.rbac",
    "apps.projects",
    "apps.api",
    "apps.signin",
    "frontend_config",  # last: its URL patterns end with the SPA shell's catch-all
]

# Entra principals get exactly what their token's mappings grant; Django's stored permissions
# and passwords serve local break-glass accounts only (apps/rbac/backends.py).
AUTHENTICATION_BACKENDS = [
    "apps.rbac.backends.MappedPermissionsBackend",
    "apps.rbac.backends.LocalAccountsBackend",
]

MIDDLEWARE = [
    # Outermost: times everything, logs one line per request, sets X-Request-ID.
    "apps.core.request_log.RequestLogMiddleware",
    # Before anything validates Host: ALB health checks carry the target's IP as Host.
    "apps.core.health_hosts.HealthCheckHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # CSP with a per-response nonce (request.csp_nonce) and Permissions-Policy on HTML.
    "frontend_config.csp.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The SPA build's files under PORTICO_UI_BASE_PATH (hashed assets immutable).
    "frontend_config.assets.SpaAssetsMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user from the session's Entra token, re-validated and re-mapped per request.
    "apps.signin.middleware.SessionTokenUserMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Give up on a connection attempt after 2 s (libpq's floor) rather than the OS's minutes;
    # /api/ready has its own, shorter deadline (apps/core/db_probe.py).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.text("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache with one client per process, and misses instead of errors
            # while Redis is down (docs/operations.md).
            "BACKEND": "apps.core.cache.DegradingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portico",
            # Short socket timeouts: a Redis outage must degrade requests, not hang them;
            # after one error, calls skip Redis for DOWN_SECONDS, then try it again.
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
                "DOWN_SECONDS": env.integer("PORTICO_CACHE_DOWN_SECONDS", 5),
            },
        }
    }
    # Sessions read from Redis and fall back to the database (always written there), so a
    # Redis outage signs nobody out.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
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
    # ... or a PEM file with the private key and its certificate (the thumbprint is computed).
    "ENTRA_CLIENT_CERTIFICATE_FILE": env.text("ENTRA_CLIENT_CERTIFICATE_FILE"),
    # Server-side "Sign in with Microsoft Entra" (apps/signin, docs/signin.md): the confidential
    # client it signs in with (the dev issuer's web client in dev; otherwise the API
    # registration itself, with the credential above), and whether local passwords still
    # open the admin site (off outside dev: the RBAC mapping decides who is staff).
    "ENTRA_WEB_CLIENT_ID": env.text("ENTRA_WEB_CLIENT_ID").lower(),
    "ADMIN_PASSWORD_LOGIN": env.flag("PORTICO_ADMIN_PASSWORD_LOGIN", IS_DEV),
    # Microsoft Graph for this cloud (national clouds have their own host).
    "ENTRA_GRAPH_HOST": env.text("ENTRA_GRAPH_HOST", "https://graph.microsoft.com").rstrip("/"),
    # The public client Swagger UI signs in with (docs/entra-setup.md); unset: the SPA's.
    "ENTRA_DEVTOOLS_CLIENT_ID": env.text("ENTRA_DEVTOOLS_CLIENT_ID"),
    # The dev issuer's confidential "web" client (config.env.DEV_WEB_CLIENT_ID) authenticates
    # with this secret: generated once into var/ when the dev issuer is on, empty otherwise.
    "DEV_WEB_CLIENT_SECRET": env.text("PORTICO_DEV_WEB_CLIENT_SECRET")
    or (
        envmod.dev_secret_key(VAR_DIR / "dev-issuer" / "web-client-secret")
        if _dev_issuer and IS_DEV
        else ""
    ),
    # Redirect URIs the dev issuer accepts besides the request's own origin (a Vite dev server).
    "DEV_ISSUER_REDIRECT_URIS": env.items("PORTICO_DEV_ISSUER_REDIRECT_URIS"),
    # The SPA (frontend_config): where it is mounted, where its build is, what it is.
    "UI_BASE_PATH": env.text("PORTICO_UI_BASE_PATH", "/"),
    "FRONTEND_DIST": env.text("PORTICO_FRONTEND_DIST", str(BASE_DIR / "frontend" / "dist")),
    "BUILD_VERSION": env.text("PORTICO_BUILD_VERSION", "unknown"),
    "BUILD_COMMIT": env.text("PORTICO_BUILD_COMMIT", "unknown"),
    # Derived from the request's origin and the base path unless set.
    "ENTRA_SPA_REDIRECT_URI": env.text("ENTRA_SPA_REDIRECT_URI"),
    "ENTRA_SPA_POST_LOGOUT_REDIRECT_URI": env.text("ENTRA_SPA_POST_LOGOUT_REDIRECT_URI"),
    # With Redis, each process sends its counter deltas this often (fleet-wide /api/metrics).
    "METRICS_FLUSH_SECONDS": env.integer("PORTICO_METRICS_FLUSH_SECONDS", 5),
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
    # The session-token class serves people in the browsable API (CSRF on unsafe methods);
    # requests with a Bearer header never reach it (apps/signin/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.rbac.authentication.MappedEntraAuthentication",
        "apps.signin.authentication.SessionTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON first: clients that accept anything get JSON; browsers (Accept: text/html) the
    # browsable API.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "apps.signin.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "apps.core.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.api.openapi.schema.PorticoAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# OpenAPI (apps/api/openapi): public documentation, generated per request from the views;
# the parts that depend on PORTICO (authority, client id, scopes) are filled in there.
SPECTACULAR_SETTINGS = {
    "TITLE": "Portico API",
    "DESCRIPTION": (
        "Every `/api` call carries a Microsoft Entra access token "
        "(`Authorization: Bearer ...`). Each operation lists what it needs: token kind, "
        "scopes, app roles and the Django permissions that mapping rules must grant."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False, "displayOperationId": True},
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
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object per line, with the request id (apps/core/json_log.py).
        "json": {"()": "apps.core.json_log.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_tokens"],
            "formatter": env.choice(
                "PORTICO_LOG_FORMAT", "plain" if IS_DEV else "json", ("json", "plain")
            ),
        }
    },
    "root": {"handlers": ["console"], "level": env.text("PORTICO_LOG_LEVEL", "INFO")},
    # Django's default config gives these loggers handlers of its own, without the filter
    # (runserver's access log prints query strings, which may carry access_token=): clear
    # them, so that their records reach the root's filtered handler only.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        # redis-py gives this logger an unfiltered stdout handler of its own unless it exists
        # already (redis.utils._set_info_logger, on a pub/sub client): declare it here.
        "push_response": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# Problems found while parsing the environment; reported by the check core.E001.
PORTICO_ENV_PROBLEMS = tuple(env.problems)
