"""No dead controls, no unreachable rights: the UI shows exactly what the policy
allows (issue 8).

A crawler logs in as each demo user through the login form, starts at /orgs and
follows every same-site link breadth first; it submits the GET forms (the roles
search) as shown and with a search term, and records every POST form. Then:

- every link and GET form shown answers below 400 (a 403 or 404 is a control the
  policy refuses, a 5xx a broken one), and so does every redirect's target;
- every POST form shown, submitted with harmless valid data in a sandbox (a fresh
  app on a fresh copy of the seeded database), is accepted: the fixture's data is
  never changed;
- the other way round, every route x method tests/routes.py MATRIX allows an actor
  (OK, or MOVED for a write) is reachable from a link or form shown to them.

The parser is the standard library's html.parser: no browser, no new dependency.
"""

from __future__ import annotations

import shutil
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from portal import create_app
from portal.authz import Viewer, get_oso
from portal.domain import demo, roles
from portal.domain.models import ROLE_NAMES, Organization, OrganizationRole, Repository
from portal.domain.roles import OWNER
from portal.infra import db as portal_db
from portal.infra import migrate
from tests.apps import SharedApp
from tests.conftest import AuthActions, signed_in, user_by_email
from tests.database import PostgresSchemas, snapshot
from tests.routes import ACTORS, MATRIX, MOVED, OK, Outcome
from tests.settings import app_settings

START = "/orgs"
SITE = "localhost"  # the test client's host: links to it are same-site
# A search term for text fields of GET forms: it matches people in The Beatles
# and nobody in Monsters Inc., so both the list and its "no match" page are shown.
SEARCH_TERM = "ringo"
# Paged lists and searches can make many URLs of one view; past this many per
# endpoint they are recorded (they still count as shown) but not fetched. The
# demo data makes at most a dozen of any one.
MAX_URLS_PER_ENDPOINT = 40
TEXT_INPUTS = {"text", "email", "search", "password", "tel", "url", "number", ""}
NOT_SUBMITTED = {"submit", "button", "reset", "image", "file"}

# Routes no page needs to link to, each with why (the reverse check skips them).
UNLINKED = {
    # The stylesheet: loaded by <link>, not a control anyone follows.
    ("static", "GET"),
    # For load balancers and uptime probes, not people.
    ("health.healthz", "GET"),
    # The login form is shown to anonymous visitors only; a signed-in user who
    # posts it anyway is sent on to their organizations (MOVED).
    ("auth.login", "POST"),
    # Issue 19: "Forgot your password?" is linked from the login page, which a
    # signed-in crawler never sees (tests/test_password_reset.py follows it).
    ("password.forgot", "GET"),
    ("password.forgot", "POST"),
    ("password.forgot_sent", "GET"),
}


# --- reading a page -------------------------------------------------------------


@dataclass
class Input:
    """One form control: its name, kind, shown value and (select) options."""

    name: str
    kind: str  # an <input>'s type, or "select" or "textarea"
    value: str
    disabled: bool
    checked: bool = False
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    """One form as shown: where it was found, its method, action and controls."""

    page: str
    method: str
    action: str  # path and query, resolved against the page
    inputs: list[Input] = field(default_factory=list)
    buttons: list[bool] = field(default_factory=list)  # each submit's "disabled"

    @property
    def usable(self) -> bool:
        """Whether a person can submit it: some submit button is enabled."""
        return not self.buttons or not all(self.buttons)

    def shown_values(self) -> dict[str, str]:
        """What a browser submits as shown: enabled, named controls only."""
        values: dict[str, str] = {}
        for control in self.inputs:
            if control.disabled or not control.name:
                continue
            if control.kind in {"checkbox", "radio"} and not control.checked:
                continue
            if control.kind == "select" and not control.value:
                # No option marked selected: a browser sends the first one.
                values[control.name] = control.options[0] if control.options else ""
            else:
                values[control.name] = control.value
        return values


