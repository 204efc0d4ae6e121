"""Administration from the command line: ``flask --app portal create-user``,
``assign-role``, ``remove-role``, ``list-roles``, ``list-orgs``, ``create-org``,
``delete-org``, ``set-base-role`` and ``set-password``.

The same rules as the web, from the same code: emails and passwords are checked
with the web forms' own fields (portal.forms), roles change through portal.domain.roles
with the command line as the actor (``actor=None``, audited as "command line"),
in a writer transaction that locks the organization first, as a request does.

Refusals print one line, ``Error: ...``, on stderr and change nothing. Exit
status 1: the operation was refused (unknown user or organization, an ORG that is
both an id and a name, the last owner, ...). Status 2: an argument is unusable (a
bad email or role name, --id with something that is not an id), as for Click's
own usage errors.

ORG is read by portal.domain.organizations: an id, or an exact name, refused when
it is both; ``--id`` or ``--name`` says which. What the commands print from the
database (names, emails) has its control characters escaped (``\\n``,
``\\x1b``): a name can neither forge an output line nor drive the terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

import click
import wtforms
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from portal.authz import words
from portal.domain import (
    expired,
    expiry,
    invitations,
    member_search,
    org_admin,
    organizations,
    password_reset,
    roles,
)
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    Organization,
    User,
    normalize_email,
)
from portal.forms import PasswordForm, RoleForm
from portal.infra import clock, db
from portal.infra.passwords import hash_password
from portal.web.invitation_links import invitation_link


def init_app(app: Flask) -> None:
    """Register the administration commands on app."""
    for command in (
        create_user_command,
        assign_role_command,
        remove_role_command,
        list_roles_command,
        list_orgs_command,
        create_org_command,
        delete_org_command,
        set_base_role_command,
        # Issue 19: password reset.
        set_password_command,
        sweep_expired_command,  # time-limited roles (issue 19)
        invite_command,
    ):
        app.cli.add_command(command)


# What a terminal or a program reading lines acts on: C0 (ESC starts ANSI
# sequences), DEL, C1, and the line and paragraph separators that
# str.splitlines breaks at.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """text with each control character written as its escape (\\n, \\x1b,
    \\u2028), as Python's repr writes it: shown, never acted on."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    """The escape of the one control character match found."""
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _echo(line: str) -> None:
    """Print one line of a result on stdout, its control characters escaped."""
    click.echo(escaped(line))


class _OneLineError(click.ClickException):
    """An ``Error: ...`` line on stderr, its control characters escaped (the
    messages quote names and emails from the database)."""

    def __init__(self, message: str) -> None:
        super().__init__(escaped(message))


class Refused(_OneLineError):
    """The operation was refused; nothing changed (exit status 1)."""


class BadArgument(_OneLineError):
    """An argument the command cannot use, said in one line (exit status 2, as
    Click's usage errors, without their usage text)."""

    exit_code = 2


# --- the web's checks, without a request ---------------------------------------

# What a browser accepts in the web forms' <input type="email"> (the HTML
# standard's "valid email address"), which the web relies on for the forms' email.
_VALID_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)


class EmailForm(wtforms.Form):
    """An email as the role form takes it: RoleForm's own field and validators
    (required, at most 254 characters, no control characters)."""

    email = RoleForm.user_email


class NewEmailForm(EmailForm):
    """The email of a new account: EmailForm's rules, and an address a browser
    would accept in the web's email fields."""

    def validate_email(self, field: wtforms.Field) -> None:
        """Refuse what is not an email address (the web's email fields refuse
        it in the browser)."""
        if not _VALID_EMAIL.fullmatch(field.data.strip()):
            raise wtforms.ValidationError(
                "That is not an email address (name@example.com)."
            )


class NewPasswordForm(wtforms.Form):
    """A new password as the password page takes it: PasswordForm's own fields
    (12 to 128 characters, no control characters, typed twice the same)."""

    new_password = PasswordForm.new_password
    confirm = PasswordForm.confirm


def _first_error(form: wtforms.Form) -> str | None:
    """The first message of the first field that failed, if any."""
    if form.validate():
        return None
    messages = [str(message) for errors in form.errors.values() for message in errors]
    return messages[0]


