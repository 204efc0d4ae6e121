# Portal: `make run` serves the demo, `make test` runs every test (browser included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 5000
# The release step `make serve` runs before the server starts: the migrations
# bring the database to the newest schema (portal/migrations).
SCHEMA_STEP ?= $(VENV)/bin/flask --app portal db upgrade

.PHONY: run migrate serve test lint browser bench screenshots clean

# Runtime dependencies. flask-oso and sqlalchemy-oso go in with --no-deps: their
# stale pins conflict with patched Flask and pytest (see requirements-nodeps.txt).
$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

# A random secret key per checkout; never committed (instance/ is ignored).
instance/config.py:
	mkdir -p instance
	$(PY) -c 'import secrets; print(f"SECRET_KEY = {secrets.token_hex(32)!r}")' > $@

# Bring the database's schema to the newest revision (portal/migrations/); the
# step to run before any server starts on a database.
migrate: $(VENV)/.installed instance/config.py
	$(VENV)/bin/flask --app portal db upgrade

run: migrate
	$(VENV)/bin/flask --app portal seed --if-empty
	PORTAL_HTTPS=0 PORTAL_DEMO_ACCOUNTS=1 $(VENV)/bin/flask --app portal run --host 127.0.0.1 --port $(PORT) --with-threads

# Production: gunicorn with gunicorn.conf.py on HOST:PORT (127.0.0.1:8000).
# SECRET_KEY must come from the environment (or instance/config.py): no key is
# made up here. HTTPS is on unless PORTAL_HTTPS=0. See README, "Production".
serve: $(VENV)/.installed
	$(SCHEMA_STEP)
	$(VENV)/bin/gunicorn --config gunicorn.conf.py

# Chromium for Playwright, and axe-core (pinned, integrity-checked, from npm) for
# the accessibility tests (tests/e2e/test_a11y.py).
browser: $(VENV)/.installed-test
	VENV=$(VENV) scripts/ensure-chromium.sh
	VENV=$(VENV) scripts/ensure-axe.sh

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m bandit --quiet --recursive --severity-level medium portal seed.py bench scripts
	$(PY) -m mypy

# The whole suite on SQLite, then again on PostgreSQL (skipped loudly when no
# server answers; CI sets PORTAL_REQUIRE_POSTGRES=1 to make that a failure).
test: $(VENV)/.installed-test browser lint
	@# curl runs the README's JSON walkthrough (tests/e2e/test_curl.py).
	command -v curl >/dev/null 2>&1 || apt-get install -y -qq curl >/dev/null
	$(PY) -m pytest
	PY=$(PY) scripts/postgres-leg.sh

# wrk loads gunicorn for the HTTP part (Debian's package; skipped, and said so,
# when it cannot be installed).
bench: $(VENV)/.installed-test
	command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk >/dev/null 2>&1 || true
	$(PY) bench/run.py

# The README's pictures, docs/screenshots/*.png: the demo on a throwaway database,
# driven through the login form in headless Chromium (scripts/screenshots.py).
screenshots: $(VENV)/.installed-test browser
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