class PageParser(HTMLParser):
    """The links (<a href>) and forms of one HTML page."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Input | None = None
        self._textarea: Input | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record links, forms and the controls inside the open form."""
        attr = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in attr:
            self.links.append(attr["href"])
        elif tag == "form":
            method = attr.get("method", "get").upper() or "GET"
            action = urljoin(self.page, attr.get("action") or self.page)
            self._form = Form(self.page, method, action)
        elif self._form is not None:
            self._control(self._form, tag, attr)

    def _control(self, form: Form, tag: str, attr: dict[str, str]) -> None:
        """Record a control (or a select's option) of the open form."""
        disabled = "disabled" in attr
        if tag == "input":
            kind = attr.get("type", "text").lower()
            if kind in {"submit", "image"}:
                form.buttons.append(disabled)
            if kind not in NOT_SUBMITTED:
                form.inputs.append(
                    Input(
                        attr.get("name", ""),
                        kind,
                        attr.get("value", ""),
                        disabled,
                        checked="checked" in attr,
                    )
                )
        elif tag == "button" and attr.get("type", "submit").lower() == "submit":
            form.buttons.append(disabled)
        elif tag == "select":
            self._select = Input(attr.get("name", ""), "select", "", disabled)
            form.inputs.append(self._select)
        elif tag == "option" and self._select is not None:
            self._select.options.append(attr.get("value", ""))
            if "selected" in attr:
                self._select.value = attr.get("value", "")
        elif tag == "textarea":
            self._textarea = Input(attr.get("name", ""), "textarea", "", disabled)
            form.inputs.append(self._textarea)

    def handle_data(self, data: str) -> None:
        """A textarea's shown text is its value."""
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        """Close the form, select or textarea that ends here."""
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def read_page(page: str, html: str) -> PageParser:
    """The links and forms of html, found on the URL page."""
    parser = PageParser(page)
    parser.feed(html)
    parser.close()
    return parser


def same_site(page: str, href: str) -> str | None:
    """href as a path and query on this site, or None: another site, another
    scheme (mailto:, javascript:), a fragment of the page, a static file."""
    if href.startswith("#"):
        return None
    parts = urlsplit(urljoin(f"http://{SITE}{page}", href))
    if parts.scheme not in {"http", "https"} or parts.netloc != SITE:
        return None
    if parts.path.startswith("/static/"):
        return None
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def endpoint_of(app: Flask, url: str, method: str = "GET") -> str | None:
    """The endpoint that answers method url, or None if no route matches."""
    adapter = app.url_map.bind(SITE)
    try:
        endpoint, _args = adapter.match(urlsplit(url).path, method=method)
    except HTTPException:
        return None
    return str(endpoint)


def get_form_urls(form: Form) -> list[str]:
    """The URLs a GET form leads to: as shown, and with SEARCH_TERM in its empty
    text fields."""
    shown = form.shown_values()
    searched = dict(shown)
    for control in form.inputs:
        if control.kind in TEXT_INPUTS and control.name and not control.value:
            searched[control.name] = SEARCH_TERM
    path = urlsplit(form.action).path
    return [f"{path}?{urlencode(values)}" for values in (shown, searched)]


# --- crawling -------------------------------------------------------------------


@dataclass
class Crawl:
    """What one user was shown: links, forms, and what each fetched URL answered."""

    links: dict[str, str] = field(default_factory=dict)  # URL -> shown on page
    # (method, action, the path of the page showing it) -> the form as first
    # shown there: one form may be shown on several pages (a member's change
    # form on their page and on their row of the people page), and each must
    # work where it is shown. The same page searched differently shows the same
    # forms: one of them is enough.
    forms: dict[tuple[str, str, str], Form] = field(default_factory=dict)
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)  # status, on

    def failures(self) -> list[str]:
        """Every fetched URL that answered 400 or more, with the page showing it."""
        return [
            f"{url} answered {status} (shown on {shown_on})"
            for url, (status, shown_on) in sorted(self.answers.items())
            if status >= 400
        ]

    def reached(self, app: Flask) -> set[tuple[str, str, str]]:
        """(endpoint, method, path) of every link and usable form shown."""
        found = {("GET", url) for url in self.links}
        found |= {
            (form.method, form.action) for form in self.forms.values() if form.usable
        }
        return {
            (endpoint, method, urlsplit(url).path)
            for method, url in found
            if (endpoint := endpoint_of(app, url, method)) is not None
        }


