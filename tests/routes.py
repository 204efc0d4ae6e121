"""The route matrix: every route x method, what each actor gets, and the pages.

One table that everything else derives from. tests/test_routes.py checks it
against app.url_map (a route without an entry fails) and against the app's answers
(an entry that renders HTML must say so). The hostile-input, header, XSS,
Oso-call and layout tests and bench/run.py iterate ``pages()``, so a new page is
covered by all of them as soon as it has its entry here.

Imports only the standard library and portal: bench/run.py imports it too and
runs without the test dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from portal.domain import demo

# Who asks: anonymous, a user with no role anywhere, each role in The Beatles, a
# member of The Beatles granted a repository role directly (Ringo, a Writer on
# Abbey Road; Paul reads it through the base role, John administers it as an
# owner), and the owner of the other organization.
ACTORS: dict[str, str | None] = {
    "anonymous": None,
    "no_role": demo.ADMIN,
    "billing": demo.GEORGE,
    "member": demo.PAUL,
    "repo_writer": demo.RINGO,
    "owner": demo.JOHN,
    "other_owner": demo.MIKE,
}

# The person the member routes act on ("{user_id}" in a rule): Ringo, a MEMBER of
# The Beatles. Demo users are inserted in demo.USERS order, so on a fresh
# database their ids follow it (tests/test_members.py checks that it holds).
TARGET = demo.RINGO
TARGET_ID = demo.USERS.index(TARGET) + 1
# Ringo's role row in The Beatles (what the member forms carry besides its name):
# the demo's role rows are inserted in demo.ROLES order, The Beatles first.
TARGET_ROLE_ID = list(demo.ROLES[demo.BEATLES_ID]).index(TARGET) + 1

# The repository the repository routes act on ("{repo_id}" in a rule): Abbey
# Road, The Beatles' first (demo repositories are inserted in order).
TARGET_REPO = demo.ORGANIZATIONS[demo.BEATLES_ID][2][0]
TARGET_REPO_ID = 1

# A token as the invitation links carry it (43 URL-safe characters) that no
# invitation has.
UNKNOWN_TOKEN = "x" * 43

LOGIN = "login"  # 302 to the login page
OK = 200
GONE = 404
NO = 403
MOVED = 302  # a redirect that is the route's normal answer
UNAUTHORIZED = 401  # an anonymous JSON request (no login page to go to)
DONE = 200  # a JSON write's outcome: {"message", "location"} instead of a redirect

Outcome = int | str
FormData = Callable[[str | None], dict[str, str]]


def _role_form(email: str | None) -> dict[str, str]:
    # The roles page's form invites (issue 19): someone without a role here.
    return {"user_email": demo.ADMIN, "name": "MEMBER"}


def _shown_target() -> dict[str, str]:
    """What the member forms carry for TARGET's role: its name and row id."""
    current = demo.ROLES[demo.BEATLES_ID][TARGET]
    return {"current": current, "current_id": str(TARGET_ROLE_ID)}


def _member_role_form(email: str | None) -> dict[str, str]:
    return {"name": "BILLING", **_shown_target()}


def _remove_form(email: str | None) -> dict[str, str]:
    return _shown_target()


def _password_form(email: str | None) -> dict[str, str]:
    new = "a brand new passphrase"
    return {"current_password": demo.PASSWORD, "new_password": new, "confirm": new}


def _organization_form(email: str | None) -> dict[str, str]:
    return {"name": "Wings"}


def _billing_address_form(email: str | None) -> dict[str, str]:
    # The field both the owner and the billing manager may change.
    return {"billing_address": "3 Savile Row\nLondon"}


def _delete_form(email: str | None) -> dict[str, str]:
    return {"confirm_name": demo.ORGANIZATIONS[demo.BEATLES_ID][0]}


def _repository_form(email: str | None) -> dict[str, str]:
    # A name per actor: the route matrix posts it once for each.
    return {"name": f"Let It Be ({email})"}


def _repository_rename_form(email: str | None) -> dict[str, str]:
    return {"name": "Abbey Road Studios", "current_name": TARGET_REPO}


def _repository_delete_form(email: str | None) -> dict[str, str]:
    return {"confirm_name": TARGET_REPO}


def _repository_grant_form(email: str | None) -> dict[str, str]:
    return {"user_email": demo.PAUL, "name": "WRITER"}