def _checked_email(email: str, form_class: type[EmailForm] = EmailForm) -> str:
    """email as the web stores it, if the form accepts it; else BadArgument."""
    error = _first_error(form_class(MultiDict({"email": email})))
    if error is not None:
        raise BadArgument(f"Invalid EMAIL: {error}")
    return normalize_email(email)


_Command = TypeVar("_Command", bound=Callable[..., object])


def _org_flags(command: _Command) -> _Command:
    """Add --id and --name, which say how to read the command's ORG."""
    by_name = click.option(
        "--name",
        "org_by_name",
        is_flag=True,
        help="ORG is an exact name, even if it is written like an id.",
    )
    by_id = click.option(
        "--id",
        "org_by_id",
        is_flag=True,
        help="ORG is an id (digits without leading zeros), never a name.",
    )
    return by_id(by_name(command))


def _reading(org_by_id: bool, org_by_name: bool) -> organizations.By:
    """How ORG is read, from the --id and --name flags; BadArgument if both."""
    if org_by_id and org_by_name:
        raise BadArgument("Give --id or --name, not both.")
    if org_by_id:
        return "id"
    return "name" if org_by_name else "either"


def _role_name(_ctx: click.Context, _param: click.Parameter, name: str) -> str:
    """ROLE, if it names a role; else BadArgument with the roles' names."""
    if name not in ROLE_NAMES:
        raise BadArgument(str(roles.UnknownRoleName(name)))
    return name


# --- create-user ---------------------------------------------------------------


@click.command("create-user")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of"
    " asking for it twice.",
)
@with_appcontext
def create_user_command(email: str, password_stdin: bool) -> None:
    """Create an account that logs in with EMAIL and a password.

    The password is asked for twice, hidden, unless --password-stdin is given.
    The account has no role anywhere yet: see assign-role.
    """
    email = _checked_email(email, NewEmailForm)
    password, confirm = _read_password(password_stdin)
    error = _first_error(
        NewPasswordForm(MultiDict({"new_password": password, "confirm": confirm}))
    )
    if error is not None:
        raise Refused(f"Password not accepted: {error}")
    password_hash = hash_password(password)  # slow: before the write lock
    with _refusals(), db.writer_session() as session:
        user = _add_user(session, email, password_hash)
        user_id = user.id
    _echo(f"Created user {email} (id {user_id}).")


