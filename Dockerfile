# syntax=docker/dockerfile:1
# Portico's one image, promoted unchanged through dev -> uat -> prod (docs/deploy-aws.md).
#
#   docker build \
#     --build-arg PORTICO_BUILD_VERSION=1.4.0 \
#     --build-arg PORTICO_BUILD_COMMIT="$(git rev-parse HEAD)" -t portico:1.4.0 .
#
# Migrations are not run here nor at start: they are their own one-off task
# (python manage.py migrate --noinput; deploy/ecs/migrate-<env>.json).
# CI has no Docker engine: it lints this file (tests/deploy/test_dockerfile.py) and runs the
# same steps natively (scripts/build_native.py). Change both together.
# Base images are pinned to a full version; pin them by digest in your registry's mirror.

# --- 1. the single-page app: node only here, never in the runtime image ------------------
FROM node:20.20.2-bookworm-slim AS spa
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- 2. Python dependencies: binary wheels only, so no compiler is needed anywhere --------
FROM python:3.11.14-slim-bookworm AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt

# --- 3. the runtime: slim Python, the venv, the code, static files; runs as non-root -----
FROM python:3.11.14-slim-bookworm AS runtime
ARG PORTICO_BUILD_VERSION=unknown
ARG PORTICO_BUILD_COMMIT=unknown
LABEL org.opencontainers.image.title="portico" \
      org.opencontainers.image.description="Django API and SPA behind Microsoft Entra ID" \
      org.opencontainers.image.version="${PORTICO_BUILD_VERSION}" \
      org.opencontainers.image.revision="${PORTICO_BUILD_COMMIT}"
# PORTICO_BUILD_* are read by Portico (PORTICO["BUILD_VERSION"], ["BUILD_COMMIT"]).
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORTICO_BUILD_VERSION="${PORTICO_BUILD_VERSION}" \
    PORTICO_BUILD_COMMIT="${PORTICO_BUILD_COMMIT}"
RUN groupadd --system --gid 10001 portico \
 && useradd --system --uid 10001 --gid portico --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin portico
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
# Code and static files stay owned by root: the app user can read them, never change them.
COPY . /app
COPY --from=spa /src/frontend/dist /app/frontend/dist
# The whitenoise manifest (hashed, compressed files) is built once, here. PORTICO_ENV=prod
# selects the manifest storage; collectstatic needs no secret and no database.
RUN PORTICO_ENV=prod python manage.py collectstatic --noinput -v 0 \
 && install -d -o portico -g portico /app/var
# The only writable place when the root file system is read-only (deploy/ecs/: gunicorn's
# worker heartbeat files, Python's tempfile); a volume keeps the image's 1777 mode.
VOLUME ["/tmp"]
USER 10001:10001
EXPOSE 8000
# No curl in the slim image: Python's urllib fails (exit 1) on anything but a 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