def _repository_grant_change_form(email: str | None) -> dict[str, str]:
    # TARGET's direct role on TARGET_REPO, as the demo grants it.
    return {"name": "ADMIN", "current": "WRITER"}


def _repository_grant_remove_form(email: str | None) -> dict[str, str]:
    return {"current": "WRITER"}


def _login_form(email: str | None) -> dict[str, str]:
    return {"email": demo.RINGO, "password": demo.PASSWORD}


@dataclass(frozen=True)
class Route:
    """One route x method: its URL and what each actor gets.

    ``rule`` is the URL with ``{org_id}`` where the route takes an organization,
    ``{user_id}`` where it takes a member (TARGET) and ``{repo_id}`` where it
    takes a repository (TARGET_REPO); ``path`` is the URL for
    The Beatles. A route that answers with an HTML page
    (to the actors whose outcome is OK) sets ``html`` and states how many Oso
    queries that page costs (``oso_queries``, for the actor in ``Page.actor``) on
    a cold cache, as the first request of a new app: the number must not grow
    with the rows on the page. Later requests answer from PortalOso's caches and
    cost fewer.
    """

    rule: str
    expected: dict[str, Outcome]
    form: FormData | None = None
    writes: frozenset[str] = field(default_factory=frozenset)  # may write
    html: bool = False
    oso_queries: int | None = None

    def __post_init__(self) -> None:
        # Refused at import: a half-stated entry would drop out of the derived tests.
        if set(self.expected) != set(ACTORS):
            raise ValueError(f"{self.rule}: state one outcome for each actor")
        if self.html and self.oso_queries is None:
            raise ValueError(f"{self.rule}: a page states its Oso queries")
        if self.html and OK not in self.expected.values():
            raise ValueError(f"{self.rule}: a page that nobody is shown")

    @property
    def path(self) -> str:
        """The URL for The Beatles (organization 1)."""
        return self.path_for(demo.BEATLES_ID)

    @property
    def takes_organization(self) -> bool:
        return "{org_id}" in self.rule

    def path_for(self, org_id: int | str) -> str:
        """The URL for organization org_id (any text, for hostile ids), about
        TARGET where the route takes a member and TARGET_REPO where it takes a
        repository (so another organization's URL names a repository it does not
        have)."""
        return (
            self.rule.replace("{org_id}", str(org_id))
            .replace("{user_id}", str(TARGET_ID))
            .replace("{repo_id}", str(TARGET_REPO_ID))
        )

    def __str__(self) -> str:
        return self.rule


def _everyone(outcome: Outcome, anonymous: Outcome = LOGIN) -> dict[str, Outcome]:
    return {actor: (anonymous if actor == "anonymous" else outcome) for actor in ACTORS}


def _org(
    billing: Outcome,
    member: Outcome,
    owner: Outcome,
    repo_writer: Outcome | None = None,
) -> dict[str, Outcome]:
    """Outcomes in The Beatles by role; the repository writer (a member) gets
    what the member gets unless stated."""
    return {
        "anonymous": LOGIN,
        "no_role": GONE,
        "billing": billing,
        "member": member,
        "repo_writer": member if repo_writer is None else repo_writer,
        "owner": owner,
        "other_owner": GONE,
    }


_LOGGED_IN = frozenset(actor for actor in ACTORS if actor != "anonymous")

