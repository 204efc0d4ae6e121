"""Alembic's environment: run by portal.infra.migrate on a connection it hands over.

Not for the ``alembic`` command line: there is no alembic.ini, and the engine is
the app's (``flask --app portal db ...``).
"""

from __future__ import annotations

from alembic import context

from portal.domain.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations through `flask --app portal db ...` (offline mode and the"
        " alembic command line are not set up)."
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite can hardly ALTER a table: batch mode copies it to a new one instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
