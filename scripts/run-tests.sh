#!/bin/sh
# The pytest part of `make test`: one pytest session per part, both backends in
# each (see tests/database.py).
#
# 1. Everything but the serial tests, on $PORTAL_TEST_WORKERS processes
#    (pytest-xdist; default: one per CPU; work-stealing).
# 2. The serial tests (gunicorn servers, races, timing: marked `serial`) alone,
#    so that they neither slow the parallel part nor are slowed by it.
#
# Tests with a database run on SQLite and on the PostgreSQL server at
# $PORTAL_TEST_POSTGRES_URL (default: the local server's `test` database). When
# no server answers, they run on SQLite only, with a loud line, unless
# PORTAL_REQUIRE_POSTGRES=1 (CI sets it): then this fails. Arguments go to both
# pytest runs.
set -eu
PY=${PY:-.venv/bin/python}
URL=${PORTAL_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if "$PY" - "$URL" <<'PYTHON'
import sys

from sqlalchemy import create_engine, text

engine = create_engine(sys.argv[1], connect_args={"connect_timeout": 5})
try:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
except Exception as error:  # any failure to connect means: no server here
    print(f"PostgreSQL does not answer: {error}".splitlines()[0], file=sys.stderr)
    sys.exit(1)
PYTHON
then
    BACKENDS=${PORTAL_TEST_DATABASES:-sqlite postgresql}
else
    if [ "${PORTAL_REQUIRE_POSTGRES:-0}" = 1 ]; then
        echo "FAILED: PostgreSQL required (PORTAL_REQUIRE_POSTGRES=1) but no server answers at $URL" >&2
        exit 1
    fi
    echo "=================================================================="
    echo "!!! PostgreSQL SKIPPED: no server answers at $URL"
    echo "!!! Tests run on SQLite only. Set PORTAL_TEST_POSTGRES_URL to add it."
    echo "=================================================================="
    BACKENDS=sqlite
fi
export PORTAL_TEST_DATABASES="$BACKENDS" PORTAL_TEST_POSTGRES_URL="$URL"
echo "=== Parallel part ($PORTAL_TEST_DATABASES) ==="
# worksteal: a worker that runs out takes tests queued on the other, so a few
# long tests near the end do not leave a CPU idle.
"$PY" -m pytest -n "${PORTAL_TEST_WORKERS:-auto}" --dist worksteal -m "not serial" "$@"
echo "=== Serial part ($PORTAL_TEST_DATABASES) ==="
"$PY" -m pytest -m serial "$@"
