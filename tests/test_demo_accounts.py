"""The demo accounts on the login page: listed when DEMO_ACCOUNTS is on (make run
sets it), never by default nor in production (make serve, gunicorn.conf.py)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from portal import create_app
from portal.authz import words
from portal.domain import demo, roles
from portal.domain.models import ROLE_NAMES, Organization
from tests.conftest import user_by_email
from tests.database import engine_of
from tests.settings import app_settings
from tests.test_models import statements

ROOT = Path(__file__).resolve().parents[1]


MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(db_url: str) -> Iterator[MakeApp]:
    """create_app on the test's database with config added; engines disposed."""
    apps: list[Flask] = []

    def make(**config: object) -> Flask:
        app = create_app(
            {
                "SECRET_KEY": "k",
                "DATABASE_URL": db_url,
                "HTTPS": False,
                **app_settings(),
                **config,
            }
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["portal.engine"].dispose()


def _login_page(app: Flask) -> str:
    response = app.test_client().get("/login")
    assert response.status_code == 200
    return response.text


def _row(page: str, email: str) -> str:
    """The login page's list item of email's account."""
    return page.split(f">{email}</span>", 1)[1].split("</li>", 1)[0]


def test_demo_accounts_listed_when_switched_on(make_app: MakeApp) -> None:
    app = make_app(DEMO_ACCOUNTS=True)
    page = _login_page(app)
    assert "Demo accounts" in page
    assert f'<code class="demo-password">{demo.PASSWORD}</code>' in page
    with Session(app.extensions["portal.engine"]) as session, app.app_context():
        accounts = demo.accounts(session)
        role_names = {code: words().role(code).name for code in ROLE_NAMES}
    assert [account.email for account in accounts] == list(demo.USERS)
    for account in accounts:
        row = _row(page, account.email)
        for organization, role in account.roles:
            name = role_names[role]  # in words: "Owner", not OWNER
            assert re.search(rf">{name}</span> in {re.escape(organization)}", row)
        if not account.roles:
            assert "no role anywhere" in row


def test_demo_accounts_match_the_demo_roles(db: Session) -> None:
    accounts = {account.email: account.roles for account in demo.accounts(db)}
    assert list(accounts) == list(demo.USERS)
    assert accounts[demo.JOHN] == (("The Beatles", "OWNER"),)
    assert accounts[demo.MIKE] == (("Monsters Inc.", "OWNER"),)
    assert accounts[demo.ADMIN] == ()


def test_demo_accounts_show_the_roles_held_now(make_app: MakeApp) -> None:
    # why: the list was the seed's, so after the README's walkthrough made Ringo
    # a billing manager the login page still called him a member
    app = make_app(DEMO_ACCOUNTS=True)
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        john = user_by_email(session, demo.JOHN)
        monsters = session.get(Organization, demo.MONSTERS_ID)
        assert monsters is not None
        ringo, paul = (user_by_email(session, e) for e in (demo.RINGO, demo.PAUL))
        beatles = ringo.roles[0].organization
        roles.reassign_user_role(session, beatles, ringo, "BILLING", actor=john)
        roles.delete_user_role(session, beatles, paul, actor=paul)
        roles.add_user_role(session, monsters, john, "MEMBER", actor=None)
    page = _login_page(app)
    assert ">Billing manager</span> in The Beatles" in _row(page, demo.RINGO)
    assert "no role anywhere" in _row(page, demo.PAUL)
    john_row = _row(page, demo.JOHN)
    assert ">Owner</span> in The Beatles" in john_row
    assert ">Member</span> in Monsters Inc." in john_row


def test_demo_accounts_read_in_one_query(db: Session) -> None:
    # why: one query per account (or per role) would grow with the data
    with statements(engine_of(db)) as seen:
        demo.accounts(db)
    assert len([s for s in seen if s.startswith("select")]) == 1, seen


def test_demo_accounts_not_listed_by_default(make_app: MakeApp) -> None:
    app = make_app()
    assert app.config["DEMO_ACCOUNTS"] is False
    page = _login_page(app)
    assert "Demo accounts" not in page and demo.PASSWORD not in page
    assert demo.GEORGE not in page


@pytest.mark.parametrize(
    ("value", "listed"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("0", False),
        ("", False),
        ("y", False),
    ],
)
def test_demo_accounts_from_the_environment(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    listed: bool,
) -> None:
    # why: only a clear yes lists accounts; a typo must not
    monkeypatch.setenv("PORTAL_DEMO_ACCOUNTS", value)
    assert (demo.PASSWORD in _login_page(make_app())) is listed


def _make_dry_run(target: str) -> str:
    """The commands `make target` would run (make -n: nothing is run)."""
    result = subprocess.run(
        ["make", "-n", "-B", target, "VENV=/nonexistent-venv", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_demo_accounts_make_run_switches_them_on() -> None:
    run = _make_dry_run("run")
    assert re.search(r"PORTAL_DEMO_ACCOUNTS=1 \S+/flask --app portal run", run), run


def test_demo_accounts_never_in_production() -> None:
    # why: make serve and gunicorn.conf.py are production; a list of accounts
    # and their password on a real login page would be a gift to attackers
    assert "DEMO_ACCOUNTS" not in _make_dry_run("serve")
    assert "DEMO_ACCOUNTS" not in (ROOT / "gunicorn.conf.py").read_text()
