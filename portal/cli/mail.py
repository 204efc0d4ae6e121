"""Mail from the command line: ``flask --app portal send-mail`` delivers one
batch of due mail (``--loop``: until SIGTERM or Ctrl-C; production runs it as a
process of its own), ``outbox`` lists queued and failed mail (``--all``: sent
mail too). What they print from the database (addresses, subjects, errors) has
its control characters escaped, as portal.cli.admin's commands do.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from portal import mail
from portal.cli.admin import escaped
from portal.domain.models import OutboxMessage
from portal.infra import clock, db


def init_app(app: Flask) -> None:
    """Register the mail commands on app."""
    app.cli.add_command(send_mail_command)
    app.cli.add_command(outbox_command)


def _echo(line: str) -> None:
    """Print one line, its control characters escaped."""
    click.echo(escaped(line))


@click.command("send-mail")
@click.option(
    "--loop",
    is_flag=True,
    help="Keep sending until SIGTERM or Ctrl-C (production's mail process).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="With --loop: seconds between two looks at the outbox.",
)
@with_appcontext
def send_mail_command(loop: bool, interval: float) -> None:
    """Deliver the mail that is due (one batch), and say what happened to it."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = mail.Settings.of(app)
    if not loop:
        batch = mail.send_due(app)
        _echo(str(batch) if batch.claimed else "Nothing to send.")
        return
    _echo(
        f"Sending mail via {settings.where} every {interval:g} s;"
        " SIGTERM or Ctrl-C stops."
    )
    with _stopped_by_signals() as stop:
        mail.run(app, stop, interval, report=_report)
    _echo("Stopped.")


def _report(batch: mail.Batch) -> None:
    """One line for a batch of the loop, with the time."""
    _echo(f"{_when(clock.now())} {batch}")


@contextmanager
def _stopped_by_signals() -> Iterator[threading.Event]:
    """An event that SIGTERM and SIGINT set, instead of killing the loop in the
    middle of a conversation: the mail in hand is sent and recorded, the rest of
    its batch handed back, then the loop ends."""
    stop = threading.Event()

    def handler(_number: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {
        number: signal.signal(number, handler)
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@click.command("outbox")
@click.option("--all", "with_sent", is_flag=True, help="List sent mail too.")
@with_appcontext
def outbox_command(with_sent: bool) -> None:
    """List queued and failed mail, oldest first: to whom, what, its state, its
    attempts and last error (--all: sent mail too)."""
    with Session(db.engine()) as session:
        messages = mail.outbox(session, with_sent=with_sent)
        counts = {"queued": 0, "failed": 0, "sent": 0}
        for message in messages:
            counts[mail.state(message)] += 1
            for line in _described(message):
                _echo(line)
    shown = [f"{counts['queued']} queued", f"{counts['failed']} failed"]
    if with_sent:
        shown.append(f"{counts['sent']} sent")
    _echo(", ".join(shown) + ("." if with_sent else " (--all: sent mail too)."))


def _described(message: OutboxMessage) -> list[str]:
    """message in three or four lines: what, its state, its error."""
    tries = f"{message.attempts} attempt{'' if message.attempts == 1 else 's'}"
    if message.sent_at is not None:
        status = f"sent {_when(message.sent_at)} after {tries}"
    elif message.failed_at is not None:
        status = f"failed for good {_when(message.failed_at)} after {tries}"
    else:
        status = (
            f"queued: next attempt {_when(message.next_attempt_at)}, {tries} so far"
        )
    lines = [
        f"#{message.id} {message.kind} to {message.to_address}: {message.subject}",
        f"    {status}; created {_when(message.created_at)}",
    ]
    if message.last_error:
        lines.append(f"    last error: {message.last_error}")
    return lines


def _when(moment: datetime) -> str:
    """A stored time in UTC, to the second."""
    return clock.as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")
