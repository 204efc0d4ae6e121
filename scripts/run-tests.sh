#!/bin/sh
# The second leg of `make test`: the whole suite again, on PostgreSQL.
#
# Every test database is then a schema of its own on $PORTAL_TEST_POSTGRES_URL
# (default: the local server's `test` database); tests about SQLite itself are
# marked sqlite_only and skipped. When no server answers, the leg is skipped with
# a loud line, unless PORTAL_REQUIRE_POSTGRES=1 (CI sets it): then it fails.
set -eu
PY=${PY:-.venv/bin/python}
URL=${PORTAL_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if ! "$PY" - "$URL" <<'PYTHON'
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
    if [ "${PORTAL_REQUIRE_POSTGRES:-0}" = 1 ]; then
        echo "FAILED: PostgreSQL leg required (PORTAL_REQUIRE_POSTGRES=1) but no server answers at $URL" >&2
        exit 1
    fi
    echo "=================================================================="
    echo "!!! PostgreSQL leg SKIPPED: no server answers at $URL"
    echo "!!! Only the SQLite leg ran. Set PORTAL_TEST_POSTGRES_URL to run it."
    echo "=================================================================="
    exit 0
fi
echo "=== PostgreSQL leg: the whole suite on $URL ==="
PORTAL_TEST_DATABASE=postgresql PORTAL_TEST_POSTGRES_URL=$URL exec "$PY" -m pytest "$@"
