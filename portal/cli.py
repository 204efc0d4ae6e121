"""Flask CLI commands: ``flask --app portal init-db`` and ``flask --app portal seed``."""

from __future__ import annotations

import click
from flask import Flask

from portal import db
from portal.models import Base


def init_app(app: Flask) -> None:
    """Register the commands on app."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_command)


def create_schema() -> None:
    """Create any missing tables of the current app's database."""
    Base.metadata.create_all(db.engine())


@click.command("init-db")
def init_db_command() -> None:
    """Create the database tables that do not exist yet."""
    create_schema()
    click.echo("Database ready.")


@click.command("seed")
def seed_command() -> None:
    """Create the tables and the demo data (safe to run again)."""
    # seed.py lives at the project root (the product's layout); flask puts the
    # working directory on sys.path, and this import runs only for this command.
    from seed import seed_database

    create_schema()
    with db.writer_session() as session:
        created = seed_database(session)
    click.echo(f"Seeded: {created} new rows." if created else "Already seeded.")