MATRIX: dict[tuple[str, str], Route] = {
    ("static", "GET"): Route("/static/portal.css", _everyone(OK, anonymous=OK)),
    ("health.healthz", "GET"): Route("/healthz", _everyone(OK, anonymous=OK)),
    ("orgs.index", "GET"): Route("/", _everyone(MOVED, anonymous=MOVED)),
    ("auth.login", "GET"): Route(
        "/login", _everyone(MOVED, anonymous=OK), html=True, oso_queries=0
    ),
    ("auth.login", "POST"): Route(
        "/login", _everyone(MOVED, anonymous=MOVED), _login_form
    ),
    ("auth.logout", "POST"): Route(
        "/logout", _everyone(MOVED, anonymous=MOVED), writes=_LOGGED_IN
    ),
    ("orgs.organization_list", "GET"): Route(
        "/orgs", _everyone(OK), html=True, oso_queries=1
    ),
    # Every signed-in page lists, in its header's organization switcher, the
    # organizations the user can READ: one list filter, counted below, which /orgs
    # shares with its own list (the same filter, asked once).
    # Three queries: the organization, the viewer's own role (the Leave button)
    # and the switcher.
    ("orgs.organization_show", "GET"): Route(
        "/orgs/{org_id}", _org(OK, OK, OK), html=True, oso_queries=3
    ),
    ("orgs.repository_list", "GET"): Route(
        "/orgs/{org_id}/repos", _org(NO, OK, OK), html=True, oso_queries=3
    ),
    ("orgs.billing_show", "GET"): Route(
        "/orgs/{org_id}/billing", _org(OK, NO, OK), html=True, oso_queries=2
    ),
    # Three queries: the organization, what the viewer may do to each row shown
    # (one question about the whole page: decide_rows) and the switcher.
    ("members.role_list", "GET"): Route(
        "/orgs/{org_id}/roles", _org(NO, OK, OK), html=True, oso_queries=3
    ),
    ("members.role_create", "POST"): Route(
        "/orgs/{org_id}/roles",
        _org(NO, NO, MOVED),
        _role_form,
        writes=frozenset({"owner"}),
    ),
    # The member pages are about Ringo. Looking someone else up needs
    # LIST_ROLES, asked before the lookup, so billing gets 403 whether or not
    # the person is a member (as on the roles page); a member may read Ringo's
    # role but not change or remove it (403). Three queries: the organization,
    # Ringo's role and the switcher; what roles grant is known at start-up.
    ("members.member_show", "GET"): Route(
        "/orgs/{org_id}/roles/{user_id}", _org(NO, OK, OK), html=True, oso_queries=3
    ),
    ("members.member_update", "POST"): Route(
        "/orgs/{org_id}/roles/{user_id}",
        _org(NO, NO, MOVED),
        _member_role_form,
        writes=frozenset({"owner"}),
    ),
    # Ringo himself may leave: the confirmation page, then the removal.
    ("members.member_delete", "GET"): Route(
        "/orgs/{org_id}/roles/{user_id}/delete",
        _org(NO, NO, OK, repo_writer=OK),
        html=True,
        oso_queries=3,
    ),
    ("members.member_delete", "POST"): Route(
        "/orgs/{org_id}/roles/{user_id}/delete",
        _org(NO, NO, MOVED, repo_writer=MOVED),
        _remove_form,
        writes=frozenset({"owner", "repo_writer"}),
    ),
    ("audit.audit_list", "GET"): Route(
        "/orgs/{org_id}/audit", _org(NO, NO, OK), html=True, oso_queries=2
    ),
    # Organizations (issue 18). Anyone signed in may create one (CREATE_ORGANIZATION
    # on their own account): two queries, that and the switcher.
    ("org_admin.organization_new", "GET"): Route(
        "/orgs/new", _everyone(OK), html=True, oso_queries=2
    ),
    ("org_admin.organization_create", "POST"): Route(
        "/orgs", _everyone(MOVED), _organization_form, writes=_LOGGED_IN
    ),
    # The settings page is for whoever may change something on it: the owner
    # (name, billing address, delete) and the billing manager (billing address).
    ("org_admin.settings", "GET"): Route(
        "/orgs/{org_id}/settings", _org(OK, NO, OK), html=True, oso_queries=2
    ),
    ("org_admin.settings_update", "POST"): Route(
        "/orgs/{org_id}/settings",
        _org(MOVED, NO, MOVED),
        _billing_address_form,
        writes=frozenset({"billing", "owner"}),
    ),
    ("org_admin.organization_delete", "GET"): Route(
        "/orgs/{org_id}/delete", _org(NO, NO, OK), html=True, oso_queries=2
    ),
    ("org_admin.organization_delete", "POST"): Route(
        "/orgs/{org_id}/delete",
        _org(NO, NO, MOVED),
        _delete_form,
        writes=frozenset({"owner"}),
    ),
    # Repositories (issue 18). A member may create one (CREATE_REPO), the billing
    # manager may not (403: they may read the organization). Renaming and deleting
    # are the repository's ADMIN's (owners are ADMIN on every repository): a
    # member who reads it through the base role gets 403, the billing manager,
    # who may not read it, 404. Their pages cost three queries: the repository,
    # the organization (the header's switcher shows it as the current one) and
    # the switcher's list.
    ("repositories.repository_create", "POST"): Route(
        "/orgs/{org_id}/repos",
        _org(NO, MOVED, MOVED),
        _repository_form,
        writes=frozenset({"member", "repo_writer", "owner"}),
    ),
    ("repositories.repository_settings", "GET"): Route(
        "/orgs/{org_id}/repos/{repo_id}/settings",
        _org(GONE, NO, OK),
        html=True,
        oso_queries=3,
    ),
    ("repositories.repository_settings", "POST"): Route(
        "/orgs/{org_id}/repos/{repo_id}/settings",
        _org(GONE, NO, MOVED),
        _repository_rename_form,
        writes=frozenset({"owner"}),
    ),
    ("repositories.repository_delete", "GET"): Route(
        "/orgs/{org_id}/repos/{repo_id}/delete",
        _org(GONE, NO, OK),
        html=True,
        oso_queries=3,
    ),
    ("repositories.repository_delete", "POST"): Route(
        "/orgs/{org_id}/repos/{repo_id}/delete",
        _org(GONE, NO, MOVED),
        _repository_delete_form,
        writes=frozenset({"owner"}),
    ),
    # The user's own page: READ on their own account, and their organizations
    # (the switcher's list filter, asked once): two queries.
    ("account.account_show", "GET"): Route(
        "/account", _everyone(OK), html=True, oso_queries=2
    ),
    # Every repository the user may read, across organizations: the list filter,
    # what the user may do to the page's rows (decide_rows, for their role on
    # each) and the switcher.
    ("my_repositories.repository_list", "GET"): Route(
        "/repos", _everyone(OK), html=True, oso_queries=3
    ),
    # One repository's access (issue 18): whoever may READ it (the owner as an
    # Admin, a member through the base role); billing has no repository role
    # (404). Three queries: the repository, the organization (the header names
    # it) and the switcher; the reasons, the row controls and the roles table
    # come from what the policy answered at start-up and the one decision.
    ("repository_access.repository_show", "GET"): Route(
        "/orgs/{org_id}/repos/{repo_id}",
        _org(GONE, OK, OK),
        html=True,
        oso_queries=3,
    ),
    ("repository_access.grant_create", "POST"): Route(
        "/orgs/{org_id}/repos/{repo_id}/roles",
        _org(GONE, NO, MOVED),
        _repository_grant_form,
        writes=frozenset({"owner"}),
    ),
    # Ringo's direct Writer on Abbey Road (the demo's): changed and removed by
    # whoever may manage the repository's roles (the owner, an Admin there).
    ("repository_access.grant_update", "POST"): Route(
        "/orgs/{org_id}/repos/{repo_id}/roles/{user_id}",
        _org(GONE, NO, MOVED),
        _repository_grant_change_form,
        writes=frozenset({"owner"}),
    ),
    ("repository_access.grant_delete", "POST"): Route(
        "/orgs/{org_id}/repos/{repo_id}/roles/{user_id}/delete",
        _org(GONE, NO, MOVED),
        _repository_grant_remove_form,
        writes=frozenset({"owner"}),
    ),
    ("account.password_change", "GET"): Route(
        "/account/password", _everyone(OK), html=True, oso_queries=2
    ),
    ("account.password_change", "POST"): Route(
        "/account/password", _everyone(MOVED), _password_form, writes=_LOGGED_IN
    ),
    # --- invitations (issue 19) ---
    # The link's page is public: its token lets its holder in. An unknown token
    # is one 404 page for everyone (tests/test_invitations.py opens real ones).
    ("invitations.invitation_show", "GET"): Route(
        f"/invitations/{UNKNOWN_TOKEN}", _everyone(GONE, anonymous=GONE)
    ),
    ("invitations.invitation_accept", "POST"): Route(
        f"/invitations/{UNKNOWN_TOKEN}", _everyone(GONE, anonymous=GONE)
    ),
    ("invitations.invitation_decline", "POST"): Route(
        f"/invitations/{UNKNOWN_TOKEN}/decline", _everyone(GONE, anonymous=GONE)
    ),
    # Resend and Revoke are the organization's CREATE_ROLE, asked before the
    # invitation is looked up: the owner, allowed, finds no invitation 1 in the
    # demo data (404); a member or billing manager is refused first (403).
    ("invitations.invitation_resend", "POST"): Route(
        "/orgs/{org_id}/invitations/1/resend", _org(NO, NO, GONE)
    ),
    ("invitations.invitation_revoke", "POST"): Route(
        "/orgs/{org_id}/invitations/1/revoke", _org(NO, NO, GONE)
    ),
}