def _read_password(from_stdin: bool) -> tuple[str, str]:
    """The password and its confirmation: the first line of stdin (its own
    confirmation), or typed twice at hidden prompts (on stderr, so that stdout
    carries only the result)."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise Refused("No password on standard input: its first line must hold it.")
        return password, password
    password = click.prompt("Password", hide_input=True, err=True)
    confirm = click.prompt("Repeat the password", hide_input=True, err=True)
    return password, confirm


def _add_user(session: Session, email: str, password_hash: str) -> User:
    """Add the account; Refused if the email is taken (also by a concurrent add,
    which the unique constraint catches)."""
    taken = Refused(f"There is already a user with the email {email!r}.")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise taken
    user = User(email=email, password_hash=password_hash)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        raise taken from error
    return user


# --- roles ---------------------------------------------------------------------


def _expiry(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> roles.Expires:
    """--expires as the domain takes it: KEEP when not given, None for
    "never", else the UTC moment; BadArgument if it is none or has passed."""
    if value is None:
        return roles.KEEP
    if value.strip().lower() == "never":
        return None
    try:
        moment = expiry.parse_expiry(value)
        expiry.check_future(moment)
    except expiry.ExpiryError as error:
        raise BadArgument(f"--expires: {error}") from error
    return moment


@click.command("assign-role")
@click.argument("email")
@click.argument("org")
@click.argument("role", callback=_role_name)
@click.option(
    "--expires",
    callback=_expiry,
    metavar="WHEN",
    help=(
        "When the role ends, in UTC: YYYY-MM-DD (00:00 that day) or"
        " 'YYYY-MM-DD HH:MM'; 'never' for a role that does not expire. Not"
        " given: a new role never expires, a changed one keeps its expiry."
    ),
)
@_org_flags
@with_appcontext
def assign_role_command(
    email: str,
    org: str,
    role: str,
    expires: roles.Expires,
    org_by_id: bool,
    org_by_name: bool,
) -> None:
    """Give EMAIL the ROLE (OWNER, MEMBER or BILLING) in ORG, or change the role
    they have there to ROLE. ORG is an id or an exact name (see --id, --name)."""
    email = _checked_email(email)
    by = _reading(org_by_id, org_by_name)
    with _refusals(), db.writer_session() as session:
        organization = _locked_organization(session, org, by)
        user = roles.find_user(session, email)
        change = roles.assign_role(
            session, organization, user, role, actor=None, expires=expires
        )
        where = _name_of(organization)
    _echo(f"{where}: {change}")


@click.command("remove-role")
@click.argument("email")
@click.argument("org")
@_org_flags
@with_appcontext
def remove_role_command(
    email: str, org: str, org_by_id: bool, org_by_name: bool
) -> None:
    """Take away the role EMAIL holds in ORG (an id or an exact name: see --id,
    --name)."""
    email = _checked_email(email)
    by = _reading(org_by_id, org_by_name)
    with _refusals(), db.writer_session() as session:
        organization = _locked_organization(session, org, by)
        user = roles.find_user(session, email)
        change = roles.delete_user_role(session, organization, user, actor=None)
        where = _name_of(organization)
    _echo(f"{where}: {change}")


@click.command("list-roles")
@click.argument("org")
@_org_flags
@with_appcontext
def list_roles_command(org: str, org_by_id: bool, org_by_name: bool) -> None:
    """List the members of ORG (an id or an exact name: see --id, --name) and
    their roles, by email as on the roles page."""
    by = _reading(org_by_id, org_by_name)
    with _refusals(), Session(db.engine()) as session:
        organization = organizations.find_organization(session, org, by)
        members = session.scalars(member_search.members_matching(organization.id))
        # escaped before measuring, so that the columns line up as printed
        rows = [
            (escaped(role.user.email), role.name + _ends(role.expires_at))
            for role in members
        ]
    width = max((len(email) for email, _ in rows), default=0)
    for email, name in rows:
        click.echo(f"{email:<{width}}  {name}")


def _ends(expires_at: datetime | None) -> str:
    """After a role in list-roles: "  expires 2026-12-31T00:00:00Z" (or
    "expired ..."), nothing for a role that never expires."""
    if expires_at is None:
        return ""
    verb = "expired" if expiry.expired(expires_at) else "expires"
    return f"  {verb} {expiry.iso(expires_at)}"


# --- time-limited roles (issue 19) ------------------------------------------------


@click.command("sweep-expired")
@with_appcontext
def sweep_expired_command() -> None:
    """Record in the audit trail every role and repository role that has expired
    since the last sweep (an expired role grants nothing whether or not it is
    recorded). Safe to run again: an expiry is recorded once."""
    with db.writer_session() as session:
        swept = expired.sweep_expired(session)
    _echo(
        f"Recorded {swept.roles} expired role{'s' if swept.roles != 1 else ''} and"
        f" {swept.repository_roles} expired repository"
        f" role{'s' if swept.repository_roles != 1 else ''}."
    )


@click.command("list-orgs")
@with_appcontext
def list_orgs_command() -> None:
    """List every organization: its id, name and number of members."""
    with Session(db.engine()) as session:
        summaries = organizations.organization_summaries(session)
    # escaped before measuring, so that the columns line up as printed
    names = [escaped(org.name) for org in summaries]
    id_width = max((len(str(org.id)) for org in summaries), default=0)
    name_width = max((len(name) for name in names), default=0)
    for org, name in zip(summaries, names, strict=True):
        noun = "member" if org.members == 1 else "members"
        click.echo(f"{org.id:>{id_width}}  {name:<{name_width}}  {org.members} {noun}")


# --- organizations ---------------------------------------------------------------


@click.command("create-org")
@click.argument("name")
@click.option(
    "--owner",
    "owner_email",
    required=True,
    metavar="EMAIL",
    help="The account that becomes the organization's first OWNER.",
)
@with_appcontext
def create_org_command(name: str, owner_email: str) -> None:
    """Create an organization named NAME, with EMAIL as its OWNER.

    NAME is trimmed, 1 to 100 characters, and unique ignoring case, as on the
    web's form.
    """
    email = _checked_email(owner_email)
    with _refusals(), db.writer_session() as session:
        owner = roles.find_user(session, email)
        created = org_admin.create_organization(session, name, owner, actor=None)
        org_id, shown = created.id, _name_of(created)
    current_app.logger.info(
        "organization created: org=%s name=%r actor=command-line", org_id, name
    )
    _echo(f"Created {shown}: {email} is its OWNER.")


@click.command("delete-org")
@click.argument("org")
@click.option(
    "--yes",
    is_flag=True,
    help="Delete it: without --yes, only say what would be deleted.",
)
@_org_flags
@with_appcontext
def delete_org_command(org: str, yes: bool, org_by_id: bool, org_by_name: bool) -> None:
    """Delete ORG (an id or an exact name: see --id, --name) with its
    repositories, roles and audit log, in one transaction. The deletion is logged
    (logger "portal": "organization deleted: ...")."""
    by = _reading(org_by_id, org_by_name)
    with _refusals(), db.writer_session() as session:
        organization = _locked_organization(session, org, by)
        if not yes:
            what = _contents(org_admin.contents(session, organization.id))
            raise Refused(
                f"This would delete {_name_of(organization)} with {what}."
                " Add --yes to delete it."
            )
        gone = org_admin.delete_organization(
            session, organization.id, organization.name, actor=None
        )
    current_app.logger.warning(
        "organization deleted: org=%s name=%r actor=command-line"
        " repositories=%s members=%s audit_entries=%s",
        gone.organization_id,
        gone.name,
        gone.contents.repositories,
        gone.contents.members,
        gone.contents.audit_entries,
    )
    _echo(
        f"Deleted {gone.name} (id {gone.organization_id}) with"
        f" {_contents(gone.contents)}."
    )


# What set-base-role takes for "no role" (as the settings form does).
_NO_BASE_ROLE = "NONE"


def _base_role_name(
    _ctx: click.Context, _param: click.Parameter, name: str
) -> str | None:
    """ROLE as a base repository role code (NONE: None), if it is one; else
    BadArgument with the choices."""
    if name == _NO_BASE_ROLE:
        return None
    if name not in REPOSITORY_ROLE_NAMES:
        choices = ", ".join(REPOSITORY_ROLE_NAMES)
        raise BadArgument(
            f"{name!r} is not a repository role. Choose one of {choices}, or"
            f" {_NO_BASE_ROLE} for no role."
        )
    return name


@click.command("set-base-role")
@click.argument("org")
@click.argument("role", callback=_base_role_name)
@_org_flags
@with_appcontext
def set_base_role_command(
    org: str, role: str | None, org_by_id: bool, org_by_name: bool
) -> None:
    """Make ROLE (ADMIN, WRITER, READER, or NONE for no role) the repository
    role every MEMBER of ORG gets on each of its repositories (an id or an exact
    name: see --id, --name). Audited as the command line."""
    by = _reading(org_by_id, org_by_name)
    with _refusals(), db.writer_session() as session:
        organization = _locked_organization(session, org, by)
        old = org_admin.change_base_repository_role(
            session, organization, role, actor=None
        )
        where = _name_of(organization)
    was = old or _NO_BASE_ROLE
    if role is None:
        _echo(
            f"{where}: every MEMBER now gets no role on its repositories (was {was})."
        )
    else:
        _echo(f"{where}: every MEMBER is now {role} on each repository (was {was}).")


def _contents(contents: org_admin.Contents) -> str:
    """What goes with an organization, in words: "1 repository, 4 members and 0
    audit entries"."""

    def counted(n: int, one: str, many: str) -> str:
        return f"{n:,} {one if n == 1 else many}"

    return (
        f"{counted(contents.repositories, 'repository', 'repositories')},"
        f" {counted(contents.members, 'member', 'members')} and"
        f" {counted(contents.audit_entries, 'audit entry', 'audit entries')}"
    )


