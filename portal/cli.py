"""Flask CLI commands: ``flask --app portal init-db`` and ``... seed``."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import func, select

from portal import db
from portal.demo import seed_database
from portal.models import User


def init_app(app: Flask) -> None:
    """Register the commands on app."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_command)


@click.command("init-db")
def init_db_command() -> None:
    """Create the database tables that do not exist yet."""
    db.create_schema()
    click.echo("Database ready.")


@click.command("seed")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Only seed a database that has no users yet (make run uses this).",
)
def seed_command(if_empty: bool) -> None:
    """Create the tables and add the demo data that is missing (safe to repeat)."""
    db.create_schema()
    with db.writer_session() as session:
        if if_empty and session.scalar(select(func.count()).select_from(User)):
            click.echo("Database has data: not seeding.")
            return
        created = seed_database(session)
    click.echo(f"Seeded: {created} new rows." if created else "Already seeded.")
