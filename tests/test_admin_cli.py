"""The administration commands (portal/cli/admin.py): create-user, assign-role,
remove-role, list-roles, list-orgs, run as `flask --app portal ...` would.

Each change is checked where it lands: committed rows (read on a new
connection), the audit trail, and the web (logging in, the roles page). Each
refusal: its exit status, its one line on stderr, and an unchanged database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import AuditEntry, Organization, User
from portal.infra.passwords import verify_password
from tests import factories
from tests.conftest import AuthActions, client_for, role_of
from tests.database import committed, committed_scalar, snapshot

ROOT = Path(__file__).resolve().parents[1]

NEW_PASSWORD = "correct horse battery"
LAST_OWNER = (
    "john@beatles.com is the last OWNER. Make someone else OWNER first:"
    " every organization needs at least one."
)
NOT_A_ROLE = "is not a role. Choose one of OWNER, MEMBER, BILLING."


def flask(
    app: Flask, runner: FlaskCliRunner, *args: str, input: str | None = None
) -> Result:
    """`flask --app portal <args>` through runner, with input on stdin (the flask
    command pushes the app context; app.cli, which the runner calls, does not)."""
    with app.app_context():
        return runner.invoke(args=list(args), input=input)


def refused(result: Result, code: int, message: str) -> None:
    """The command failed with status code, saying message in one line on stderr
    (and nothing on stdout)."""
    assert (result.exit_code, result.stderr) == (code, f"Error: {message}\n")
    assert result.stdout == ""


def reader(app: Flask) -> Session:
    """A new session on the app's database, for reading what is committed."""
    return Session(app.extensions["portal.engine"])


def audit_trail(app: Flask) -> list[tuple[object, ...]]:
    """Every audit entry: organization, action, actor (id, email), person, old,
    new; oldest first."""
    statement = select(
        AuditEntry.organization_id,
        AuditEntry.action,
        AuditEntry.actor_id,
        AuditEntry.actor_email,
        AuditEntry.user_email,
        AuditEntry.old_role,
        AuditEntry.new_role,
    ).order_by(AuditEntry.id)
    with committed(app.extensions["portal.engine"]) as connection:
        return [tuple(row) for row in connection.execute(statement)]


def roles_page_role(app: Flask, org_id: int, email: str) -> str | None:
    """The role the organization's roles page shows for email, to its owner."""
    page = client_for(app, "owner").get(f"/orgs/{org_id}/roles")
    assert page.status_code == 200
    for row in re.findall(r"<tr>(.*?)</tr>", page.get_data(as_text=True), re.S):
        if f">{email}<" in row:
            # The row's control has the role selected; a row without one (the
            # last owner's) shows it as a badge.
            found = re.findall(
                r'<option value="(\w+)" selected>|class="badge badge-(\w+)"', row
            )
            names = [(chosen or badge).upper() for chosen, badge in found]
            assert len(names) == 1, row
            return names[0]
    return None


def logs_in(app: Flask, email: str, password: str) -> bool:
    """Whether POST /login with email and password starts a session."""
    response = AuthActions(app.test_client()).login(email, password)
    return response.status_code == 302 and response.location == "/orgs"


# --- create-user --------------------------------------------------------------


