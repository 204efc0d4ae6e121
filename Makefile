# Portal: `make run` serves the demo, `make test` runs every test (browser included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 5000
# The release step `make serve` runs before the server starts: the migrations
# bring the database to the newest schema (portal/migrations).
SCHEMA_STEP ?= $(VENV)/bin/flask --app portal db upgrade

.PHONY: run migrate serve test test-full coverage lint browser nginx bench screenshots clean

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

# Bring the database's schema to the newest revision (portal/infra/migrations/); the
# step to run before any server starts on a database.
migrate: $(VENV)/.installed instance/config.py
	$(VENV)/bin/flask --app portal db upgrade

# Mail is sent from a thread of the server (PORTAL_MAIL_SEND_IN_PROCESS): without
# PORTAL_MAIL_SERVER it is printed in this terminal, its links to this server's
# address (PORTAL_PUBLIC_URL) included.
run: migrate
	$(VENV)/bin/flask --app portal seed --if-empty
	PORTAL_HTTPS=0 PORTAL_PUBLIC_URL=http://127.0.0.1:$(PORT) PORTAL_MAIL_SEND_IN_PROCESS=1 PORTAL_DEMO_ACCOUNTS=1 $(VENV)/bin/flask --app portal run --host 127.0.0.1 --port $(PORT) --with-threads

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

# Lint, then every test in one pytest session on all CPUs and the serial tests
# after it (scripts/run-tests.sh). Tests with a database run on SQLite and on
# PostgreSQL (skipped loudly when no server answers; CI sets
# PORTAL_REQUIRE_POSTGRES=1 to make that a failure); the rest run once.
test: $(VENV)/.installed-test browser lint nginx
	@# curl runs the README's JSON walkthrough (tests/e2e/test_curl.py).
	command -v curl >/dev/null 2>&1 || apt-get install -y -qq curl >/dev/null
	PY=$(PY) scripts/run-tests.sh

# Debian's nginx (and openssl, for a throwaway certificate) for tests/test_nginx.py,
# which runs deploy/nginx.conf in front of gunicorn; those tests are skipped, and
# say why, where they cannot be installed. /usr/sbin is not on every PATH.
nginx:
	PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null 2>&1 || \
		apt-get install -y -qq nginx >/dev/null 2>&1 || \
		echo "!!! nginx could not be installed: tests/test_nginx.py will be skipped"
	command -v openssl >/dev/null 2>&1 || apt-get install -y -qq openssl >/dev/null 2>&1 || \
		echo "!!! openssl could not be installed: tests/test_nginx.py will be skipped"

# As make test, and the browser tests on PostgreSQL too.
test-full: $(VENV)/.installed-test browser lint nginx
	command -v curl >/dev/null 2>&1 || apt-get install -y -qq curl >/dev/null
	PORTAL_TEST_FULL=1 PY=$(PY) scripts/run-tests.sh

# Branch coverage of portal/ by the whole suite, both backends, in one process
# (coverage.py; servers started as subprocesses are not counted). The report
# lands in test-artifacts/coverage/ and its total on the last line.
coverage: $(VENV)/.installed-test browser nginx
	command -v curl >/dev/null 2>&1 || apt-get install -y -qq curl >/dev/null
	rm -f .coverage
	$(PY) -m coverage run -m pytest -q -p no:xdist
	$(PY) -m coverage html -q -d test-artifacts/coverage
	$(PY) -m coverage report --format=total --precision=2 | sed 's/^/branch coverage of portal\/: /; s/$$/%/'

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