def crawl(app: Flask, client: FlaskClient) -> Crawl:
    """Follow every same-site link and GET form from START, breadth first."""
    seen = Crawl()
    queue: deque[tuple[str, str]] = deque([(START, "(start)")])
    per_endpoint: dict[str | None, int] = {}
    while queue:
        url, shown_on = queue.popleft()
        endpoint = endpoint_of(app, url)
        if (
            url in seen.answers
            or per_endpoint.get(endpoint, 0) >= MAX_URLS_PER_ENDPOINT
        ):
            continue
        per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1
        response = client.get(url)
        response.close()
        seen.answers[url] = (response.status_code, shown_on)
        if response.status_code in {301, 302, 303, 307, 308}:
            target = same_site(url, response.location)
            if target is not None:
                queue.append((target, f"the redirect from {url}"))
            continue
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = read_page(url, response.get_data(as_text=True))
        queue.extend(_found_on(seen, url, page))
    return seen


def _found_on(seen: Crawl, url: str, page: PageParser) -> list[tuple[str, str]]:
    """What to crawl next from page (with where it was shown); its POST forms
    are kept in seen."""
    found: list[tuple[str, str]] = []
    for href in page.links:
        target = same_site(url, href)
        if target is not None:
            seen.links.setdefault(target, url)
            found.append((target, url))
    for form in page.forms:
        if form.method == "GET":
            for target in get_form_urls(form):
                seen.links.setdefault(target, url)
                found.append((target, f"the form on {url}"))
        else:
            key = (form.method, form.action, urlsplit(url).path)
            seen.forms.setdefault(key, form)
    return found


def logged_in(app: Flask, email: str) -> FlaskClient:
    """A new client of app, logged in as email through the login form."""
    client = app.test_client()
    response = AuthActions(client).login(email)
    assert response.status_code == 302, f"cannot log in as {email}"
    return client


# --- harmless valid data for POST forms -------------------------------------------


@dataclass(frozen=True)
class Context:
    """Who submits a form, the values it shows, and its action's URL values."""

    email: str
    form: Form
    values: dict[str, str]
    args: Mapping[str, object]  # e.g. {"org_id": 1}
    app: Flask  # the sandbox's, to read what the page was about


def _new_member(context: Context) -> dict[str, str]:
    """Invite a demo user who has no role in the organization yet, to a role
    that ends far ahead."""
    roles = demo.ROLES[int(str(context.args["org_id"]))]
    email = next(user for user in demo.USERS if user not in roles)
    return {"user_email": email, "name": "MEMBER", "expires": FAR_EXPIRY}


def _other_role(context: Context) -> dict[str, str]:
    """Change a role to another one below OWNER (the form's hidden ``current``
    says which role it was shown for)."""
    current = context.values["current"]
    return {
        "name": next(n for n in ROLE_NAMES if n not in {current, OWNER}),
        # Time-limited roles (issue 19): optional; an expiry far ahead.
        "expires": context.values.get("expires") or FAR_EXPIRY,
    }


# An expiry no test outlives (a role that expires, in a form that takes one).
FAR_EXPIRY = "2099-12-31 00:00"


def _new_password(context: Context) -> dict[str, str]:
    """The demo password, and a new one that meets the rules."""
    new = "a crawler's new passphrase"
    return {"current_password": demo.PASSWORD, "new_password": new, "confirm": new}


def _new_organization(context: Context) -> dict[str, str]:
    """A name no organization has."""
    return {"name": "A crawler's organization"}


def _settings(context: Context) -> dict[str, str]:
    """The rename form: another name (its own is refused as no change); the
    billing address form: the address as shown."""
    if "name" in context.values:
        return {"name": f"{context.values['name']} (renamed)"}
    return {}


def _typed_name(context: Context) -> dict[str, str]:
    """The organization's name, typed to confirm its deletion."""
    with Session(context.app.extensions["portal.engine"]) as session:
        organization = session.get(Organization, int(str(context.args["org_id"])))
        assert organization is not None
        return {"confirm_name": organization.name}


def _repository_grant(context: Context) -> dict[str, str]:
    """Give a member of the organization a role on the repository directly."""
    roles = demo.ROLES[int(str(context.args["org_id"]))]
    email = next(user for user, role in roles.items() if role == "MEMBER")
    return {"user_email": email, "name": "WRITER", "expires": FAR_EXPIRY}