def test_create_user_from_stdin_logs_in_on_the_web(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = flask(
        app,
        runner,
        "create-user",
        "Carol@Example.COM",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.stderr
    with reader(app) as session:
        user = session.scalar(select(User).where(User.email == "carol@example.com"))
        assert user is not None  # stored as the web compares: lower-cased
        assert user.password_hash.startswith("$argon2id$")
        assert user.roles == []
    assert result.stdout == f"Created user carol@example.com (id {user.id}).\n"
    assert result.stderr == ""
    assert logs_in(app, "carol@example.com", NEW_PASSWORD)
    assert not logs_in(app, "carol@example.com", NEW_PASSWORD + "x")


def test_create_user_asks_for_the_password_twice_hidden(
    app: Flask, runner: FlaskCliRunner
) -> None:
    typed = f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    result = flask(app, runner, "create-user", "dave@example.com", input=typed)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "Password: \nRepeat the password: \n"
    assert result.stdout.startswith("Created user dave@example.com (id ")
    assert NEW_PASSWORD not in result.output  # never echoed
    assert logs_in(app, "dave@example.com", NEW_PASSWORD)


def test_create_user_reads_only_the_first_line_of_stdin(
    app: Flask, runner: FlaskCliRunner
) -> None:
    stdin = f"{NEW_PASSWORD}\nsecond line\n"
    result = flask(
        app, runner, "create-user", "erin@example.com", "--password-stdin", input=stdin
    )
    assert result.exit_code == 0, result.stderr
    assert logs_in(app, "erin@example.com", NEW_PASSWORD)


@pytest.mark.parametrize("length", [12, 128])
def test_create_user_accepts_the_web_password_lengths(
    app: Flask, runner: FlaskCliRunner, length: int
) -> None:
    password = ("x" * 11 + "0123456789" * 13)[:length]
    result = flask(
        app,
        runner,
        "create-user",
        f"len{length}@example.com",
        "--password-stdin",
        input=password + "\n",
    )
    assert result.exit_code == 0, result.stderr
    assert logs_in(app, f"len{length}@example.com", password)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("", "No password on standard input: its first line must hold it."),
        ("\n", "No password on standard input: its first line must hold it."),
        ("x" * 11 + "\n", "Password not accepted: Use between 12 and 128 characters."),
        ("x" * 129 + "\n", "Password not accepted: Use between 12 and 128 characters."),
        (
            "tab\tin the password\n",
            "Password not accepted: Remove the control characters from this field.",
        ),
    ],
    ids=["empty-stdin", "empty-line", "11-characters", "129-characters", "tab"],
)
def test_create_user_refuses_a_password_the_web_refuses(
    app: Flask, runner: FlaskCliRunner, stdin: str, message: str
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    result = flask(
        app, runner, "create-user", "frank@example.com", "--password-stdin", input=stdin
    )
    refused(result, 1, message)
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_user_refuses_two_different_passwords(
    app: Flask, runner: FlaskCliRunner
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    typed = f"{NEW_PASSWORD}\n{NEW_PASSWORD}!\n"
    result = flask(app, runner, "create-user", "gina@example.com", input=typed)
    assert result.exit_code == 1
    assert result.stderr == (
        "Password: \nRepeat the password: \n"
        "Error: Password not accepted: The two new passwords differ.\n"
    )
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_user_refuses_an_email_in_use(
    app: Flask, runner: FlaskCliRunner
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    result = flask(
        app,
        runner,
        "create-user",
        " John@Beatles.com",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    refused(result, 1, "There is already a user with the email 'john@beatles.com'.")
    assert snapshot(app.extensions["portal.engine"]) == before
    assert logs_in(app, demo.JOHN, demo.PASSWORD)  # the old password still holds


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter the email of the person."),
        ("   ", "Enter the email of the person."),
        ("x" * 243 + "@example.com", "That is too long to be an email address."),
        ("ann\x00@example.com", "Remove the control characters from this field."),
        ("ann\n@example.com", "Remove the control characters from this field."),
        ("ann", "That is not an email address (name@example.com)."),
        ("ann@", "That is not an email address (name@example.com)."),
        ("ann@b@example.com", "That is not an email address (name@example.com)."),
        ("ann smith@example.com", "That is not an email address (name@example.com)."),
    ],
    ids=[
        "empty",
        "blank",
        "255-characters",
        "nul",
        "newline",
        "no-at",
        "no-domain",
        "two-ats",
        "space",
    ],
)
def test_create_user_refuses_an_email_the_web_refuses(
    app: Flask, runner: FlaskCliRunner, email: str, message: str
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    result = flask(
        app, runner, "create-user", email, "--password-stdin", input=NEW_PASSWORD
    )
    refused(result, 2, f"Invalid EMAIL: {message}")
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_user_checks_the_email_before_asking_for_a_password(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = flask(app, runner, "create-user", "ann", input="")
    refused(
        result, 2, "Invalid EMAIL: That is not an email address (name@example.com)."
    )


# --- assign-role --------------------------------------------------------------


def test_assign_role_adds_a_role_audited_as_the_command_line(
    app: Flask, runner: FlaskCliRunner
) -> None:
    assert roles_page_role(app, demo.BEATLES_ID, demo.ADMIN) is None
    result = flask(app, runner, "assign-role", demo.ADMIN, "1", "BILLING")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "The Beatles (id 1): admin@admin.com is now BILLING.\n"
    with reader(app) as session:
        assert role_of(session, demo.ADMIN, demo.BEATLES_ID) == "BILLING"
    assert audit_trail(app) == [
        (demo.BEATLES_ID, "add", None, None, demo.ADMIN, None, "BILLING")
    ]
    assert roles_page_role(app, demo.BEATLES_ID, demo.ADMIN) == "BILLING"
    # ... and the audit log page says who: the command line
    audit_page = client_for(app, "owner").get("/orgs/1/audit")
    assert "command line" in audit_page.get_data(as_text=True)


def test_assign_role_changes_a_role_by_organization_name(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = flask(
        app, runner, "assign-role", "Ringo@Beatles.com", "The Beatles", "OWNER"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "The Beatles (id 1): ringo@beatles.com is now OWNER (was MEMBER).\n"
    )
    with reader(app) as session:
        assert role_of(session, demo.RINGO, demo.BEATLES_ID) == "OWNER"
    assert audit_trail(app) == [
        (demo.BEATLES_ID, "change", None, None, demo.RINGO, "MEMBER", "OWNER")
    ]
    assert roles_page_role(app, demo.BEATLES_ID, demo.RINGO) == "OWNER"


def test_assign_role_demotes_an_owner_who_is_not_the_last(
    app: Flask, runner: FlaskCliRunner
) -> None:
    assert flask(app, runner, "assign-role", demo.PAUL, "1", "OWNER").exit_code == 0
    result = flask(app, runner, "assign-role", demo.JOHN, "1", "MEMBER")
    assert result.exit_code == 0, result.stderr
    with reader(app) as session:
        assert role_of(session, demo.JOHN, demo.BEATLES_ID) == "MEMBER"
    # and now Paul is the last owner
    refused(
        flask(app, runner, "assign-role", demo.PAUL, "1", "BILLING"),
        1,
        LAST_OWNER.replace("john@", "paul@"),
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("nobody@example.com", "1", "MEMBER"),
            1,
            "There is no user with the email 'nobody@example.com'.",
        ),
        (
            (demo.ADMIN, "99", "MEMBER"),
            1,
            "There is no organization with the id 99, nor one named '99'.",
        ),
        (
            (demo.ADMIN, "99999999999999999999", "MEMBER"),
            1,
            "There is no organization with the id 99999999999999999999, nor one"
            " named '99999999999999999999'.",
        ),
        (
            (demo.ADMIN, "The Rolling Stones", "MEMBER"),
            1,
            "There is no organization named 'The Rolling Stones'.",
        ),
        (
            (demo.ADMIN, "the beatles", "MEMBER"),
            1,
            "There is no organization named 'the beatles'.",
        ),
        ((demo.ADMIN, "1", "ADMIN"), 2, f"'ADMIN' {NOT_A_ROLE}"),
        ((demo.ADMIN, "1", "member"), 2, f"'member' {NOT_A_ROLE}"),
        ((demo.ADMIN, "1", ""), 2, f"'' {NOT_A_ROLE}"),
        (("", "1", "MEMBER"), 2, "Invalid EMAIL: Enter the email of the person."),
        (
            ("ann\x01@example.com", "1", "MEMBER"),
            2,
            "Invalid EMAIL: Remove the control characters from this field.",
        ),
        ((demo.PAUL, "1", "MEMBER"), 1, "paul@beatles.com is already MEMBER here."),
        ((demo.JOHN, "1", "MEMBER"), 1, LAST_OWNER),
        ((demo.JOHN, "1", "BILLING"), 1, LAST_OWNER),
    ],
    ids=[
        "unknown-user",
        "unknown-org-id",
        "huge-org-id",
        "unknown-org-name",
        "org-name-in-another-case",
        "unknown-role",
        "role-in-lower-case",
        "empty-role",
        "empty-email",
        "control-character-in-email",
        "same-role",
        "last-owner-to-member",
        "last-owner-to-billing",
    ],
)
def test_assign_role_refuses(
    app: Flask,
    runner: FlaskCliRunner,
    args: tuple[str, str, str],
    code: int,
    message: str,
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    refused(flask(app, runner, "assign-role", *args), code, message)
    assert snapshot(app.extensions["portal.engine"]) == before


def test_a_name_several_organizations_have_can_no_longer_be_made(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: issue 16 refused such a name as ambiguous; since issue 18 names are
    # unique ignoring case in the database, so no ORG name can be ambiguous
    before = snapshot(app.extensions["portal.engine"])
    result = flask(app, runner, "create-org", "THE BEATLES", "--owner", demo.ADMIN)
    refused(
        result,
        1,
        "There is already an organization named 'THE BEATLES' (names are compared"
        " ignoring case). Choose another name.",
    )
    assert snapshot(app.extensions["portal.engine"]) == before
    with reader(app) as session, pytest.raises(IntegrityError):
        factories.make_organization(session, "the beatles")


def make_organization_named(app: Flask, name: str) -> int:
    """The id of a new organization named name, committed, with no members."""
    with reader(app) as session:
        org_id = factories.make_organization(session, name).id
        session.commit()
    return org_id


def test_assign_role_refuses_an_id_that_is_another_organizations_name(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: "2" used to mean the id 2 (another tenant) whatever the name says
    named_2 = make_organization_named(app, "2")
    before = snapshot(app.extensions["portal.engine"])
    result = flask(app, runner, "assign-role", demo.ADMIN, "2", "MEMBER")
    refused(
        result,
        1,
        f"'2' is both the id of 'Monsters Inc.' and the name of the organization"
        f" with id {named_2}. Add --id for the organization with id 2, or --name"
        " for the one named '2'.",
    )
    assert snapshot(app.extensions["portal.engine"]) == before


def test_assign_role_an_id_that_is_a_name_names_one_other_organization(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: an id that was the name of several organizations was refused with
    # their ids; names are unique now, so there is at most one
    named_1 = make_organization_named(app, "1")
    with reader(app) as session, pytest.raises(IntegrityError):
        factories.make_organization(session, "1")
    result = flask(app, runner, "assign-role", demo.ADMIN, "1", "MEMBER")
    refused(
        result,
        1,
        f"'1' is both the id of 'The Beatles' and the name of the organization"
        f" with id {named_1}. Add --id for the organization with id 1, or --name"
        " for the one named '1'.",
    )


def test_assign_role_by_id_or_by_name_when_both_would_match(
    app: Flask, runner: FlaskCliRunner
) -> None:
    named_2 = make_organization_named(app, "2")
    by_id = flask(app, runner, "assign-role", demo.ADMIN, "2", "MEMBER", "--id")
    assert (by_id.exit_code, by_id.stdout) == (
        0,
        "Monsters Inc. (id 2): admin@admin.com is now MEMBER.\n",
    ), by_id.stderr
    by_name = flask(app, runner, "assign-role", demo.ADMIN, "--name", "2", "BILLING")
    assert (by_name.exit_code, by_name.stdout) == (
        0,
        f"2 (id {named_2}): admin@admin.com is now BILLING.\n",
    ), by_name.stderr
    with reader(app) as session:
        assert role_of(session, demo.ADMIN, demo.MONSTERS_ID) == "MEMBER"
        assert role_of(session, demo.ADMIN, named_2) == "BILLING"


def test_assign_role_takes_an_id_whose_number_no_organization_is_named(
    app: Flask, runner: FlaskCliRunner
) -> None:
    make_organization_named(app, "22")  # a name that only starts like the id
    result = flask(app, runner, "assign-role", demo.ADMIN, "2", "MEMBER")
    assert result.stdout == "Monsters Inc. (id 2): admin@admin.com is now MEMBER.\n"


def test_assign_role_takes_a_number_no_id_has_as_a_name(
    app: Flask, runner: FlaskCliRunner
) -> None:
    named = make_organization_named(app, "2024")
    result = flask(app, runner, "assign-role", demo.ADMIN, "2024", "MEMBER")
    assert result.stdout == f"2024 (id {named}): admin@admin.com is now MEMBER.\n"


def test_assign_role_takes_leading_zeros_as_a_name_only(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: "01" used to mean the id 1
    before = snapshot(app.extensions["portal.engine"])
    refused(
        flask(app, runner, "assign-role", demo.ADMIN, "01", "MEMBER"),
        1,
        "There is no organization named '01'.",
    )
    assert snapshot(app.extensions["portal.engine"]) == before
    named = make_organization_named(app, "01")
    result = flask(app, runner, "assign-role", demo.ADMIN, "01", "MEMBER")
    assert result.stdout == f"01 (id {named}): admin@admin.com is now MEMBER.\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("01", "--id"),
            2,
            "With --id, ORG is an id: digits without leading zeros, not '01'.",
        ),
        (
            ("The Beatles", "--id"),
            2,
            "With --id, ORG is an id: digits without leading zeros, not 'The Beatles'.",
        ),
        (("1", "--id", "--name"), 2, "Give --id or --name, not both."),
        (("99", "--id"), 1, "There is no organization with the id 99."),
        (("1", "--name"), 1, "There is no organization named '1'."),
        (
            ("99",),
            1,
            "There is no organization with the id 99, nor one named '99'.",
        ),
    ],
    ids=[
        "leading-zero-id",
        "name-as-id",
        "both-flags",
        "unknown-id",
        "id-as-name",
        "unknown-id-or-name",
    ],
)
@pytest.mark.parametrize("command", ["assign-role", "remove-role", "list-roles"])
def test_org_argument_refuses_the_same_way_in_every_command(
    app: Flask,
    runner: FlaskCliRunner,
    command: str,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    email = [] if command == "list-roles" else [demo.PAUL]
    role = ["BILLING"] if command == "assign-role" else []
    before = snapshot(app.extensions["portal.engine"])
    refused(flask(app, runner, command, *email, *args, *role), code, message)
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("command", ["remove-role", "list-roles"])
def test_org_argument_takes_id_and_name_flags_in_every_command(
    app: Flask, runner: FlaskCliRunner, command: str
) -> None:
    named_1 = make_organization_named(app, "1")
    email = [] if command == "list-roles" else [demo.RINGO]
    assert flask(app, runner, command, *email, "1").exit_code == 1  # ambiguous
    # the organization named "1" has nobody: by name, nothing to list or remove
    by_name = flask(app, runner, command, *email, "1", "--name")
    assert by_name.stdout == ""
    by_id = flask(app, runner, command, *email, "1", "--id")
    assert (by_id.exit_code, by_id.stderr) == (0, "")
    assert demo.RINGO in by_id.stdout
    with reader(app) as session:
        assert role_of(session, demo.RINGO, named_1) is None


# --- remove-role --------------------------------------------------------------


def test_remove_role_removes_it_audited_as_the_command_line(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = flask(app, runner, "remove-role", demo.RINGO, "The Beatles")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "The Beatles (id 1): ringo@beatles.com no longer has a role (was MEMBER).\n"
    )
    with reader(app) as session:
        assert role_of(session, demo.RINGO, demo.BEATLES_ID) is None
    assert audit_trail(app) == [
        (demo.BEATLES_ID, "remove", None, None, demo.RINGO, "MEMBER", None)
    ]
    assert roles_page_role(app, demo.BEATLES_ID, demo.RINGO) is None


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((demo.ADMIN, "1"), 1, "admin@admin.com has no role in this organization."),
        ((demo.MIKE, "1"), 1, "mike@monsters.com has no role in this organization."),
        ((demo.JOHN, "1"), 1, LAST_OWNER),
        (
            ("nobody@example.com", "1"),
            1,
            "There is no user with the email 'nobody@example.com'.",
        ),
        (
            (demo.RINGO, "3"),
            1,
            "There is no organization with the id 3, nor one named '3'.",
        ),
        ((demo.RINGO, "Beatles"), 1, "There is no organization named 'Beatles'."),
        (("", "1"), 2, "Invalid EMAIL: Enter the email of the person."),
    ],
    ids=[
        "no-role",
        "member-elsewhere",
        "last-owner",
        "unknown-user",
        "unknown-org-id",
        "unknown-org-name",
        "empty-email",
    ],
)
def test_remove_role_refuses(
    app: Flask,
    runner: FlaskCliRunner,
    args: tuple[str, str],
    code: int,
    message: str,
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    refused(flask(app, runner, "remove-role", *args), code, message)
    assert snapshot(app.extensions["portal.engine"]) == before


# --- list-roles, list-orgs ----------------------------------------------------


def test_list_roles_lists_members_by_email_aligned(
    app: Flask, runner: FlaskCliRunner
) -> None:
    flask(app, runner, "assign-role", demo.ADMIN, "1", "BILLING")
    expected = (
        "admin@admin.com     BILLING\n"
        "george@beatles.com  BILLING\n"
        "john@beatles.com    OWNER\n"
        "paul@beatles.com    MEMBER\n"
        "ringo@beatles.com   MEMBER\n"
    )
    by_id = flask(app, runner, "list-roles", "1")
    assert (by_id.exit_code, by_id.stdout, by_id.stderr) == (0, expected, "")
    assert flask(app, runner, "list-roles", "The Beatles").stdout == expected


def test_list_roles_lists_nobody_in_an_organization_without_members(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with reader(app) as session:
        empty = factories.make_organization(session).id
        session.commit()
    result = flask(app, runner, "list-roles", str(empty))
    assert (result.exit_code, result.output) == (0, "")


def test_list_roles_refuses_an_unknown_organization(
    app: Flask, runner: FlaskCliRunner
) -> None:
    refused(
        flask(app, runner, "list-roles", "Wings"),
        1,
        "There is no organization named 'Wings'.",
    )


def test_list_orgs_lists_ids_names_and_member_counts(
    app: Flask, runner: FlaskCliRunner
) -> None:
    with reader(app) as session:
        solo = factories.make_organization(session, "Solo")
        factories.make_role(session, factories.make_user(session), solo, "OWNER")
        empty = factories.make_organization(session, "Empty").id
        session.commit()
        solo_id = solo.id
    result = flask(app, runner, "list-orgs")
    assert (result.exit_code, result.stderr) == (0, "")
    width = len(str(empty))
    assert result.stdout == (
        f"{1:>{width}}  The Beatles    4 members\n"
        f"{2:>{width}}  Monsters Inc.  3 members\n"
        f"{solo_id:>{width}}  Solo           1 member\n"
        f"{empty:>{width}}  Empty          0 members\n"
    )


# A name that would forge lines and colours if printed raw: a newline, a fake
# list-orgs line, ANSI escapes (red, clear screen), DEL, a C1 control (CSI) and
# Unicode's line separator (which str.splitlines breaks at).
FORGING = "Evil\n99  Fake\r\t\x1b[31mred\x1b[2J\x7f\x9b\u2028end"
FORGING_SHOWN = "Evil\\n99  Fake\\r\\t\\x1b[31mred\\x1b[2J\\x7f\\x9b\\u2028end"


def test_list_orgs_escapes_control_characters_in_names(
    app: Flask, runner: FlaskCliRunner
) -> None:
    forged = make_organization_named(app, FORGING)
    result = flask(app, runner, "list-orgs")
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.split("\n")
    assert len(lines) == 4  # three organizations and the last newline
    width = len(FORGING_SHOWN)
    assert lines[2] == f"{forged}  {FORGING_SHOWN:<{width}}  0 members"
    assert lines[0] == f"1  {'The Beatles':<{width}}  4 members"


def test_list_roles_escapes_control_characters_in_emails(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: the web refuses such emails, but rows written before that rule or by
    # hand still print
    with reader(app) as session:
        org = factories.make_organization(session, "Solo")
        user = factories.make_user(session, "x\n\x1b[2Jy@example.com")
        factories.make_role(session, user, org, "OWNER")
        session.commit()
    result = flask(app, runner, "list-roles", "Solo")
    assert (result.exit_code, result.stdout) == (
        0,
        "x\\n\\x1b[2Jy@example.com  OWNER\n",
    )


def test_results_and_refusals_escape_control_characters_in_names(
    app: Flask, runner: FlaskCliRunner
) -> None:
    forged = make_organization_named(app, FORGING)
    done = flask(app, runner, "assign-role", demo.ADMIN, str(forged), "MEMBER")
    assert done.stdout == (
        f"{FORGING_SHOWN} (id {forged}): admin@admin.com is now MEMBER.\n"
    )
    make_organization_named(app, str(forged))  # now the id is also a name
    refusal = flask(app, runner, "list-roles", str(forged))
    assert refusal.exit_code == 1
    assert refusal.stderr.count("\n") == 1, refusal.stderr
    assert "\x1b" not in refusal.stderr and "\\x1b[2J" in refusal.stderr


# --- the real command ---------------------------------------------------------


def test_admin_commands_run_as_flask_commands(db_url: str, tmp_path: Path) -> None:
    # why: the flask executable finds the commands through create_app, and a
    # refusal reaches the shell as a status and one line, with no traceback
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "admin-cli-test",
        "PYTHONPATH": str(ROOT),
    }
    flask_command = [sys.executable, "-m", "flask", "--app", "portal"]

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*flask_command, *args],
            cwd=tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # A file written on Windows ends its lines with \r\n, which the test runner's
    # stdin would translate and a real one keeps: the password is the line
    # without it (a \r left in would be refused as a control character).
    password = "p" * 12
    created = run(
        "create-user", "pat@example.com", "--password-stdin", stdin=password + "\r\n"
    )
    assert created.returncode == 0, created.stderr
    assigned = run("assign-role", "pat@example.com", "Monsters Inc.", "OWNER")
    assert assigned.stdout == (
        "Monsters Inc. (id 2): pat@example.com is now OWNER.\n"
    ), assigned.stderr
    last = run("remove-role", demo.JOHN, "1")
    assert (last.returncode, last.stdout, last.stderr) == (
        1,
        "",
        f"Error: {LAST_OWNER}\n",
    )
    bad = run("assign-role", demo.JOHN, "1", "KING")
    assert (bad.returncode, bad.stderr) == (2, f"Error: 'KING' {NOT_A_ROLE}\n")
    database = create_engine(db_url)
    try:
        stored = committed_scalar(
            database, select(User.password_hash).where(User.email == "pat@example.com")
        )
    finally:
        database.dispose()
    assert verify_password(stored, password)


# --- create-org, delete-org (issue 18) ------------------------------------------


def test_create_org_makes_the_owner_and_audits_it(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = flask(app, runner, "create-org", "  Wings ", "--owner", "PAUL@beatles.com")
    assert result.exit_code == 0, result.stderr
    with reader(app) as session:
        org_id = session.scalar(
            select(Organization.id).where(Organization.name == "Wings")
        )
        assert org_id is not None
        assert role_of(session, demo.PAUL, org_id) == "OWNER"
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.organization_id == org_id)
        ).one()
    assert (
        result.stdout
        == f"Created Wings (id {org_id}): paul@beatles.com is its OWNER.\n"
    )
    assert (entry.action, entry.actor_id, entry.user_email, entry.new_value) == (
        "create",
        None,
        demo.PAUL,
        "Wings",
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("", "--owner", demo.PAUL), 1, "Enter a name for the organization."),
        (
            ("x" * 10_000, "--owner", demo.PAUL),
            1,
            "Use at most 100 characters for the name (10,000 given).",
        ),
        (
            ("Wings", "--owner", "nobody@example.com"),
            1,
            "There is no user with the email 'nobody@example.com'.",
        ),
        (("Wings", "--owner", "a\nb@example.com"), 2, None),
        (
            ("monsters inc.", "--owner", demo.PAUL),
            1,
            "There is already an organization named 'monsters inc.' (names are"
            " compared ignoring case). Choose another name.",
        ),
    ],
    ids=["empty", "10000", "no-such-owner", "bad-email", "taken"],
)
def test_create_org_refuses(
    app: Flask,
    runner: FlaskCliRunner,
    args: tuple[str, ...],
    code: int,
    message: str | None,
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    result = flask(app, runner, "create-org", *args)
    if message is None:
        assert result.exit_code == code and result.stdout == ""
    else:
        refused(result, code, message)
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_org_needs_an_owner(app: Flask, runner: FlaskCliRunner) -> None:
    result = flask(app, runner, "create-org", "Wings")
    assert result.exit_code == 2
    assert "--owner" in result.stderr


def test_delete_org_without_yes_says_what_would_go(
    app: Flask, runner: FlaskCliRunner
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    result = flask(app, runner, "delete-org", "The Beatles")
    refused(
        result,
        1,
        "This would delete The Beatles (id 1) with 1 repository, 4 members and 0"
        " audit entries. Add --yes to delete it.",
    )
    assert snapshot(app.extensions["portal.engine"]) == before


def test_delete_org_deletes_everything_in_it_and_logs_it(
    app: Flask, runner: FlaskCliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="portal"):
        result = flask(app, runner, "delete-org", "2", "--id", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Deleted Monsters Inc. (id 2) with 1 repository, 3 members and 0 audit"
        " entries.\n"
    )
    after = snapshot(app.extensions["portal.engine"])
    assert [row for row in after["organization"] if row[0] == 2] == []
    assert all(row[2] != 2 for row in after["repository"])
    assert [r.getMessage() for r in caplog.records if "deleted" in r.getMessage()] == [
        "organization deleted: org=2 name='Monsters Inc.' actor=command-line"
        " repositories=1 members=3 audit_entries=0"
    ]
    again = flask(app, runner, "delete-org", "2", "--id", "--yes")
    refused(again, 1, "There is no organization with the id 2.")


def test_delete_org_follows_the_id_or_name_rule(
    app: Flask, runner: FlaskCliRunner
) -> None:
    named_2 = make_organization_named(app, "2")
    before = snapshot(app.extensions["portal.engine"])
    result = flask(app, runner, "delete-org", "2", "--yes")
    refused(
        result,
        1,
        f"'2' is both the id of 'Monsters Inc.' and the name of the organization"
        f" with id {named_2}. Add --id for the organization with id 2, or --name"
        " for the one named '2'.",
    )
    assert snapshot(app.extensions["portal.engine"]) == before
    by_name = flask(app, runner, "delete-org", "--name", "2", "--yes")
    assert by_name.exit_code == 0, by_name.stderr
    assert by_name.stdout.startswith(f"Deleted 2 (id {named_2}) with 0 repositories")


# --- set-base-role (issue 18) ------------------------------------------------------


def test_set_base_role_from_the_command_line(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = flask(app, runner, "set-base-role", "The Beatles", "WRITER")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "The Beatles (id 1): every MEMBER is now WRITER on each repository"
        " (was READER).\n"
    )
    assert _base_role_of(app) == "WRITER"
    with reader(app) as session:
        entry = session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
        ).one()
    assert (entry.action, entry.actor_id, entry.old_value, entry.new_value) == (
        "base_repository_role",
        None,
        "READER",
        "WRITER",
    )
    none = flask(app, runner, "set-base-role", "1", "--id", "NONE")
    assert none.stdout == (
        "The Beatles (id 1): every MEMBER now gets no role on its repositories"
        " (was WRITER).\n"
    )
    assert _base_role_of(app) is None
    member = client_for(app, "member").get(
        "/repos", headers={"Accept": "application/json"}
    )
    assert member.get_json()["repos"] == []  # Paul had Reader through it


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("The Beatles", "OWNER"),
            2,
            "'OWNER' is not a repository role. Choose one of ADMIN, WRITER, READER,"
            " or NONE for no role.",
        ),
        (
            ("The Beatles", "READER"),
            1,
            "Every member already gets that role: choose another one to change it.",
        ),
        (("Wings", "ADMIN"), 1, "There is no organization named 'Wings'."),
    ],
    ids=["unknown-role", "same-role", "unknown-org"],
)
def test_set_base_role_refuses(
    app: Flask,
    runner: FlaskCliRunner,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    before = snapshot(app.extensions["portal.engine"])
    refused(flask(app, runner, "set-base-role", *args), code, message)
    assert snapshot(app.extensions["portal.engine"]) == before


def _base_role_of(app: Flask) -> str | None:
    """The Beatles' base repository role, as committed."""
    with reader(app) as session:
        return session.scalar(
            select(Organization.base_repository_role).where(Organization.id == 1)
        )
