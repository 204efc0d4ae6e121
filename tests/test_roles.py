"""portal.domain.roles: the role API, its errors and the last-owner rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import demo, roles
from portal.domain.models import OrganizationRole
from portal.infra.db import make_engine, transaction
from tests.conftest import organization, role_of, roles_snapshot, user_by_email
from tests.races import race_owners_demoting_each_other


def test_add_user_role_gives_a_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.add_user_role(
        db, org, user_by_email(db, demo.ADMIN), "BILLING", actor=None
    )
    db.commit()  # the caller commits (role_of reads what is committed)
    assert role_of(db, demo.ADMIN, demo.BEATLES_ID) == "BILLING"
    assert str(change) == "admin@admin.com is now BILLING."


def test_add_user_role_refuses_a_second_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(
        roles.AlreadyHasRole, match=re.escape("paul@beatles.com is already MEMBER")
    ):
        roles.add_user_role(
            db, org, user_by_email(db, demo.PAUL), "BILLING", actor=None
        )
    assert role_of(db, demo.PAUL, demo.BEATLES_ID) == "MEMBER"


def test_reassign_user_role_changes_the_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.reassign_user_role(
        db, org, user_by_email(db, demo.RINGO), "BILLING", actor=None
    )
    db.commit()
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"
    assert str(change) == "ringo@beatles.com is now BILLING (was MEMBER)."


def test_reassign_user_role_refuses_the_same_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.AlreadyHasRole):
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.RINGO), "MEMBER", actor=None
        )


def test_reassign_user_role_refuses_a_non_member(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(
        roles.NotAMember, match=re.escape("admin@admin.com has no role")
    ):
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.ADMIN), "MEMBER", actor=None
        )


def test_delete_user_role_removes_the_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.delete_user_role(db, org, user_by_email(db, demo.RINGO), actor=None)
    db.commit()
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) is None
    assert str(change) == "ringo@beatles.com no longer has a role (was MEMBER)."


def test_delete_user_role_refuses_a_non_member(db: Session) -> None:
    org = organization(db, demo.MONSTERS_ID)
    with pytest.raises(roles.NotAMember):
        roles.delete_user_role(db, org, user_by_email(db, demo.JOHN), actor=None)


@pytest.mark.parametrize(
    "name", ["ADMIN", "owner", "OWNER ", "", "OWNER\x00", "X" * 10_000]
)
def test_unknown_role_names_are_refused(db: Session, name: str) -> None:
    org = organization(db, demo.BEATLES_ID)
    before = roles_snapshot(db)
    with pytest.raises(
        roles.UnknownRoleName, match="Choose one of OWNER, MEMBER, BILLING"
    ):
        roles.assign_role(db, org, user_by_email(db, demo.ADMIN), name, actor=None)
    with pytest.raises(roles.UnknownRoleName):
        roles.add_user_role(db, org, user_by_email(db, demo.ADMIN), name, actor=None)
    with pytest.raises(roles.UnknownRoleName):
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.PAUL), name, actor=None
        )
    db.commit()  # whatever a refused change left pending would land
    assert roles_snapshot(db) == before


def test_unknown_role_message_is_short_for_huge_input(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.UnknownRoleName) as excinfo:
        roles.assign_role(
            db, org, user_by_email(db, demo.ADMIN), "X" * 10_000, actor=None
        )
    assert len(str(excinfo.value)) < 200


def test_assign_role_unknown_email(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.NoSuchUser, match=re.escape("nobody@example.com")):
        roles.assign_role(
            db, org, roles.find_user(db, "nobody@example.com"), "MEMBER", actor=None
        )


def test_assign_role_adds_or_reassigns(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    assert str(
        roles.assign_role(db, org, user_by_email(db, demo.SULLY), "MEMBER", actor=None)
    ) == ("sully@monsters.com is now MEMBER.")
    assert str(
        roles.assign_role(db, org, user_by_email(db, demo.SULLY), "OWNER", actor=None)
    ) == ("sully@monsters.com is now OWNER (was MEMBER).")
    db.commit()
    assert role_of(db, demo.SULLY, demo.BEATLES_ID) == "OWNER"


def test_assign_role_matches_email_case_insensitively(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    roles.assign_role(
        db, org, roles.find_user(db, "  Admin@Admin.COM "), "BILLING", actor=None
    )
    db.commit()
    assert role_of(db, demo.ADMIN, demo.BEATLES_ID) == "BILLING"


def test_last_owner_cannot_be_demoted(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(
        roles.LastOwner, match=re.escape("john@beatles.com is the last OWNER")
    ):
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.JOHN), "MEMBER", actor=None
        )
    db.commit()
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "OWNER"


def test_last_owner_cannot_be_removed(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.LastOwner):
        roles.delete_user_role(db, org, user_by_email(db, demo.JOHN), actor=None)
    db.commit()
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "OWNER"


def test_an_owner_can_step_down_when_another_owner_exists(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    roles.assign_role(db, org, user_by_email(db, demo.PAUL), "OWNER", actor=None)
    roles.reassign_user_role(
        db, org, user_by_email(db, demo.JOHN), "MEMBER", actor=None
    )
    db.commit()
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "MEMBER"
    assert roles.count_owners(db, org) == 1


def test_database_refuses_a_second_role_row(db: Session) -> None:
    # why: the unique constraint is the last line of defence if code bypasses roles.py
    db.add(
        OrganizationRole(
            organization_id=1, user_id=user_by_email(db, demo.PAUL).id, name="BILLING"
        )
    )
    with pytest.raises(IntegrityError):
        db.commit()


def test_database_refuses_an_unknown_role_name(db: Session) -> None:
    db.add(
        OrganizationRole(
            organization_id=2, user_id=user_by_email(db, demo.PAUL).id, name="ADMIN"
        )
    )
    with pytest.raises(IntegrityError):
        db.commit()


# On SQLite here; tests/test_postgres.py runs the same race on PostgreSQL, so
# this copy's PostgreSQL run is deselected. Serial: a race measures contention.
@pytest.mark.sqlite_only
@pytest.mark.serial
def test_two_owners_demoting_each_other_leave_one_owner(db_url: str) -> None:
    # why: without the writer transaction (BEGIN IMMEDIATE) both read "2 owners"
    # and both demote, leaving the organization with none (checked: it fails).
    engine = make_engine(db_url)
    race_owners_demoting_each_other(engine, rounds=100)
    engine.dispose()


# --- the change record, the caller's transaction and dry runs -----------------


def test_role_change_carries_ids_actor_and_the_clock(app: Flask, db: Session) -> None:
    moment = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    app.config["CLOCK"] = lambda: moment
    org = organization(db, demo.BEATLES_ID)
    john, ringo = user_by_email(db, demo.JOHN), user_by_email(db, demo.RINGO)
    with app.app_context():
        change = roles.reassign_user_role(db, org, ringo, "BILLING", actor=john)
    assert change == roles.RoleChange(
        organization_id=demo.BEATLES_ID,
        user_id=ringo.id,
        user_email=demo.RINGO,
        actor_id=john.id,
        old="MEMBER",
        new="BILLING",
        at=moment,
    )


def test_role_change_from_the_command_line_has_no_actor(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.delete_user_role(db, org, user_by_email(db, demo.RINGO), actor=None)
    assert change.actor_id is None and (change.old, change.new) == ("MEMBER", None)


def test_role_operations_leave_the_commit_to_the_caller(
    db: Session, app: Flask
) -> None:
    # why: the audit row and the change must commit together, in one place
    org = organization(db, demo.BEATLES_ID)
    roles.reassign_user_role(
        db, org, user_by_email(db, demo.RINGO), "BILLING", actor=None
    )
    db.rollback()
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "MEMBER"


def test_transaction_commits_on_success_and_rolls_back_on_error(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with transaction(db):
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.RINGO), "BILLING", actor=None
        )
    with pytest.raises(roles.LastOwner), transaction(db):
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.PAUL), "BILLING", actor=None
        )
        roles.reassign_user_role(
            db, org, user_by_email(db, demo.JOHN), "MEMBER", actor=None
        )
    # role_of reads what is committed, on a connection of its own.
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"
    assert role_of(db, demo.PAUL, demo.BEATLES_ID) == "MEMBER"  # rolled back
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "OWNER"


DRY_RUNS = [
    # (check, operation, email, role name or None for a removal, expected error)
    ("check_add", "add_user_role", demo.PAUL, "BILLING", roles.AlreadyHasRole),
    ("check_add", "add_user_role", demo.ADMIN, "ADMIN", roles.UnknownRoleName),
    ("check_change", "reassign_user_role", demo.ADMIN, "MEMBER", roles.NotAMember),
    ("check_change", "reassign_user_role", demo.RINGO, "MEMBER", roles.AlreadyHasRole),
    ("check_change", "reassign_user_role", demo.JOHN, "MEMBER", roles.LastOwner),
    ("check_change", "reassign_user_role", demo.PAUL, "owner", roles.UnknownRoleName),
    ("check_removal", "delete_user_role", demo.JOHN, None, roles.LastOwner),
    ("check_removal", "delete_user_role", demo.ADMIN, None, roles.NotAMember),
    ("check_assign", "assign_role", demo.JOHN, "BILLING", roles.LastOwner),
    ("check_assign", "assign_role", demo.GEORGE, "BILLING", roles.AlreadyHasRole),
    ("check_assign", "assign_role", demo.ADMIN, "", roles.UnknownRoleName),
]


@pytest.mark.parametrize(("check", "operation", "email", "name", "error"), DRY_RUNS)
def test_role_checks_raise_exactly_what_the_change_would(
    db: Session,
    check: str,
    operation: str,
    email: str,
    name: str | None,
    error: type[roles.RoleError],
) -> None:
    org = organization(db, demo.BEATLES_ID)
    user = user_by_email(db, email)
    args = (db, org, user) if name is None else (db, org, user, name)
    before = roles_snapshot(db)
    with pytest.raises(error) as checked:
        getattr(roles, check)(*args)
    with pytest.raises(error) as changed:
        getattr(roles, operation)(*args, actor=None)
    assert str(checked.value) == str(changed.value)
    db.commit()  # whatever a check or a refused change left pending would land
    assert roles_snapshot(db) == before


@pytest.mark.parametrize(
    ("check", "email", "name"),
    [
        ("check_add", demo.ADMIN, "MEMBER"),
        ("check_change", demo.RINGO, "OWNER"),
        ("check_removal", demo.RINGO, None),
        ("check_assign", demo.ADMIN, "OWNER"),
    ],
)
def test_role_checks_pass_and_change_nothing(
    db: Session, check: str, email: str, name: str | None
) -> None:
    org = organization(db, demo.BEATLES_ID)
    user = user_by_email(db, email)
    args = (db, org, user) if name is None else (db, org, user, name)
    before = roles_snapshot(db)
    getattr(roles, check)(*args)
    db.commit()  # whatever a check left pending would land
    assert roles_snapshot(db) == before


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (roles.UnknownRoleName, 422),
        (roles.NoSuchUser, 422),
        (roles.AlreadyHasRole, 409),
        (roles.NotAMember, 409),
        (roles.LastOwner, 409),
    ],
)
def test_role_errors_carry_their_http_status(
    error: type[roles.RoleError], status: int
) -> None:
    assert error.status == status