def _new_repository(context: Context) -> dict[str, str]:
    """A name no repository of the organization has."""
    return {"name": "A crawler's repository"}


def _repository_rename(context: Context) -> dict[str, str]:
    """Another name (its own is refused as no change)."""
    return {"name": f"{context.values.get('current_name', 'Abbey Road')} (renamed)"}


def _typed_repository_name(context: Context) -> dict[str, str]:
    """The repository's name, typed to confirm its deletion."""
    with Session(context.app.extensions["portal.engine"]) as session:
        repository = session.get(Repository, int(str(context.args["repo_id"])))
        assert repository is not None
        return {"confirm_name": repository.name}


# Per endpoint: the values that make its form valid without harming anyone. A new
# POST form with a text field fails until it has an entry (the shown value of an
# empty field is no valid data).
HARMLESS: dict[str, Callable[[Context], dict[str, str]]] = {
    "members.role_create": _new_member,
    "members.member_update": _other_role,
    "account.password_change": _new_password,
    "org_admin.organization_create": _new_organization,
    "org_admin.settings_update": _settings,
    "org_admin.organization_delete": _typed_name,
    "repository_access.grant_create": _repository_grant,
    # A grant's row form, its role as shown, given an expiry (issue 19).
    "repository_access.grant_update": lambda context: {"expires": FAR_EXPIRY},
    "repositories.repository_create": _new_repository,
    "repositories.repository_settings": _repository_rename,
    "repositories.repository_delete": _typed_repository_name,
}


def harmless_data(app: Flask, email: str, form: Form) -> dict[str, str]:
    """The values to submit form with: as shown, then the endpoint's HARMLESS ones;
    every text field must have been given one."""
    endpoint, args = app.url_map.bind(SITE).match(
        urlsplit(form.action).path, method=form.method
    )
    values = form.shown_values()
    fill = HARMLESS.get(str(endpoint))
    if fill is not None:
        values.update(fill(Context(email, form, values, args, app)))
    empty = [
        control.name
        for control in form.inputs
        if control.kind in TEXT_INPUTS
        and control.name in values  # named and enabled: a browser sends it
        and not values[control.name]
    ]
    assert not empty, f"{endpoint}: give HARMLESS values for {empty}"
    return values


# --- sandboxes ------------------------------------------------------------------