def _locked_organization(
    session: Session, ref: str, by: organizations.By
) -> Organization:
    """The organization ref names, locked until the transaction ends (as the
    web's writing requests lock it before anything else)."""
    found = organizations.find_organization(session, ref, by)
    locked = roles.lock_organization(session, found.id)
    if locked is None:  # deleted since it was found
        raise organizations.NoSuchOrganization(ref, by)
    return locked


def _name_of(organization: Organization) -> str:
    """How a result line names the organization: "The Beatles (id 1)"."""
    return f"{organization.name} (id {organization.id})"


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn a refusal of the domain (whose transaction has rolled back by the
    time it gets here) into Refused, its message on one line."""
    try:
        yield
    except organizations.IdOrName as error:
        raise Refused(f"{error} {_which_one(error)}") from error
    except organizations.NotAnId as error:
        raise BadArgument(
            "With --id, ORG is an id: digits without leading zeros,"
            f" not {error.shown!r}."
        ) from error
    except (
        roles.RoleError,
        organizations.OrganizationNotFound,
        org_admin.OrgAdminError,
    ) as error:
        raise Refused(str(error)) from error


def _which_one(error: organizations.IdOrName) -> str:
    """How to say which organization an ORG that is both an id and a name means."""
    if len(error.named) == 1:
        return (
            f"Add --id for the organization with id {error.by_id}, or --name for"
            f" the one named {error.shown!r}."
        )
    return "Add --id and give the id of the one you mean."


# --- set-password (issue 19) ---------------------------------------------------


@click.command("set-password")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of"
    " asking for it twice.",
)
@with_appcontext
def set_password_command(email: str, password_stdin: bool) -> None:
    """Give the account EMAIL a new password (for a person who cannot use the
    "Forgot your password?" mail).

    The password is asked for twice, hidden, unless --password-stdin is given,
    and must pass the password page's rules. Every session of the account is
    logged out, and its unused password reset links stop working.
    """
    email = _checked_email(email)
    password, confirm = _read_password(password_stdin)
    error = _first_error(
        NewPasswordForm(MultiDict({"new_password": password, "confirm": confirm}))
    )
    if error is not None:
        raise Refused(f"Password not accepted: {error}")
    password_hash = hash_password(password)  # slow: before the write lock
    with _refusals(), db.writer_session() as session:
        user = roles.find_user(session, email)
        session.refresh(user, with_for_update=True)
        password_reset.set_password(session, user, password_hash, clock.now())
        user_id = user.id
    _echo(f"Set a new password for {email} (id {user_id}); its sessions were ended.")


# --- invite (issue 19) -----------------------------------------------------------


@click.command("invite")
@click.argument("email")
@click.argument("org")
@click.argument("role", callback=_role_name)
@click.option(
    "--expires",
    callback=_expiry,
    metavar="WHEN",
    help=(
        "When the role ends once accepted, in UTC: YYYY-MM-DD (00:00 that day)"
        " or 'YYYY-MM-DD HH:MM'. Not given (or 'never'): it does not expire."
    ),
)
@_org_flags
@with_appcontext
def invite_command(
    email: str,
    org: str,
    role: str,
    expires: roles.Expires,
    org_by_id: bool,
    org_by_name: bool,
) -> None:
    """Invite EMAIL to ORG as ROLE (OWNER, MEMBER or BILLING): queue the mail
    and print its link (an invitation pending for EMAIL is sent again, the old
    link dead). EMAIL gets the role when they accept; assign-role gives it
    directly. ORG is an id or an exact name (see --id, --name)."""
    role_expires = None if isinstance(expires, roles.Keep) else expires
    email = _checked_email(email, NewEmailForm)
    by = _reading(org_by_id, org_by_name)
    with _refusals(), db.writer_session() as session:
        organization = _locked_organization(session, org, by)
        sent = invitations.invite(
            session,
            organization,
            email,
            role,
            actor=None,
            link=invitation_link,
            names=words(current_app),
            role_expires=role_expires,
        )
        where = _name_of(organization)
        until = invitations.when(sent.invitation.expires_at)
    again = "sent again" if sent.resent else "sent"
    _echo(f"{where}: invitation {again} to {email} as {role}, until {until}.")
    _echo(invitation_link(sent.token))
