"""portal.roles: the role API, its errors and the last-owner rule."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import demo, roles
from portal.db import make_engine
from portal.models import OrganizationRole, User
from tests.conftest import organization, role_of, roles_snapshot
from tests.races import race_owners_demoting_each_other


def _user(session: Session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def test_add_user_role_gives_a_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.add_user_role(db, org, _user(db, demo.ADMIN), "BILLING")
    assert role_of(db, demo.ADMIN, demo.BEATLES_ID) == "BILLING"
    assert str(change) == "admin@admin.com is now BILLING."


def test_add_user_role_refuses_a_second_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(
        roles.AlreadyHasRole, match="paul@beatles.com is already MEMBER"
    ):
        roles.add_user_role(db, org, _user(db, demo.PAUL), "BILLING")
    assert role_of(db, demo.PAUL, demo.BEATLES_ID) == "MEMBER"


def test_reassign_user_role_changes_the_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.reassign_user_role(db, org, _user(db, demo.RINGO), "BILLING")
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"
    assert str(change) == "ringo@beatles.com is now BILLING (was MEMBER)."


def test_reassign_user_role_refuses_the_same_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.AlreadyHasRole):
        roles.reassign_user_role(db, org, _user(db, demo.RINGO), "MEMBER")


def test_reassign_user_role_refuses_a_non_member(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.NotAMember, match="admin@admin.com has no role"):
        roles.reassign_user_role(db, org, _user(db, demo.ADMIN), "MEMBER")


def test_delete_user_role_removes_the_role(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    change = roles.delete_user_role(db, org, _user(db, demo.RINGO))
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) is None
    assert str(change) == "ringo@beatles.com no longer has a role (was MEMBER)."


def test_delete_user_role_refuses_a_non_member(db: Session) -> None:
    org = organization(db, demo.MONSTERS_ID)
    with pytest.raises(roles.NotAMember):
        roles.delete_user_role(db, org, _user(db, demo.JOHN))


@pytest.mark.parametrize(
    "name", ["ADMIN", "owner", "OWNER ", "", "OWNER\x00", "X" * 10_000]
)
def test_unknown_role_names_are_refused(db: Session, name: str) -> None:
    org = organization(db, demo.BEATLES_ID)
    before = roles_snapshot(db)
    with pytest.raises(
        roles.UnknownRoleName, match="Choose one of OWNER, MEMBER, BILLING"
    ):
        roles.assign_role(db, org, _user(db, demo.ADMIN), name)
    with pytest.raises(roles.UnknownRoleName):
        roles.add_user_role(db, org, _user(db, demo.ADMIN), name)
    with pytest.raises(roles.UnknownRoleName):
        roles.reassign_user_role(db, org, _user(db, demo.PAUL), name)
    assert roles_snapshot(db) == before


def test_unknown_role_message_is_short_for_huge_input(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.UnknownRoleName) as excinfo:
        roles.assign_role(db, org, _user(db, demo.ADMIN), "X" * 10_000)
    assert len(str(excinfo.value)) < 200


def test_assign_role_unknown_email(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.NoSuchUser, match="nobody@example.com"):
        roles.assign_role(db, org, roles.find_user(db, "nobody@example.com"), "MEMBER")


def test_assign_role_adds_or_reassigns(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    assert str(roles.assign_role(db, org, _user(db, demo.SULLY), "MEMBER")) == (
        "sully@monsters.com is now MEMBER."
    )
    assert str(roles.assign_role(db, org, _user(db, demo.SULLY), "OWNER")) == (
        "sully@monsters.com is now OWNER (was MEMBER)."
    )
    assert role_of(db, demo.SULLY, demo.BEATLES_ID) == "OWNER"


def test_assign_role_matches_email_case_insensitively(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    roles.assign_role(db, org, roles.find_user(db, "  Admin@Admin.COM "), "BILLING")
    assert role_of(db, demo.ADMIN, demo.BEATLES_ID) == "BILLING"


def test_last_owner_cannot_be_demoted(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.LastOwner, match="john@beatles.com is the last owner"):
        roles.reassign_user_role(db, org, _user(db, demo.JOHN), "MEMBER")
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "OWNER"


def test_last_owner_cannot_be_removed(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(roles.LastOwner):
        roles.delete_user_role(db, org, _user(db, demo.JOHN))
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "OWNER"


def test_an_owner_can_step_down_when_another_owner_exists(db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    roles.assign_role(db, org, _user(db, demo.PAUL), "OWNER")
    roles.reassign_user_role(db, org, _user(db, demo.JOHN), "MEMBER")
    assert role_of(db, demo.JOHN, demo.BEATLES_ID) == "MEMBER"
    assert roles.count_owners(db, org) == 1


def test_database_refuses_a_second_role_row(db: Session) -> None:
    # why: the unique constraint is the last line of defence if code bypasses roles.py
    db.add(
        OrganizationRole(
            organization_id=1, user_id=_user(db, demo.PAUL).id, name="BILLING"
        )
    )
    with pytest.raises(IntegrityError):
        db.commit()


def test_database_refuses_an_unknown_role_name(db: Session) -> None:
    db.add(
        OrganizationRole(
            organization_id=2, user_id=_user(db, demo.PAUL).id, name="ADMIN"
        )
    )
    with pytest.raises(IntegrityError):
        db.commit()


def test_two_owners_demoting_each_other_leave_one_owner(db_url: str) -> None:
    # why: without the writer transaction (BEGIN IMMEDIATE) both read "2 owners"
    # and both demote, leaving the organization with none (checked: it fails).
    engine = make_engine(db_url)
    race_owners_demoting_each_other(engine, rounds=100)
    engine.dispose()
