"""Time-limited roles (issue 19): an expired role grants nothing from its expiry
on, through every cache, in lists and decisions alike; the forms, the command
line and the audit trail set, change and record expiries; the last owner whose
role never expires stays.

The time travel tests move the app's clock (app.config["CLOCK"]) between two
requests and run on every backend: the SQL side of ``active`` reads the clock
when a statement runs, so the cached list filters (PortalOso._filters) and
SQLAlchemy's compiled statement cache must hand it the new time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from polar.data.filter import Condition, Projection
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.authz import get_oso
from portal.authz.adapter import RequestSessionAdapter, UntranslatableCondition
from portal.domain import demo, expiry
from portal.domain.models import (
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra import db as portal_db
from tests.database import committed_scalar
from tests.factories import MovingClock
from tests.test_json import Api, api_for, guard_of

START = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(app: Flask) -> MovingClock:
    """The app's clock, at START until a test moves it."""
    moving = MovingClock(START)
    app.config["CLOCK"] = moving
    return moving


def _expire(
    db: Session, email: str, at: datetime | None, org_id: int = demo.BEATLES_ID
) -> None:
    """Give email's role in org_id the expiry at (committed)."""
    user_id = db.scalars(select(User.id).where(User.email == email)).one()
    db.execute(
        update(OrganizationRole)
        .where(
            OrganizationRole.user_id == user_id,
            OrganizationRole.organization_id == org_id,
        )
        .values(expires_at=at)
    )
    db.commit()


def _expire_grant(db: Session, email: str, at: datetime | None) -> None:
    """Give email's direct repository grants the expiry at (committed)."""
    user_id = db.scalars(select(User.id).where(User.email == email)).one()
    db.execute(
        update(RepositoryRole)
        .where(RepositoryRole.user_id == user_id)
        .values(expires_at=at)
    )
    db.commit()


def _user_id(db: Session, email: str) -> int:
    return db.scalars(select(User.id).where(User.email == email)).one()


def _repo_id(db: Session, name: str) -> int:
    return db.scalars(select(Repository.id).where(Repository.name == name)).one()


def _body(response: Any) -> dict[str, Any]:
    body = response.json
    assert isinstance(body, dict), response.get_data(as_text=True)
    return body


# --- the policy, through every cache, between two requests ---------------------


