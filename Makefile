# The two commands of the README: `make run` (set up and serve locally) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint

# Re-installs only when a requirements file changed.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Portico needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Serves https://localhost:8443 over a self-signed certificate kept in var/dev-tls/ (MSAL.js
# refuses an http authority: docs/decisions.md, "Local HTTPS"), reloading on code changes.
# The SPA is built first when npm is there; without a build, / says how to make one.
RUN_BIND ?= 127.0.0.1:8443
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@if command -v npm >/dev/null 2>&1; then $(MAKE) frontend; \
	else echo "npm not found: serving without the SPA (docs/spa-shell.md)"; fi
	$(BIN)/python manage.py dev_tls
	PORTICO_BIND=$(RUN_BIND) WEB_CONCURRENCY=2 $(BIN)/gunicorn -c config/gunicorn.conf.py \
	  --certfile var/dev-tls/cert.pem --keyfile var/dev-tls/key.pem --reload \
	  config.wsgi:application

# The sample SPA (frontend/dist/, never committed): `npm ci` only when the lock file changed,
# `npm run build` only when a source did. Needs Node.js 20.19+ and npm.
.PHONY: frontend
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) $(wildcard \
  frontend/index.html frontend/package.json frontend/vite.config.ts frontend/tsconfig.json)
frontend: frontend/dist/index.html

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build
	@touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest
