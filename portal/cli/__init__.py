"""Flask CLI commands: ``flask --app portal db upgrade`` (and the rest of ``db``),
``init-db`` and ``seed`` (``seed --scale`` adds the scale data too); the
administration commands (users and roles) are portal.cli.admin's, the mail
commands (send-mail, outbox) portal.cli.mail's."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from portal.cli import admin
from portal.cli import mail as mail_commands
from portal.domain import demo, password_reset, scale, throttle
from portal.domain.demo import seed_database
from portal.domain.models import User
from portal.infra import clock, db, migrate

db_group = AppGroup("db", help="Schema migrations (Alembic, portal/infra/migrations/).")


def init_app(app: Flask) -> None:
    """Register the commands on app."""
    app.cli.add_command(db_group)
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_command)
    app.cli.add_command(prune_login_failures_command)
    # Issue 19: password reset.
    app.cli.add_command(prune_password_resets_command)
    admin.init_app(app)
    # --- mail (issue 19): send-mail, outbox ---
    mail_commands.init_app(app)


@db_group.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Upgrade the database to REVISION (default: head, the newest)."""
    _upgrade(revision)


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Downgrade the database to REVISION (default: -1, one step; base: empty)."""
    migrate.downgrade(db.engine(), revision)
    _say_where()


@db_group.command("current")
def current_command() -> None:
    """Show the revision the database is at."""
    current = migrate.current_revision(db.engine())
    if current is None:
        click.echo("No revision (empty, or made before migrations): run upgrade.")
    elif current == migrate.head_revision():
        click.echo(f"{current} (head)")
    else:
        click.echo(f"{current} (head is {migrate.head_revision()}: run upgrade)")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option(
    "--autogenerate",
    is_flag=True,
    help="Fill the revision with the difference between the models and the database.",
)
def revision_command(message: str, autogenerate: bool) -> None:
    """Write a new revision file to portal/infra/migrations/versions/ (review it!)."""
    migrate.make_revision(db.engine(), message, autogenerate)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Upgrade the database to the newest schema (same as `db upgrade`)."""
    _upgrade("head")


@click.command("seed")
@with_appcontext
@click.option(
    "--if-empty",
    is_flag=True,
    help="Only seed a database that has no users yet (make run uses this).",
)
@click.option(
    "--scale",
    "with_scale",
    is_flag=True,
    help=(
        "Also add the scale data: 10,000 organizations, 100,000 repositories,"
        f" {scale.USER_WITH_ROLES}, an organization with 1,000 members and"
        f" 10,000 repository roles granted directly, 1,000 to"
        f" {scale.USER_WITH_GRANTS}."
    ),
)
@click.option(
    "--reset-demo",
    is_flag=True,
    help=(
        "Put the demo data back as seeded: the demo accounts' password (their"
        " sessions end), the demo organizations' roles, grants and settings."
    ),
)
def seed_command(if_empty: bool, with_scale: bool, reset_demo: bool) -> None:
    """Upgrade the schema and add the demo data that is missing (safe to repeat)."""
    _upgrade("head")
    if reset_demo:
        with db.writer_session() as session:
            changed = demo.reset_demo(session, clock.now())
        click.echo(
            f"Demo data put back ({changed} changes): every demo account's"
            f" password is {demo.PASSWORD!r} again."
        )
    with db.writer_session() as session:
        if if_empty and session.scalar(select(func.count()).select_from(User)):
            click.echo("Database has data: not seeding.")
            return
        created = seed_database(session)
    click.echo(f"Seeded: {created} new rows." if created else "Already seeded.")
    if with_scale:
        # A transaction of its own: the demo data stays if this one fails.
        with db.writer_session() as session:
            created = scale.seed_scale(session)
        click.echo(
            f"Scale data: {created} new rows." if created else "Scale data: complete."
        )


@click.command("prune-login-failures")
@with_appcontext
def prune_login_failures_command() -> None:
    """Delete the login throttle's expired failures of every email (a login only
    clears its own email's; run this now and then, e.g. daily from cron)."""
    with db.writer_session() as session:
        deleted = throttle.prune(session, clock.now())
    click.echo(f"Deleted {deleted} expired login failures.")


# --- password reset (issue 19) ---------------------------------------------------


@click.command("prune-password-resets")
@with_appcontext
def prune_password_resets_command() -> None:
    """Delete the password reset requests older than a day, of every email and
    client (a request only prunes its own email's and client's; run this now and
    then, e.g. daily from cron)."""
    with db.writer_session() as session:
        deleted = password_reset.prune(session, clock.now())
    click.echo(f"Deleted {deleted} old password reset requests.")


def _upgrade(revision: str) -> None:
    """Upgrade to revision and say where the database is now."""
    try:
        migrate.upgrade(db.engine(), revision)
    except migrate.LegacyDatabaseError as error:
        raise click.ClickException(str(error)) from error
    _say_where()


def _say_where() -> None:
    """Echo the revision the database is at now."""
    current = migrate.current_revision(db.engine())
    click.echo(f"Database at revision {current or 'base (no tables)'}.")
