"""portal.domain.membership: one person's role and its refusals, read once, for a viewer
passed in (no request, as the command line uses it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.authz.words import load_words
from portal.domain import demo, roles
from portal.domain.membership import Membership, find_membership, membership_of
from tests.conftest import organization, user_by_email

WORDS = load_words(Path(__file__).resolve().parents[1] / "portal" / "policy_words.toml")


def _find(
    db: Session,
    email: str,
    viewer: str | None = None,
    names: roles.RoleNames = roles.CODES,
) -> Membership | None:
    """email's membership of The Beatles, as viewer sees it (None: nobody), its
    refusals naming roles with names."""
    viewer_id = None if viewer is None else user_by_email(db, viewer).id
    org = organization(db, demo.BEATLES_ID)
    return find_membership(db, org, user_by_email(db, email).id, viewer_id, names)


def test_membership_find_reads_the_role_and_the_owners_in_one_statement(
    db: Session,
) -> None:
    org, john = organization(db, demo.BEATLES_ID), user_by_email(db, demo.JOHN)
    seen: list[str] = []

    def record(*args: Any) -> None:
        if args[2].strip().upper() != "BEGIN":
            seen.append(args[2])

    event.listen(db.get_bind(), "before_cursor_execute", record)
    try:
        found = find_membership(db, org, john.id, john.id)
        assert found is not None
        assert found.removal_note is not None  # the user is already loaded
    finally:
        event.remove(db.get_bind(), "before_cursor_execute", record)
    assert len(seen) == 1
    assert (found.role.name, found.owners) == ("OWNER", 1)


def test_membership_find_is_none_without_a_role_row(db: Session) -> None:
    assert _find(db, demo.ADMIN) is None


def test_membership_of_the_last_owner_refuses_change_and_removal(db: Session) -> None:
    found = _find(db, demo.JOHN)
    assert found is not None
    assert isinstance(found.change_refusal, roles.LastOwner)
    assert isinstance(found.removal_refusal, roles.LastOwner)
    # The command line's words: the codes it takes as input.
    assert found.removal_refused == (
        "john@beatles.com is the last OWNER. Make someone else OWNER first:"
        " every organization needs at least one."
    )


def test_membership_refusals_in_the_words_passed_in(db: Session) -> None:
    found = _find(db, demo.JOHN, demo.PAUL, WORDS)
    assert found is not None
    assert (
        found.change_refused
        == found.removal_refused
        == (
            "john@beatles.com is the last Owner. Make someone else an Owner first:"
            " every organization needs at least one."
        )
    )


@pytest.mark.parametrize(
    ("viewer", "note"),
    [
        (
            demo.JOHN,
            "You are the last Owner of The Beatles: make someone else an Owner"
            " before you leave.",
        ),
        # why: the command line (no viewer) and other people read the server's words
        (None, "john@beatles.com is the last Owner."),
        (demo.PAUL, "john@beatles.com is the last Owner."),
    ],
)
def test_membership_note_is_worded_for_the_viewer_passed_in(
    db: Session, viewer: str | None, note: str
) -> None:
    found = _find(db, demo.JOHN, viewer, WORDS)
    assert found is not None
    assert found.is_mine is (viewer == demo.JOHN)
    assert found.removal_note is not None
    assert found.removal_note.startswith(note)


def test_membership_of_a_member_or_a_second_owner_refuses_nothing(
    db: Session,
) -> None:
    org = organization(db, demo.BEATLES_ID)
    roles.reassign_user_role(db, org, user_by_email(db, demo.PAUL), "OWNER", actor=None)
    db.flush()
    for email in (demo.JOHN, demo.PAUL, demo.RINGO):
        found = _find(db, email)
        assert found is not None
        assert (found.change_refused, found.removal_refused) == (None, None)


def test_membership_agrees_with_the_dry_runs(db: Session) -> None:
    # why: the refusals are computed from the owner count instead of running
    # check_change/check_removal; they must refuse exactly what those refuse
    org = organization(db, demo.BEATLES_ID)
    for email in (demo.JOHN, demo.PAUL, demo.GEORGE):
        user = user_by_email(db, email)
        role = roles.user_role(db, org, user)
        assert role is not None
        found = membership_of(db, org, role, None)
        try:
            roles.check_removal(db, org, user)
            expected = None
        except roles.RoleError as error:
            expected = str(error)
        assert found.removal_refused == expected
        assert found.change_refused == expected
