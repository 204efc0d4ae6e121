"""Seed the database with the demo data: ``python seed.py``.

The same as ``flask --app portal seed``; the data itself is in portal/domain/demo.py.
"""

from __future__ import annotations

from portal import create_app
from portal.domain.demo import seed_database
from portal.infra import db, migrate


def main() -> None:
    """Upgrade the schema and add the demo data that is missing."""
    with create_app().app_context():
        migrate.upgrade(db.engine())
        with db.writer_session() as session:
            print(f"Seeded {seed_database(session)} new rows.")


if __name__ == "__main__":
    main()
