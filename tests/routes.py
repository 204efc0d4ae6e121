"""The route matrix: every route x method, and what each actor gets.

tests/test_routes.py checks it against app.url_map, so a route without an entry
fails. Imports only the standard library and portal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from portal import demo

# Who asks: anonymous, a user with no role anywhere, each role in The Beatles, and
# the owner of the other organization.
ACTORS: dict[str, str | None] = {
    "anonymous": None,
    "no_role": demo.ADMIN,
    "billing": demo.GEORGE,
    "member": demo.PAUL,
    "owner": demo.JOHN,
    "other_owner": demo.MIKE,
}

LOGIN = "login"  # 302 to the login page
OK = 200
GONE = 404
NO = 403
MOVED = 302  # a redirect that is the route's normal answer

FormData = Callable[[str | None], dict[str, str]]


def _role_form(email: str | None) -> dict[str, str]:
    return {"user_email": demo.ADMIN, "name": "MEMBER"}


def _password_form(email: str | None) -> dict[str, str]:
    new = "a brand new passphrase"
    return {"current_password": demo.PASSWORD, "new_password": new, "confirm": new}


def _login_form(email: str | None) -> dict[str, str]:
    return {"email": demo.RINGO, "password": demo.PASSWORD}


@dataclass
class Route:
    path: str
    expected: dict[str, int | str]
    form: FormData | None = None
    writes: set[str] = field(default_factory=set)  # actors whose request may write


def _everyone(outcome: int | str, anonymous: int | str = LOGIN) -> dict[str, int | str]:
    return {actor: (anonymous if actor == "anonymous" else outcome) for actor in ACTORS}


def _org(billing: int, member: int, owner: int) -> dict[str, int | str]:
    return {
        "anonymous": LOGIN,
        "no_role": GONE,
        "billing": billing,
        "member": member,
        "owner": owner,
        "other_owner": GONE,
    }


MATRIX: dict[tuple[str, str], Route] = {
    ("static", "GET"): Route("/static/portal.css", _everyone(OK, anonymous=OK)),
    ("orgs.index", "GET"): Route("/", _everyone(MOVED, anonymous=MOVED)),
    ("auth.login", "GET"): Route("/login", _everyone(MOVED, anonymous=OK)),
    ("auth.login", "POST"): Route(
        "/login", _everyone(MOVED, anonymous=MOVED), _login_form
    ),
    ("auth.logout", "POST"): Route(
        "/logout",
        _everyone(MOVED, anonymous=MOVED),
        writes={"no_role", "billing", "member", "owner", "other_owner"},
    ),
    ("orgs.organization_list", "GET"): Route("/orgs", _everyone(OK)),
    ("orgs.organization_show", "GET"): Route("/orgs/1", _org(OK, OK, OK)),
    ("orgs.repository_list", "GET"): Route("/orgs/1/repos", _org(NO, OK, OK)),
    ("orgs.billing_show", "GET"): Route("/orgs/1/billing", _org(OK, NO, OK)),
    ("members.role_list", "GET"): Route("/orgs/1/roles", _org(NO, OK, OK)),
    ("members.role_create", "POST"): Route(
        "/orgs/1/roles", _org(NO, NO, MOVED), _role_form, writes={"owner"}
    ),
    ("account.password_change", "GET"): Route("/account/password", _everyone(OK)),
    ("account.password_change", "POST"): Route(
        "/account/password",
        _everyone(MOVED),
        _password_form,
        writes={"no_role", "billing", "member", "owner", "other_owner"},
    ),
}

PUBLIC = {"static", "auth.login", "auth.logout", "orgs.index"}