def test_role_expiry_refused_from_the_next_request_lists_included(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    # why: "the caches must not serve an expired role, whatever their key": the
    # first requests fill the decision cache, the list filter cache, and
    # SQLAlchemy's compiled statements; the role then expires with no row
    # changing, and the very next request must refuse it
    _expire(db, demo.PAUL, START + timedelta(minutes=10))
    paul = api_for(app, demo.PAUL)
    abbey = _repo_id(db, "Abbey Road")
    assert paul.get("/orgs/1").status_code == 200
    assert [o["id"] for o in _body(paul.get("/orgs"))["orgs"]] == [1]
    assert paul.get(f"/orgs/1/repos/{abbey}").status_code == 200
    assert _body(paul.get("/repos"))["repos"]
    assert get_oso(app).cache_hits >= 0 and len(get_oso(app)._filters) > 0
    clock.advance(minutes=11)  # within the session's idle timeout
    assert _body(paul.get("/orgs"))["orgs"] == []
    assert _body(paul.get("/repos"))["repos"] == []
    # Their pages 404 like a non-member's.
    assert paul.get("/orgs/1").status_code == 404
    assert paul.get("/orgs/1/roles").status_code == 404
    assert paul.get(f"/orgs/1/repos/{abbey}").status_code == 404


def test_role_expiry_of_a_direct_grant_refused_from_the_next_request(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    # why: Sully (MEMBER of Monsters Inc., no base role) reads Paperwork through
    # his direct WRITER grant alone
    _expire_grant(db, demo.SULLY, START + timedelta(minutes=5))
    sully = api_for(app, demo.SULLY)
    paperwork = _repo_id(db, "Paperwork")
    assert sully.get(f"/orgs/2/repos/{paperwork}").status_code == 200
    assert [r["id"] for r in _body(sully.get("/repos"))["repos"]] == [paperwork]
    clock.advance(minutes=6)
    assert _body(sully.get("/repos"))["repos"] == []
    assert sully.get(f"/orgs/2/repos/{paperwork}").status_code == 404
    # He is still a member: the organization is his to read.
    assert sully.get("/orgs/2").status_code == 200


def test_role_expiry_of_the_organization_role_voids_an_active_grant(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    # why: a grant is active only while its holder's organization role is too
    _expire(db, demo.SULLY, START + timedelta(minutes=5), demo.MONSTERS_ID)
    sully = api_for(app, demo.SULLY)
    paperwork = _repo_id(db, "Paperwork")
    assert sully.get(f"/orgs/2/repos/{paperwork}").status_code == 200
    clock.advance(minutes=6)
    assert _body(sully.get("/repos"))["repos"] == []
    assert sully.get(f"/orgs/2/repos/{paperwork}").status_code == 404
    assert sully.get("/orgs/2").status_code == 404


def test_role_expiry_a_cached_filter_reads_the_clock_when_it_runs(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    # why: the list filter is built once and cached (the same select() object),
    # and SQLAlchemy caches its compiled form; the time it compares with must
    # still be the clock's when the statement runs
    _expire(db, demo.RINGO, START + timedelta(hours=1))
    with app.test_request_context():
        session = portal_db.get_session()
        ringo = session.scalars(select(User).where(User.email == demo.RINGO)).one()
        first = get_oso().authorized_query(ringo, "READ", Organization)
        assert {o.id for o in session.scalars(first)} == {1}
    clock.advance(hours=2)
    with app.test_request_context():
        session = portal_db.get_session()
        ringo = session.scalars(select(User).where(User.email == demo.RINGO)).one()
        hits = get_oso().cache_hits
        again = get_oso().authorized_query(ringo, "READ", Organization)
        assert again is first and get_oso().cache_hits == hits + 1
        assert set(session.scalars(again)) == set()
    clock.now = START
    with app.test_request_context():
        session = portal_db.get_session()
        assert {o.id for o in session.scalars(first)} == {1}


def _condition(left: Any, cmp: str, right: Any) -> Condition:
    """A data-filtering condition, as Oso's planner makes them."""
    # polar's Condition: untyped ("Untyped oso" in portal/authz/policy.py).
    made: Condition = Condition(left, cmp, right)  # type: ignore[no-untyped-call]
    return made


def _field(model: type, name: str) -> Projection:
    """A field of model, as a condition's side."""
    made: Projection = Projection(model, name)  # type: ignore[no-untyped-call]
    return made


def test_role_expiry_adapter_translates_active_to_the_hybrids_sql(
    app: Flask,
) -> None:
    with app.test_request_context():
        sqlize = RequestSessionAdapter.sqlize
        active = _field(OrganizationRole, "active")

        def sql(condition: Condition) -> str:
            where = sqlize(condition)
            return str(select(OrganizationRole.id).where(where)).split("WHERE ")[1]

        on = sql(_condition(active, "Eq", True))
        assert on.startswith("organization_role.expires_at IS NULL OR"), on
        assert "= 1" not in on and "= true" not in on
        off = sql(_condition(active, "Eq", False))
        assert off.startswith("NOT (organization_role.expires_at IS NULL"), off
        assert sql(_condition(True, "Neq", active)) == off
        for condition in (
            _condition(active, "Gt", True),
            _condition(active, "Eq", "yes"),
            _condition(active, "Eq", _field(RepositoryRole, "active")),
        ):
            with pytest.raises(UntranslatableCondition):
                sqlize(condition)


def test_role_expiry_repository_list_has_no_per_row_subquery(app: Flask) -> None:
    # why: the direct grant rule reads the grant's membership (a relationship
    # over two columns): joined inside the grants' one uncorrelated subquery,
    # not an EXISTS run again for every repository
    with app.test_request_context():
        session = portal_db.get_session()
        ringo = session.scalars(select(User).where(User.email == demo.RINGO)).one()
        statement = get_oso().authorized_query(ringo, "READ", Repository)
        sql = str(statement.compile(session.get_bind()))
        assert "EXISTS" not in sql
        assert sql.count("expires_at IS NULL") == 3  # grant, its membership, role
        # The grant's membership: its holder's role in its own organization.
        assert "repository_role.user_id = organization_role.user_id" in sql
        assert (
            "repository_role.organization_id = organization_role.organization_id" in sql
        )


# --- forms: setting, changing and clearing an expiry ---------------------------


def _change(api: Api, app: Flask, email: str, **body: str) -> Any:
    user_id = committed_scalar(
        app.extensions["portal.engine"], select(User.id).where(User.email == email)
    )
    guard = guard_of(app.extensions["portal.engine"], email)
    return api.post(f"/orgs/1/roles/{user_id}", {**guard, **body})


def test_role_expiry_set_changed_and_cleared_on_the_member_page_audited(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    john = api_for(app, demo.JOHN)
    response = _change(john, app, demo.RINGO, name="MEMBER", expires="2026-12-31")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "until 31 Dec 2026, 00:00 UTC" in _body(response)["message"]
    ringo = _body(john.get("/orgs/1/roles/3"))["member"]
    assert ringo["expires_at"] == "2026-12-31T00:00:00Z" and not ringo["expired"]
    # Role and expiry at once; then only the expiry; then cleared.
    response = _change(
        john, app, demo.RINGO, name="BILLING", expires="2027-01-02T17:30"
    )
    assert response.status_code == 200
    response = _change(john, app, demo.RINGO, name="BILLING", expires="")
    assert response.status_code == 200
    assert _body(john.get("/orgs/1/roles/3"))["member"]["expires_at"] is None
    entries = db.execute(
        select(AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value)
        .where(AuditEntry.user_email == demo.RINGO)
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(e) for e in entries] == [
        ("role_expiry", None, "2026-12-31T00:00:00Z"),
        ("change", None, None),
        ("role_expiry", "2026-12-31T00:00:00Z", "2027-01-02T17:30:00Z"),
        ("role_expiry", "2027-01-02T17:30:00Z", None),
    ]
    page = john.client.get("/orgs/1/audit").get_data(as_text=True)
    assert "set ringo@beatles.com&#39;s" in page or "set ringo@beatles.com's" in page
    assert "to expire on 31 Dec 2026, 00:00 UTC" in page
    assert "permanent (it was to expire on 2 Jan 2027, 17:30 UTC)" in page


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("2026-12-01", "has passed"),
        ("2026-12-08T09:00", "has passed"),
        ("next tuesday", "is not a date"),
        ("2026-13-01", "is not a date"),
        # Offsets that carry the moment outside what UTC can say (was a 500).
        ("9999-12-31T23:59-01:00", "is out of range"),
        ("0001-01-01T00:00+01:00", "is out of range"),
    ],
)
def test_role_expiry_in_the_past_or_unparseable_is_422(
    app: Flask, db: Session, clock: MovingClock, typed: str, says: str
) -> None:
    john = api_for(app, demo.JOHN)
    response = _change(john, app, demo.RINGO, name="MEMBER", expires=typed)
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    assert (
        committed_scalar(
            db, select(OrganizationRole.expires_at).where(OrganizationRole.user_id == 3)
        )
        is None
    )


def test_role_expiry_same_role_same_expiry_changes_nothing(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    _expire(db, demo.RINGO, datetime(2026, 12, 31, tzinfo=UTC))
    john = api_for(app, demo.JOHN)
    response = _change(john, app, demo.RINGO, name="MEMBER", expires="2026-12-31")
    assert response.status_code == 422
    assert "with that expiry" in response.get_data(as_text=True)
    # A row's select sends no expiry: the role keeps it.
    response = _change(john, app, demo.RINGO, name="BILLING")
    assert response.status_code == 200
    assert _body(john.get("/orgs/1/roles/3"))["member"]["expires_at"] == (
        "2026-12-31T00:00:00Z"
    )


# --- the last owner whose role never expires -----------------------------------


def test_role_expiry_refused_for_the_last_permanent_owner(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    john = api_for(app, demo.JOHN)
    response = _change(john, app, demo.JOHN, name="OWNER", expires="2027-01-01")
    assert response.status_code == 409
    assert "last Owner whose role does not expire" in response.get_data(as_text=True)


def test_role_expiry_last_permanent_owner_cannot_step_down_while_others_expire(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    # why: Paul becomes an owner whose role expires: the organization would
    # lose its last owner by the clock if John stepped down
    john = api_for(app, demo.JOHN)
    response = _change(john, app, demo.PAUL, name="OWNER", expires="2027-01-01")
    assert response.status_code == 200
    response = _change(john, app, demo.JOHN, name="MEMBER", confirm="yes")
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "the other owners' roles expire" in text
    # Paul's expiring role may be taken away, changed or given up freely.
    response = _change(john, app, demo.PAUL, name="OWNER", expires="2027-02-01")
    assert response.status_code == 200
    # Once Paul's role never expires, John may go.
    response = _change(john, app, demo.PAUL, name="OWNER", expires="")
    assert response.status_code == 200
    response = _change(john, app, demo.JOHN, name="MEMBER", confirm="yes")
    assert response.status_code == 200


# --- pages say it -----------------------------------------------------------


def test_role_expiry_member_page_and_people_list_say_when(
    app: Flask, client: FlaskClient, db: Session, clock: MovingClock
) -> None:
    _expire(db, demo.RINGO, START + timedelta(days=3, minutes=1))
    _expire(db, demo.PAUL, datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    john = api_for(app, demo.JOHN)
    people = john.client.get("/orgs/1/roles").get_data(as_text=True)
    assert "expires in 3 days" in people and "expired on 5 Dec 2026" in people
    ringo = john.client.get("/orgs/1/roles/3").get_data(as_text=True)
    assert "expires in 3 days" in ringo and "11 Dec 2026, 09:01 UTC" in ringo
    assert 'value="2026-12-11 09:01"' in ringo  # the form shows the expiry
    paul = john.client.get("/orgs/1/roles/2").get_data(as_text=True)
    assert "expired on 5 Dec 2026" in paul and "it grants nothing now" in paul
    member = _body(john.get("/orgs/1/roles/2"))["member"]
    assert member["expires_at"] == "2026-12-05T12:00:00Z" and member["expired"]
    # Ringo's own page says when his role ends.
    own = api_for(app, demo.RINGO).client.get("/orgs/1/roles/3")
    assert "Your role" in own.get_data(as_text=True)
    assert "expires in 3 days" in own.get_data(as_text=True)


def test_role_expiry_repository_page_marks_expired_grants_and_says_mine(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    abbey = _repo_id(db, "Abbey Road")
    _expire_grant(db, demo.RINGO, START + timedelta(days=2, hours=1))
    ringo = api_for(app, demo.RINGO).client.get(f"/orgs/1/repos/{abbey}")
    assert "Your Writer role granted on Abbey Road expires in 2 days" in (
        ringo.get_data(as_text=True)
    )
    _expire_grant(db, demo.RINGO, datetime(2026, 12, 1, tzinfo=UTC))
    john = api_for(app, demo.JOHN)
    page = john.client.get(f"/orgs/1/repos/{abbey}").get_data(as_text=True)
    assert "Direct role expired on 1 Dec 2026" in page
    rows = _body(john.get(f"/orgs/1/repos/{abbey}"))["people"]
    [row] = [r for r in rows if r["user"]["email"] == demo.RINGO]
    assert row["direct_role"] == "WRITER" and row["expired"]
    assert row["expires_at"] == "2026-12-01T00:00:00Z"
    assert row["role"] == "READER"  # the base role still gives him READER


def test_role_expiry_repository_grant_form_sets_and_renews(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    abbey = _repo_id(db, "Abbey Road")
    john = api_for(app, demo.JOHN)
    response = john.post(
        f"/orgs/1/repos/{abbey}/roles",
        {"user_email": demo.PAUL, "name": "WRITER", "expires": "2026-12-20"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "expires on 20 Dec 2026" in _body(response)["message"]
    response = john.post(
        f"/orgs/1/repos/{abbey}/roles/2",
        {"name": "WRITER", "current": "WRITER", "expires": "2026-12-01"},
    )
    assert response.status_code == 422
    response = john.post(
        f"/orgs/1/repos/{abbey}/roles/2",
        {"name": "WRITER", "current": "WRITER", "expires": "2027-03-01 08:00"},
    )
    assert response.status_code == 200
    assert "until 1 Mar 2027, 08:00 UTC" in _body(response)["message"]
    db.rollback()  # a new transaction: it sees what the requests committed
    entries = db.execute(
        select(AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value)
        .where(AuditEntry.user_email == demo.PAUL)
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(e) for e in entries] == [
        ("add_repository_role", None, None),
        ("repository_role_expiry", None, "2026-12-20T00:00:00Z"),
        ("repository_role_expiry", "2026-12-20T00:00:00Z", "2027-03-01T08:00:00Z"),
    ]


# --- the command line ------------------------------------------------------


def test_role_expiry_assign_role_cli_expires(
    runner: FlaskCliRunner, db: Session, clock: MovingClock
) -> None:
    result = runner.invoke(
        args=["assign-role", demo.RINGO, "1", "BILLING", "--expires", "2026-12-31"]
    )
    assert result.exit_code == 0, result.output
    assert "until 31 Dec 2026, 00:00 UTC" in result.output
    listed = runner.invoke(args=["list-roles", "1"]).output
    assert re.search(
        r"ringo@beatles.com\s+BILLING  expires 2026-12-31T00:00:00Z", listed
    )
    result = runner.invoke(
        args=["assign-role", demo.RINGO, "1", "BILLING", "--expires", "2026-01-01"]
    )
    assert result.exit_code != 0 and "has passed" in result.output
    result = runner.invoke(
        args=["assign-role", demo.RINGO, "1", "BILLING", "--expires", "never"]
    )
    assert result.exit_code == 0 and "with no expiry" in result.output


def test_role_expiry_sweep_records_each_expiry_once(
    runner: FlaskCliRunner, db: Session, clock: MovingClock
) -> None:
    _expire(db, demo.PAUL, START - timedelta(hours=1))
    _expire(db, demo.RINGO, START + timedelta(hours=1))
    _expire_grant(db, demo.SULLY, START - timedelta(minutes=1))
    result = runner.invoke(args=["sweep-expired"])
    assert result.exit_code == 0, result.output
    assert "Recorded 1 expired role and 1 expired repository role." in result.output
    again = runner.invoke(args=["sweep-expired"])
    assert "Recorded 0 expired roles and 0 expired repository roles." in again.output
    clock.advance(hours=2)  # Ringo's expires now
    later = runner.invoke(args=["sweep-expired"])
    assert "Recorded 1 expired role and 0" in later.output
    entries = db.execute(
        select(AuditEntry.action, AuditEntry.user_email, AuditEntry.old_role)
        .where(AuditEntry.action.in_(["role_expired", "repository_role_expired"]))
        .order_by(AuditEntry.id)
    ).all()
    assert [tuple(e) for e in entries] == [
        ("role_expired", demo.PAUL, "MEMBER"),
        ("repository_role_expired", demo.SULLY, "WRITER"),
        ("role_expired", demo.RINGO, "MEMBER"),
    ]


def test_role_expiry_words_for_a_page(app: Flask, clock: MovingClock) -> None:
    with app.app_context():
        assert expiry.describe(None) is None
        assert expiry.describe(START + timedelta(days=3, hours=2)) == (
            "expires in 3 days"
        )
        assert expiry.describe(START + timedelta(hours=5)) == "expires in 5 hours"
        assert expiry.describe(START + timedelta(minutes=1)) == "expires in 1 minute"
        assert expiry.describe(START) == "expired on 8 Dec 2026"
        assert expiry.parse_expiry("2026-12-31T10:00+01:00") == datetime(
            2026, 12, 31, 9, 0, tzinfo=UTC
        )


# --- a time-limited owner or admin cannot outlast their own role ----------------


def test_role_expiry_a_time_limited_owner_cannot_outlast_their_own_role(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    # why: (review) Paul, an Owner until tomorrow, made his own role permanent
    # and then demoted John: "time-limited" meant nothing; nor may he give
    # anyone a role, or invite anyone, that ends later than his own
    john = api_for(app, demo.JOHN)
    response = _change(john, app, demo.PAUL, name="OWNER", expires="2026-12-09")
    assert response.status_code == 200, response.get_data(as_text=True)
    paul = api_for(app, demo.PAUL)
    refusals = [
        _change(paul, app, demo.PAUL, name="OWNER", expires=""),  # permanent
        _change(paul, app, demo.PAUL, name="OWNER", expires="2027-01-01"),
        _change(paul, app, demo.RINGO, name="OWNER"),  # Ringo's role: permanent
    ]
    # John, the last Owner whose role does not expire, stays one (the
    # last-owner rule answers first).
    assert (
        _change(paul, app, demo.JOHN, name="MEMBER", confirm="yes").status_code == 409
    )
    for refused in refusals:
        assert refused.status_code == 403, refused.get_data(as_text=True)
        assert "Your own role here ends on" in refused.get_data(as_text=True)
    invite = paul.post(
        "/orgs/1/roles", {"user_email": "alt@example.com", "name": "OWNER"}
    )
    assert invite.status_code == 403, invite.get_data(as_text=True)
    # Within his own time, he may.
    shorter = _change(paul, app, demo.RINGO, name="BILLING", expires="2026-12-08 18:00")
    assert shorter.status_code == 200, shorter.get_data(as_text=True)
    roles = {
        email: committed_scalar(
            db,
            select(OrganizationRole.expires_at)
            .join(User)
            .where(User.email == email, OrganizationRole.organization_id == 1),
        )
        for email in (demo.JOHN, demo.PAUL)
    }
    assert roles[demo.JOHN] is None  # still a permanent Owner
    assert roles[demo.PAUL] is not None


def test_role_expiry_a_time_limited_admin_cannot_make_a_grant_permanent(
    app: Flask, db: Session, clock: MovingClock
) -> None:
    repo_id = _repo_id(db, "Abbey Road")
    john = api_for(app, demo.JOHN)
    made = john.post(
        f"/orgs/1/repos/{repo_id}/roles",
        {"user_email": demo.RINGO, "name": "ADMIN", "expires": "2026-12-09"},
    )
    assert made.status_code == 200, made.get_data(as_text=True)
    ringo = api_for(app, demo.RINGO)
    own = ringo.post(
        f"/orgs/1/repos/{repo_id}/roles/{_user_id(db, demo.RINGO)}",
        {"name": "ADMIN", "current": "ADMIN", "expires": ""},
    )
    assert own.status_code == 403, own.get_data(as_text=True)
    friend = ringo.post(
        f"/orgs/1/repos/{repo_id}/roles",
        {"user_email": demo.PAUL, "name": "ADMIN"},
    )
    assert friend.status_code == 403, friend.get_data(as_text=True)