# --- password reset (issue 19) ----------------------------------------------------
# Public pages: anyone may ask for a link (a signed-in user who forgot the
# password too: the password page wants the current one). A link that is no
# token is the same 404 for everyone; the working link's page is tested in
# tests/test_password_reset.py (a token exists only once a request made it).

ALL_ACTORS = frozenset(ACTORS)
NOT_A_TOKEN = "/password/reset/" + "A" * 43


def _forgot_form(email: str | None) -> dict[str, str]:
    return {"email": email or demo.RINGO}


def _reset_form(email: str | None) -> dict[str, str]:
    new = "a brand new passphrase"
    return {"new_password": new, "confirm": new}


MATRIX.update(
    {
        ("password.forgot", "GET"): Route(
            "/password/forgot", _everyone(OK, anonymous=OK), html=True, oso_queries=1
        ),
        ("password.forgot", "POST"): Route(
            "/password/forgot",
            _everyone(MOVED, anonymous=MOVED),
            _forgot_form,
            writes=ALL_ACTORS,
        ),
        ("password.forgot_sent", "GET"): Route(
            "/password/forgot/sent",
            _everyone(OK, anonymous=OK),
            html=True,
            oso_queries=1,
        ),
        ("password.reset", "GET"): Route(NOT_A_TOKEN, _everyone(GONE, anonymous=GONE)),
        ("password.reset", "POST"): Route(
            NOT_A_TOKEN, _everyone(GONE, anonymous=GONE), _reset_form
        ),
    }
)