def app_on(url: str) -> Flask:
    """An app on url, configured like conftest's app fixture (CSRF on)."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": url,
            "HTTPS": False,
            **app_settings(),
        }
    )


Sandbox = Callable[[], AbstractContextManager[Flask]]


@pytest.fixture(scope="session")
def sandbox_app() -> Iterator[SharedApp]:
    """The app of this process's sandboxes, a second one beside the crawled
    app's, reset for each sandbox as conftest's app fixture is (tests/apps.py)."""
    shared = SharedApp(lambda: app_on("sqlite://"))
    yield shared
    shared.dispose()


@pytest.fixture
def sandbox(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_backend: str,
    sandbox_app: SharedApp,
) -> Sandbox:
    """Make sandboxes: the sandbox app, reset, each time on a fresh copy of the
    seeded database (SQLite: a file copy; PostgreSQL: the process's sandbox
    schema, reset to the seeded rows: one sandbox at a time, as the crawl uses
    them)."""
    numbers = count()

    @contextmanager
    def new() -> Iterator[Flask]:
        """The sandbox app, as new, on a fresh copy of the seeded database."""
        if database_backend == "postgresql":
            schemas: PostgresSchemas = request.getfixturevalue("postgres")
            url = request.getfixturevalue("postgres_sandbox_schema")
            schemas.reset(url, request.getfixturevalue("postgres_template"))
        else:
            path = tmp_path / f"sandbox-{next(numbers)}.sqlite"
            shutil.copy(request.getfixturevalue("seeded_db_file"), path)
            url = f"sqlite:///{path}"
        with sandbox_app.on(url, keep_engine=database_backend == "postgresql") as app:
            yield app

    return new


@pytest.fixture(scope="session")
def postgres_sandbox_schema(postgres: PostgresSchemas) -> Iterator[str]:
    """A schema of this test process's for sandboxes, made by the migrations
    once (making one per sandbox ran every migration each time: most of a
    crawl's time); each sandbox resets its rows."""
    url = postgres.create()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    postgres.drop(url)


def shown_again(client: FlaskClient, form: Form) -> Form | None:
    """form as its page shows it to client now, or None if it no longer does."""
    response = client.get(form.page)
    if response.status_code != 200:
        return None
    for again in read_page(form.page, response.get_data(as_text=True)).forms:
        if (again.method, again.action) == (form.method, form.action) and again.usable:
            return again
    return None


def submit(app: Flask, client: FlaskClient, email: str, form: Form) -> list[str]:
    """Submit form with harmless valid data; what went wrong, there or where the
    answer leads."""
    data = harmless_data(app, email, form)
    response = client.open(form.action, method=form.method, data=data)
    where = f"{form.method} {form.action} (the form on {form.page})"
    if response.status_code >= 400:
        return [f"{where} answered {response.status_code}"]
    if response.status_code in {301, 302, 303, 307, 308}:
        landing = client.get(response.location)
        if landing.status_code >= 400:
            return [f"{where} led to {response.location}: {landing.status_code}"]
    return []


def submit_in_sandboxes(
    app: Flask, sandbox: Sandbox, email: str, forms: list[Form]
) -> list[str]:
    """Submit each form as email in a sandbox, one per kind of form (endpoint and
    method) while the page still shows the next one; what went wrong."""
    kinds: dict[tuple[str | None, str], list[Form]] = {}
    for form in forms:
        kind = (endpoint_of(app, form.action, form.method), form.method)
        kinds.setdefault(kind, []).append(form)
    problems: list[str] = []
    for same_kind in kinds.values():
        with ExitStack() as stack:
            current: tuple[Flask, FlaskClient] | None = None
            for form in same_kind:
                again = None if current is None else shown_again(current[1], form)
                if current is None or again is None:
                    # The first of its kind, or an earlier one took this form away
                    # (its page is gone after leaving, say): a fresh sandbox.
                    stack.close()
                    sandboxed = stack.enter_context(sandbox())
                    # The crawl logged in through the form: the session it started.
                    current = (sandboxed, signed_in(sandboxed.test_client(), email))
                    again = shown_again(current[1], form)
                    assert again is not None, f"a fresh copy does not show {form}"
                problems += submit(*current, email, again)
    return problems


# --- the tests ------------------------------------------------------------------


def allowed(outcome: Outcome, method: str) -> bool:
    """Whether MATRIX's outcome means the actor may use the route: a page shown,
    or a write done (answered by a redirect)."""
    return outcome == OK or (outcome == MOVED and method != "GET")


@pytest.mark.parametrize("email", demo.USERS)
def test_crawl_every_link_shown_opens(app: Flask, email: str) -> None:
    seen = crawl(app, logged_in(app, email))
    # why: a parser that finds nothing would pass the check below vacuously
    assert {"/", START, "/account/password"} <= set(seen.links), "no top bar"
    assert not seen.failures()


# Every user on the first backend; on both, an owner and a member, whose forms
# (between them every form the app draws) write through both databases.
CRAWLERS = [
    email
    if email in (demo.JOHN, demo.PAUL)
    else pytest.param(email, marks=pytest.mark.one_backend)
    for email in demo.USERS
]


@pytest.mark.parametrize("email", CRAWLERS)
def test_crawl_every_form_shown_accepts_harmless_data(
    app: Flask, sandbox: Sandbox, email: str
) -> None:
    client = logged_in(app, email)
    before = snapshot(app.extensions["portal.engine"])
    forms = [form for form in crawl(app, client).forms.values() if form.usable]
    assert forms, "not even the logout button was found"
    assert not submit_in_sandboxes(app, sandbox, email, forms)
    # why: the forms were submitted in sandboxes, never on the fixture's database
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("actor", [a for a, email in ACTORS.items() if email])
def test_crawl_reaches_every_allowed_route(app: Flask, actor: str) -> None:
    email = ACTORS[actor]
    assert email is not None
    reached = crawl(app, logged_in(app, email)).reached(app)
    missing = [
        f"{method} {spec.path} ({endpoint})"
        for (endpoint, method), spec in MATRIX.items()
        if allowed(spec.expected[actor], method)
        and (endpoint, method) not in UNLINKED
        and (endpoint, method, spec.path) not in reached
    ]
    assert not missing, f"allowed to {actor} but shown nowhere: {missing}"


@pytest.mark.parametrize("email", [e for e in demo.USERS if e != demo.ADMIN])
def test_crawl_reaches_every_right_over_ones_own_role(app: Flask, email: str) -> None:
    # why: the matrix's member rows are about Ringo; what each person may do to
    # their own role (open it, leave) is asked of the policy here, role by role,
    # and must be reachable too, unless the data refuses it (the last owner,
    # whose Leave is shown disabled with the reason)
    with app.test_request_context():
        session = portal_db.get_session()
        viewer = Viewer(session, user_by_email(session, email).id)
        expected = set()
        for role in session.scalars(
            select(OrganizationRole).where(OrganizationRole.user_id == viewer.user_id)
        ):
            actions = get_oso().authorized_actions(viewer, role)
            path = f"/orgs/{role.organization_id}/roles/{role.user_id}"
            if "READ" in actions:
                expected.add(("members.member_show", "GET", path))
            removal = roles.check_removal
            if "DELETE" in actions and _allowed_by_data(removal, session, role):
                expected.add(("members.member_delete", "GET", path + "/delete"))
                expected.add(("members.member_delete", "POST", path + "/delete"))
    reached = crawl(app, logged_in(app, email)).reached(app)
    assert expected, f"{email} holds no role the policy lets them see"
    assert not expected - reached, f"{email} cannot reach {expected - reached}"


def _allowed_by_data(
    check: Callable[..., object], session: Session, role: OrganizationRole
) -> bool:
    """Whether portal.domain.roles' dry run check lets the change to role go through."""
    try:
        check(session, role.organization, role.user)
    except roles.RoleError:
        return False
    return True


# --- the crawler's own checks ----------------------------------------------------


def test_crawl_does_not_count_a_disabled_form_as_reachable(app: Flask) -> None:
    # why: John is the Beatles' last owner, so his own role's form is shown with
    # its button disabled; a person cannot use it, nor may it satisfy the reverse
    # check for anyone
    john_id = demo.USERS.index(demo.JOHN) + 1  # inserted in demo.USERS order
    seen = crawl(app, logged_in(app, demo.JOHN))
    action = f"/orgs/{demo.BEATLES_ID}/roles/{john_id}"
    own = seen.forms[("POST", action, action)]  # on his own member page
    assert not own.usable
    # The people page shows his row without a form (the reason instead).
    assert ("POST", action, f"/orgs/{demo.BEATLES_ID}/roles") not in seen.forms
    assert ("members.member_update", "POST", own.action) not in seen.reached(app)


def test_crawl_sees_the_row_forms_of_the_people_page(app: Flask) -> None:
    # why: a member's change form is shown on their page and on their row; the
    # crawler keeps both, so each is submitted where it is shown
    ringo = f"/orgs/{demo.BEATLES_ID}/roles/{demo.USERS.index(demo.RINGO) + 1}"
    roles_page = f"/orgs/{demo.BEATLES_ID}/roles"
    seen = crawl(app, logged_in(app, demo.JOHN))
    row = seen.forms[("POST", ringo, roles_page)]
    assert row.usable and row.shown_values()["name"] == "MEMBER"
    assert seen.forms[("POST", ringo, ringo)].usable  # the member page's
    assert [control.options for control in row.inputs if control.name == "name"] == [
        list(ROLE_NAMES)
    ]


def test_crawl_refuses_a_text_field_without_harmless_data(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: an empty email is no valid data; a new form's text field must get a
    # value in HARMLESS rather than be submitted empty and refused as 422
    monkeypatch.delitem(HARMLESS, "members.role_create")
    seen = crawl(app, logged_in(app, demo.JOHN))
    roles_page = f"/orgs/{demo.BEATLES_ID}/roles"
    form = seen.forms[("POST", roles_page, roles_page)]
    with pytest.raises(AssertionError, match="user_email"):
        harmless_data(app, demo.JOHN, form)