PUBLIC = {
    "static",
    "auth.login",
    "auth.logout",
    "orgs.index",
    "health.healthz",
    # Issue 19: the invitation link's page and its buttons.
    "invitations.invitation_show",
    "invitations.invitation_accept",
    "invitations.invitation_decline",
}
PUBLIC |= {"password.forgot", "password.forgot_sent", "password.reset"}


def json_outcome(method: str, outcome: Outcome) -> int:
    """The JSON column: what a JSON request gets where a browser gets outcome.

    The same status, except that an anonymous request gets 401 instead of the
    login page, and a write answers 200 with its outcome instead of redirecting
    (a GET's redirect stays one).
    """
    if outcome == LOGIN:
        return UNAUTHORIZED
    if outcome == MOVED and method != "GET":
        return DONE
    assert isinstance(outcome, int)
    return outcome


JSON_MATRIX: dict[tuple[str, str], dict[str, int]] = {
    (endpoint, method): {
        actor: json_outcome(method, outcome)
        for actor, outcome in route.expected.items()
    }
    for (endpoint, method), route in MATRIX.items()
}


@dataclass(frozen=True)
class Page:
    """A GET route that renders an HTML page, and who is shown it."""

    endpoint: str
    route: Route
    actor: str  # the owner of The Beatles where they see it, else the first who does

    @property
    def path(self) -> str:
        return self.route.path

    @property
    def email(self) -> str | None:
        """Whom to log in as to see the page (None: anonymous)."""
        return ACTORS[self.actor]

    @property
    def oso_queries(self) -> int:
        """The Oso queries the page costs actor (stated for every page)."""
        return self.route.oso_queries or 0

    @property
    def shows_organizations(self) -> bool:
        """Whether the page shows organization data (names at least)."""
        return self.path.startswith("/orgs")

    def __str__(self) -> str:
        return self.path


def pages() -> list[Page]:
    """Every page, each with its path for The Beatles (organization 1)."""
    found = []
    for (endpoint, method), route in MATRIX.items():
        if method == "GET" and route.html:
            seen_by = [actor for actor, got in route.expected.items() if got == OK]
            actor = "owner" if "owner" in seen_by else seen_by[0]
            found.append(Page(endpoint, route, actor))
    return found


def routes(method: str | None = None) -> list[tuple[str, str, Route]]:
    """(endpoint, method, route) of every entry, or of those for method."""
    return [
        (endpoint, route_method, route)
        for (endpoint, route_method), route in MATRIX.items()
        if method in (None, route_method)
    ]


def organization_routes(method: str = "GET") -> list[Route]:
    """The routes for method that take an organization id."""
    return [route for _, _, route in routes(method) if route.takes_organization]
