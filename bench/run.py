"""Benchmark with budgets: `make bench` measures, prints a table, fails on a miss.

    make bench                      # or: .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --quick      # smoke test: tiny data, no budgets
    .venv/bin/python bench/run.py --profile    # cProfile of list pages and a decision
    .venv/bin/python bench/run.py --only many-rows --match repositories

Builds throwaway SQLite databases in a temporary folder (demo size: the demo data;
scale size: the demo data plus the bench's scale data, see ``Scale``) and measures
through the Flask test client, in one process, so that every budget is a ratio of
two things measured side by side: the measured run and its control alternate
request by request, and the time is CPU time (``time.process_time``), the median
of many requests. These machines are noisy; absolute milliseconds are printed for
orientation only.

Budgets (exit status 1 if one is missed; each miss is named):

- Oso queries per request <= 3 on every page of tests/routes.py ``pages()``,
  counted by ``PortalOso.queries``, on a cold cache and on a warm one;
- every page <= 1.5x the CPU of its control, at demo size and at scale size. The
  control is a bench-only view in the same app (``/_control/...``) that loads the
  same rows with hand-written SQL and renders the same template with the same
  context, ``can``/``my_role`` answering from a precomputed table; its HTML must
  equal the page's (CSRF tokens aside), or the comparison is void and fails;
- one decision for the user with many roles <= 1.2x the same decision for a user
  with one role;
- ``/orgs`` for the user with many roles (1,000), the repositories of the
  organization with many repositories (5,000) and the roles page of the
  organization with many members (1,000) <= 1.3x the same pages showing a full
  page of rows (50) from a small total: once paged, a page must not cost more
  because the list behind it is long. The control's ratio for the same two
  pages is printed beside the budget's verdict (what the long list costs with no
  authorization at all). The same pages against a one-row page are
  printed beside, with the control's own ratio: 50 rows cost more to render than
  one even with no authorization at all (1.4-1.5x measured), so that comparison
  cannot carry a 1.3x budget;
- the roles page of the organization with many members (1,000) <= 1.5x The
  Beatles' (4 members), unsearched, with a search by email and role that finds
  a few, and with one that finds a second page: the search runs in SQL, so it
  must not slow down with the members behind it. The control's ratio for the
  same two pages is printed beside (what rendering more rows costs alone);
- the roles page of an organization with many members and 100 pending
  invitations <= 1.3x the same page without them (the same members and owner);
- every page as JSON (Accept: application/json) <= 1.1x the same page as HTML,
  asking Oso no more than the page does: the JSON shape replaces the template,
  the authorization is the same;
- gunicorn under ``wrk -t2 -c8`` (reported, no budget).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import http.cookiejar
import io
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, current_app, g, request
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from flask_login import current_user
from jinja2 import Environment
from oso import Oso
from sqlalchemy import Select, create_engine, insert, select, update
from sqlalchemy.orm import Session, contains_eager

from portal import create_app, members, my_repositories
from portal import repository_access as repository_access_view
from portal.authz import (
    AccessModel,
    Viewer,
    repository_access,
    strongest_repository_role,
    words,
)
from portal.authz.explain import access_model
from portal.domain import (
    demo,
    invitations,
    member_search,
    name_search,
    org_admin,
    paging,
    password_reset,
    repositories,
    repository_roles,
    roles,
)
from portal.domain.membership import find_membership, membership_of
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    AuditEntry,
    Invitation,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
    hash_link_token,
)
from portal.domain.overview import overview_of
from portal.forms import (
    DeleteOrganizationForm,
    DeleteRepositoryForm,
    ForgotPasswordForm,
    InvitationActionForm,
    InviteForm,
    LoginForm,
    MemberRoleForm,
    MemberSearchForm,
    NameSearchForm,
    OrganizationForm,
    PasswordForm,
    RemoveForm,
    RepositoryForm,
    RepositoryGrantForm,
    RepositorySettingsForm,
    SettingsForm,
)
from portal.infra import clock, migrate
from portal.infra import db as portal_db
from portal.web import refusals
from portal.web.guards import public
from portal.web.switcher import Switcher, switcher_of
from tests.factories import (
    bulk_organizations,
    bulk_repositories,
    bulk_repository_roles,
    bulk_roles,
    bulk_users,
)
from tests.routes import pages

MAX_QUERIES = 3
MAX_PAGE_VS_CONTROL = 1.5
MAX_MANY_ROLES_DECISION = 1.2
MAX_MANY_ROWS_PAGE = 1.3
MAX_ROLES_VS_BEATLES = 1.2  # x the same ratio of the controls
MAX_JSON_VS_PAGE = 1.1  # a page's JSON against its HTML, same request otherwise
HEAVY = "heavy@bench.example"  # the user with many roles
SINGLE = "single@bench.example"  # the user with one role, in an org of one row
FULL = "full@bench.example"  # a page's worth of roles, in an org with a page of rows
# MEMBERs with no base repository role who read what is granted to them: in the
# organization with many repositories (many grants), and in the full one (a
# grant on each of its page of repositories).
GRANTEE = "grantee@bench.example"
FULL_GRANTEE = "full-grantee@bench.example"


@dataclass(frozen=True)
class Scale:
    """How much data the scale-size database holds beyond the demo."""

    organizations: int = 10_000
    repositories: int = 100_000  # spread over the organizations
    heavy_roles: int = 1_000  # roles of the HEAVY user
    members: int = 1_000  # members of the organization with many members
    big_repositories: int = 5_000  # repositories of one organization
    big_grants: int = 1_000  # repository roles granted in that organization
    grantee_grants: int = 500  # of them to GRANTEE


QUICK = Scale(
    organizations=30,
    repositories=60,
    heavy_roles=10,
    members=10,
    big_repositories=20,
    big_grants=10,
    grantee_grants=5,
)


@dataclass
class Fixtures:
    """Ids of the scale data the many-rows budget compares."""

    many_repos_org: int = 0  # HEAVY is its OWNER
    many_members_org: int = 0  # HEAVY is its OWNER
    member_org: int = 0  # HEAVY is a MEMBER (for the decision)
    single_org: int = 0  # SINGLE is its OWNER, alone; it has one repository
    full_org: int = 0  # FULL is its OWNER; a page's worth of repositories and members
    many_members_org_size: int = 0  # members of many_members_org, HEAVY included
    # The same members as many_members_org (HEAVY its OWNER), and INVITATIONS
    # pending invitations.
    invited_org: int = 0


def build_database(path: Path, scale: Scale | None) -> tuple[str, Fixtures]:
    """The demo data (plus scale data unless scale is None) in a new SQLite file."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    # The migrations, not create_all: gunicorn (gunicorn.conf.py) refuses to
    # start on a database that is not at the migrations' head.
    migrate.upgrade(engine)
    fixtures = Fixtures()
    with Session(engine) as session:
        demo.seed_database(session)
        if scale is not None:
            fixtures = _scale_data(session, scale)
        session.commit()
    engine.dispose()
    return url, fixtures


def _scale_data(session: Session, scale: Scale) -> Fixtures:
    """Scale data through tests/factories.py (portal/domain/scale.py may replace it)."""
    orgs = bulk_organizations(session, scale.organizations, name="Bench org {i:05}")
    per_org = max(1, scale.repositories // scale.organizations)
    # One executemany for all of them: a call per organization would take minutes.
    session.execute(
        insert(Repository),
        [
            {"name": f"repo {i}", "organization_id": org_id}
            for org_id in orgs
            for i in range(per_org)
        ],
    )
    [heavy] = bulk_users(session, 1, email=HEAVY)
    [single] = bulk_users(session, 1, email=SINGLE)
    members = bulk_users(
        session, scale.members - 1, email="member-{i:05}@bench.example"
    )
    fixtures = Fixtures(
        many_repos_org=orgs[0],
        many_members_org=orgs[1],
        member_org=orgs[2],
        many_members_org_size=scale.members,
    )
    bulk_repositories(session, orgs[0], scale.big_repositories - per_org)
    roles = [(heavy, orgs[0], "OWNER"), (heavy, orgs[1], "OWNER")]
    roles += [(heavy, org_id, "MEMBER") for org_id in orgs[2 : scale.heavy_roles]]
    roles += [(user_id, orgs[1], "MEMBER") for user_id in members]
    [fixtures.single_org] = bulk_organizations(session, 1, name="Bench single org")
    bulk_repositories(session, fixtures.single_org, 1, name="the one repo")
    roles.append((single, fixtures.single_org, "OWNER"))
    # A page's worth of everything (PER_PAGE rows, no more): the many-rows pages
    # are compared with these, which render as many rows from a small total.
    [full] = bulk_users(session, 1, email=FULL)
    [fixtures.full_org] = bulk_organizations(session, 1, name="Bench full org")
    bulk_repositories(session, fixtures.full_org, paging.PER_PAGE, name="full {i:03}")
    roles.append((full, fixtures.full_org, "OWNER"))
    roles += [(full, org_id, "MEMBER") for org_id in orgs[-(paging.PER_PAGE - 1) :]]
    roles += [
        (user_id, fixtures.full_org, "MEMBER")
        for user_id in members[: paging.PER_PAGE - 1]
    ]
    [fixtures.invited_org] = bulk_organizations(session, 1, name="Bench invited org")
    roles.append((heavy, fixtures.invited_org, "OWNER"))
    roles += [(user_id, fixtures.invited_org, "MEMBER") for user_id in members]
    bulk_roles(session, roles)
    _invitations(session, fixtures.invited_org, heavy)
    _grants(session, scale, fixtures, orgs[0], members)
    return fixtures


#: Pending invitations of Fixtures.invited_org (the issue's 100).
INVITATIONS = 100


def _invitations(session: Session, org_id: int, inviter: int) -> None:
    """INVITATIONS pending invitations to org_id, sent by inviter, each with a
    link that works for a week."""
    now = clock.now()
    session.execute(
        insert(Invitation),
        [
            {
                "organization_id": org_id,
                "email": f"invited-{i:04}@bench.example",
                "role": "MEMBER",
                "token_hash": hash_link_token(f"bench-invitation-{i}"),
                "inviter_id": inviter,
                "inviter_email": HEAVY,
                "created_at": now,
                "expires_at": now + timedelta(days=7),
            }
            for i in range(INVITATIONS)
        ],
    )


def _grants(
    session: Session,
    scale: Scale,
    fixtures: Fixtures,
    big_org: int,
    members: list[int],
) -> None:
    """Repository roles granted directly: big_grants in the organization with many
    repositories (whose members get no base role), grantee_grants of them to
    GRANTEE, spread over its list, the others to members one each; and one on
    each of the full organization's repositories to FULL_GRANTEE."""
    for org_id in (big_org, fixtures.full_org):
        session.execute(
            update(Organization)
            .where(Organization.id == org_id)
            .values(base_repository_role=None)
        )
    [grantee] = bulk_users(session, 1, email=GRANTEE)
    [full_grantee] = bulk_users(session, 1, email=FULL_GRANTEE)
    others = members[: scale.big_grants - scale.grantee_grants]
    bulk_roles(
        session,
        [(grantee, big_org, "MEMBER"), (full_grantee, fixtures.full_org, "MEMBER")]
        + [(user_id, big_org, "MEMBER") for user_id in others],
    )
    repos = session.scalars(
        select(Repository.id)
        .where(Repository.organization_id == big_org)
        .order_by(Repository.name, Repository.id)
    ).all()
    step = len(repos) // scale.grantee_grants
    names = ("READER", "WRITER", "ADMIN")
    grants = [
        (grantee, repos[i * step], big_org, names[i % 3])
        for i in range(scale.grantee_grants)
    ]
    grants += [
        (user_id, repos[i * step + 1], big_org, names[i % 3])
        for i, user_id in enumerate(others)
    ]
    full_repos = session.scalars(
        select(Repository.id).where(Repository.organization_id == fixtures.full_org)
    ).all()
    grants += [
        (full_grantee, repo_id, fixtures.full_org, names[i % 3])
        for i, repo_id in enumerate(full_repos)
    ]
    bulk_repository_roles(session, grants)


# --- the control: the same template and rows, no authorization --------------------

# (user id, class name, row id) -> actions; (user id, org id) -> role name
_actions: dict[tuple[int, str, int], set[str]] = {}
_roles: dict[tuple[int, int], str | None] = {}


def _precomputed(resource: Organization | OrganizationRole | Repository) -> set[str]:
    """The current user's actions on resource, asked of plain Oso once."""
    key = (current_user.id, type(resource).__name__, resource.id)
    if key not in _actions:
        session = portal_db.get_session()
        viewer = Viewer(session, current_user.id)
        oso = current_app.extensions["portal.oso"]
        _actions[key] = set(Oso.authorized_actions(oso, viewer, resource))
        if isinstance(resource, Organization):
            _roles[(current_user.id, resource.id)] = viewer.role_in(resource)
    return _actions[key]


def _control_can(action: str, resource: Any) -> bool:
    return action in _precomputed(resource)


def _control_my_role(organization: Organization) -> str | None:
    _precomputed(organization)
    return _roles[(current_user.id, organization.id)]


_access: dict[int, AccessModel] = {}  # org id -> the policy's role grants


def _control_access(organization: Organization) -> AccessModel:
    """The roles x permissions model, asked of the policy once per organization."""
    if organization.id not in _access:
        oso = current_app.extensions["portal.oso"]
        _access[organization.id] = access_model(oso, organization, words())
    return _access[organization.id]


def _control_switcher() -> Switcher | None:
    """The header's organization switcher from a hand-written join (no policy),
    once per request like the page's."""
    if not current_user.is_authenticated:
        return None
    if "org_switcher" not in g:
        g.org_switcher = switcher_of(
            select(Organization)
            .join(OrganizationRole, OrganizationRole.organization_id == Organization.id)
            .where(OrganizationRole.user_id == current_user.id)
        )
    switcher: Switcher = g.org_switcher
    return switcher


def _control_next_step(
    error: roles.RoleError | None, organization: Organization
) -> refusals.Link | None:
    """A refusal's next step, the permission asked of the table."""
    return refusals.next_step(error, organization, may=_control_can)


def _control_environment(app: Flask) -> Environment:
    """The app's Jinja environment with can/my_role answering from the table
    and the header's switcher from plain SQL.

    A copy with a cache of its own: an imported macro file (org_tabs calls can)
    keeps the globals of the environment it was first loaded in.
    """
    if "bench.control_env" not in app.extensions:
        env = app.jinja_env.overlay(cache_size=100)
        env.globals = dict(
            app.jinja_env.globals,
            can=_control_can,
            my_role=_control_my_role,
            access=_control_access,
            next_step=_control_next_step,
            org_switcher=_control_switcher,
        )
        app.extensions["bench.control_env"] = env
    control: Environment = app.extensions["bench.control_env"]
    return control


def _render(template: str, **context: Any) -> str:
    """render_template, with the control's environment."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    app.extensions["portal.flask_oso"].skip_authorization()
    app.update_template_context(context)
    return _control_environment(app).get_template(template).render(context)


def _org(org_id: int) -> Organization:
    organization = portal_db.get_session().get(Organization, org_id)
    assert organization is not None
    return organization


def _page(statement: Select[Any], number: int = 1) -> paging.Page[Any]:
    """Page number (the first) of statement's rows, as the pages show it (no
    policy)."""
    return paging.paginate(portal_db.get_session(), statement, number)


@public  # like the login page itself
def control_login() -> ResponseReturnValue:
    return _render("auth/login.html", form=LoginForm())


def _search() -> NameSearchForm:
    """The list's search as the page reads it (the bench sends only good ones)."""
    search = NameSearchForm()
    if not search.validate():
        raise RuntimeError(f"the bench searches with bad input: {search.errors}")
    return search


def control_organization_list() -> ResponseReturnValue:
    search = _search()
    statement = (
        select(Organization)
        .join(OrganizationRole, OrganizationRole.organization_id == Organization.id)
        .where(OrganizationRole.user_id == current_user.id)
    )
    organizations = _page(
        name_search.matching(statement, Organization.name, search.term).order_by(
            Organization.name, Organization.id
        ),
        paging.page_number(request.args.getlist("page")),
    )
    # The viewer's roles, as the page reads them: one query for the page's rows.
    roles = name_search.roles_in(
        portal_db.get_session(),
        current_user.id,
        [org.id for org in organizations.items],
    )
    return _render(
        "orgs/list.html", organizations=organizations, roles=roles, search=search
    )


def _role(organization: Organization, user_id: int) -> OrganizationRole:
    role = portal_db.get_session().scalar(
        select(OrganizationRole).where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.user_id == user_id,
        )
    )
    assert role is not None
    return role


def control_organization_show(org_id: int) -> ResponseReturnValue:
    organization = _org(org_id)
    # The page's own read: the role row and the owner count in one statement.
    membership = find_membership(
        portal_db.get_session(), organization, current_user.id, current_user.id, words()
    )
    # The same statements as the page's, each piece asked of the table.
    overview = overview_of(
        portal_db.get_session(),
        org_id,
        repositories=_control_can("LIST_REPOS", organization),
        people=_control_can("LIST_ROLES", organization),
        changes=_control_can("READ_AUDIT", organization),
    )
    return _render(
        "orgs/show.html",
        organization=organization,
        membership=membership,
        overview=overview,
    )


def _member_context(org_id: int, user_id: int) -> dict[str, Any]:
    """What the member pages render: the role, the refusals, the access model
    (what roles grant comes from the app's start-up, as for the page)."""
    organization = _org(org_id)
    access = access_model(current_app.extensions["portal.oso"], organization, words())
    role = _role(organization, user_id)
    membership = membership_of(
        portal_db.get_session(), organization, role, current_user.id, words()
    )
    return {"organization": organization, "membership": membership, "access": access}


def control_member_show(org_id: int, user_id: int) -> ResponseReturnValue:
    context = _member_context(org_id, user_id)
    form = MemberRoleForm()
    role = context["membership"].role
    form.show(role)
    form.name.choices = members.change_choices()
    form.name.data = role.name
    return _render("orgs/member.html", form=form, error=None, **context)


def control_member_delete(org_id: int, user_id: int) -> ResponseReturnValue:
    context = _member_context(org_id, user_id)
    name = context["membership"].role.name
    form = RemoveForm()
    form.show(context["membership"].role)
    lost = context["access"].change(name, None)[1]
    return _render(
        "orgs/member_delete.html", form=form, error=None, lost=lost, **context
    )


def control_repository_list(org_id: int) -> ResponseReturnValue:
    search = _search()
    organization = _org(org_id)
    statement = select(Repository).where(Repository.organization_id == org_id)
    # What the policy lets the viewer read, written out by hand: every
    # repository for an owner and for a member given a base role, else those
    # granted directly.
    role = portal_db.get_session().scalar(
        select(OrganizationRole.name).where(
            OrganizationRole.organization_id == org_id,
            OrganizationRole.user_id == current_user.id,
        )
    )
    base = organization.base_repository_role
    if not (role == "OWNER" or (role == "MEMBER" and base is not None)):
        statement = statement.where(
            Repository.id.in_(
                select(RepositoryRole.repository_id).where(
                    RepositoryRole.user_id == current_user.id
                )
            )
        )
    repositories = _page(
        name_search.matching(statement, Repository.name, search.term).order_by(
            Repository.name, Repository.id
        ),
        paging.page_number(request.args.getlist("page")),
    )
    return _render(
        "orgs/repos.html",
        organization=organization,
        repositories=repositories,
        search=search,
        form=RepositoryForm(),
    )


def control_billing_show(org_id: int) -> ResponseReturnValue:
    return _render("orgs/billing.html", organization=_org(org_id))


def control_role_list(org_id: int) -> ResponseReturnValue:
    # The search's SQL is the page's own (portal.domain.member_search builds no policy
    # query); the control differs in asking Oso nothing.
    search = MemberSearchForm()
    if not search.validate():
        raise RuntimeError(f"the bench searches with bad input: {search.errors}")
    statement = member_search.members_matching(
        org_id, search.q.data or "", search.role.data or ""
    )
    number = paging.page_number(request.args.getlist("page"))
    organization, form = _org(org_id), InviteForm()
    page = _page(statement, number)
    # The pending invitations, as the page reads them for an owner (issue 19):
    # whether any expired, then a page of them.
    session = portal_db.get_session()
    invitations.has_expired(session, org_id)
    pending = paging.paginate(
        session, invitations.pending_in(org_id), 1, members.INVITATIONS_PER_PAGE
    )
    counts = member_search.role_counts(portal_db.get_session(), org_id)
    return _render(
        "orgs/roles.html",
        organization=organization,
        members=page,
        counts=counts,
        search=search,
        form=form,
        invitations=pending,
        invitation_form=InvitationActionForm(),
        rows=members.member_rows(organization, page, counts),
        role_names=ROLE_NAMES,
    )


def control_audit_list(org_id: int) -> ResponseReturnValue:
    entries = _page(
        select(AuditEntry)
        .where(AuditEntry.organization_id == org_id)
        .order_by(AuditEntry.id.desc())
    )
    return _render("orgs/audit.html", organization=_org(org_id), entries=entries)


def control_password_change() -> ResponseReturnValue:
    return _render("account/password.html", form=PasswordForm())


# Issue 19: password reset (public pages; the bench loads them as the owner).
def control_forgot() -> ResponseReturnValue:
    lifetime = password_reset.in_words(password_reset.TOKEN_LIFETIME)
    return _render("auth/forgot.html", form=ForgotPasswordForm(), lifetime=lifetime)


def control_forgot_sent() -> ResponseReturnValue:
    lifetime = password_reset.in_words(password_reset.TOKEN_LIFETIME)
    return _render("auth/forgot_sent.html", lifetime=lifetime)


def control_organization_new() -> ResponseReturnValue:
    return _render("orgs/new.html", form=OrganizationForm())


def control_settings(org_id: int) -> ResponseReturnValue:
    organization, form = _org(org_id), SettingsForm()
    form.name.data = organization.name
    form.billing_address.data = organization.billing_address
    form.current_name.data = organization.name
    form.current_billing_address.data = organization.billing_address
    base_role = form.base_role_value(organization.base_repository_role)
    form.base_repository_role.data = base_role
    form.current_base_repository_role.data = base_role
    holders = words().role_names(repository_access().base_through())
    return _render(
        "orgs/settings.html",
        organization=organization,
        form=form,
        base_holders=holders,
    )


def control_my_repositories() -> ResponseReturnValue:
    # The repositories of the viewer's organizations, without the policy's
    # filter (the bench's viewer reads every one of them); their role on
    # each from the table of answers, as can() is.
    search = _search()
    statement = (
        select(Repository)
        .join(Repository.organization)
        .join(OrganizationRole, OrganizationRole.organization_id == Organization.id)
        .where(OrganizationRole.user_id == current_user.id)
        .options(contains_eager(Repository.organization))
    )
    repositories = _page(
        name_search.matching(statement, Repository.name, search.term).order_by(
            Organization.name, Organization.id, Repository.name, Repository.id
        ),
        paging.page_number(request.args.getlist("page")),
    )
    roles = {
        repo.id: strongest_repository_role(_precomputed(repo))
        for repo in repositories.items
    }
    return _render(
        "repos/mine.html",
        repositories=repositories,
        roles=roles,
        urls={r.id: my_repositories.repository_url(r) for r in repositories.items},
        search=search,
    )


def control_account() -> ResponseReturnValue:
    user = current_user._get_current_object()
    statement = (
        select(Organization)
        .join(OrganizationRole, OrganizationRole.organization_id == Organization.id)
        .where(OrganizationRole.user_id == user.id)
        .order_by(Organization.name, Organization.id)
    )
    organizations = _page(statement, paging.page_number(request.args.getlist("page")))
    roles = name_search.roles_in(
        portal_db.get_session(), user.id, [org.id for org in organizations.items]
    )
    return _render(
        "account/show.html", user=user, organizations=organizations, roles=roles
    )


def control_organization_delete(org_id: int) -> ResponseReturnValue:
    organization, form = _org(org_id), DeleteOrganizationForm()
    contents = org_admin.contents(portal_db.get_session(), org_id)
    form.confirm_name.label.text = f"Type {organization.name} to confirm"
    return _render(
        "orgs/delete.html", organization=organization, contents=contents, form=form
    )


def _repository(org_id: int, repo_id: int) -> Repository:
    """The repository, as the pages load it (no authorization)."""
    repository = portal_db.get_session().get(Repository, repo_id)
    assert repository is not None and repository.organization_id == org_id
    return repository


def control_repository_settings(org_id: int, repo_id: int) -> ResponseReturnValue:
    repository, form = _repository(org_id, repo_id), RepositorySettingsForm()
    form.name.data = form.current_name.data = repository.name
    return _render("repos/settings.html", repository=repository, form=form)


def control_repository_delete(org_id: int, repo_id: int) -> ResponseReturnValue:
    repository, form = _repository(org_id, repo_id), DeleteRepositoryForm()
    grants = repositories.direct_grants(portal_db.get_session(), repository.id)
    form.confirm_name.label.text = f"Type {repository.name} to confirm"
    return _render("repos/delete.html", repository=repository, grants=grants, form=form)


def control_repository_show(org_id: int, repo_id: int) -> ResponseReturnValue:
    # The same rows and words as the page; what the viewer may do from the
    # table of answers, as can() is.
    repository = _repository(org_id, repo_id)
    organization = repository.organization
    explain = repository_access()
    search = MemberSearchForm()
    search.validate()
    viewer = Viewer(portal_db.get_session(), current_user.id)
    base = organization.base_repository_role
    mine = explain.person(
        viewer.role_in(organization),
        base,
        viewer.repository_role_in(repository),
        organization.name,
    )
    my_permissions = [p for p in explain.permissions if _control_can(p, repository)]
    found = paging.paginate(
        portal_db.get_session(),
        repository_roles.people_with_access(
            repository, explain.giving_org_roles(base), search.q.data or ""
        ),
        paging.page_number(request.args.getlist("page")),
        rows=True,
    )
    # Each row as the page words it (its roles, their ends, what is active).
    rows = [
        repository_access_view.person_row(
            explain, base, organization, viewer.user_id, *item
        )
        for item in found.items
    ]
    people = paging.Page(
        items=rows, number=found.number, per_page=found.per_page, total=found.total
    )
    return _render(
        "repos/show.html",
        repository=repository,
        organization=organization,
        explain=explain,
        mine=mine,
        my_permissions=my_permissions,
        people=people,
        search=search,
        form=RepositoryGrantForm(),
        may_list=_control_can("LIST_ROLES", repository),
        may_manage="MANAGE_ROLES" in my_permissions,
        role_names=REPOSITORY_ROLE_NAMES,
        error=None,
        my_expiry=repository_access_view.my_expiry_sentences(
            repository, organization, viewer.user_id
        ),
    )


# page endpoint -> (control rule, view); a page without one fails the bench.
CONTROLS: dict[str, tuple[str, Callable[..., ResponseReturnValue]]] = {
    "auth.login": ("/_control/login", control_login),
    "orgs.organization_list": ("/_control/orgs", control_organization_list),
    "orgs.organization_show": (
        "/_control/orgs/<int:org_id>",
        control_organization_show,
    ),
    "orgs.repository_list": (
        "/_control/orgs/<int:org_id>/repos",
        control_repository_list,
    ),
    "orgs.billing_show": ("/_control/orgs/<int:org_id>/billing", control_billing_show),
    "members.role_list": ("/_control/orgs/<int:org_id>/roles", control_role_list),
    "members.member_show": (
        "/_control/orgs/<int:org_id>/roles/<int:user_id>",
        control_member_show,
    ),
    "members.member_delete": (
        "/_control/orgs/<int:org_id>/roles/<int:user_id>/delete",
        control_member_delete,
    ),
    "audit.audit_list": ("/_control/orgs/<int:org_id>/audit", control_audit_list),
    "account.password_change": ("/_control/account/password", control_password_change),
    "account.account_show": ("/_control/account", control_account),
    # Issue 19: password reset.
    "password.forgot": ("/_control/password/forgot", control_forgot),
    "password.forgot_sent": ("/_control/password/forgot/sent", control_forgot_sent),
    "my_repositories.repository_list": ("/_control/repos", control_my_repositories),
    "org_admin.organization_new": ("/_control/orgs/new", control_organization_new),
    "org_admin.settings": ("/_control/orgs/<int:org_id>/settings", control_settings),
    "repository_access.repository_show": (
        "/_control/orgs/<int:org_id>/repos/<int:repo_id>",
        control_repository_show,
    ),
    "repositories.repository_settings": (
        "/_control/orgs/<int:org_id>/repos/<int:repo_id>/settings",
        control_repository_settings,
    ),
    "repositories.repository_delete": (
        "/_control/orgs/<int:org_id>/repos/<int:repo_id>/delete",
        control_repository_delete,
    ),
    "org_admin.organization_delete": (
        "/_control/orgs/<int:org_id>/delete",
        control_organization_delete,
    ),
}


def bench_app(url: str) -> Flask:
    """The app on url, with the control views added (bench only)."""
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "HTTPS": False})
    for endpoint, (rule, view) in CONTROLS.items():
        app.add_url_rule(rule, f"bench_control.{endpoint}", view)
    return app


def control_path(endpoint: str, path: str) -> str | None:
    """The control URL for a page's path, or None if the page has no control."""
    if endpoint not in CONTROLS:
        return None
    return "/_control" + path


# --- measuring ----------------------------------------------------------------


def logged_in_client(app: Flask, email: str | None) -> FlaskClient:
    """A test client logged in as email through the login form (None: anonymous)."""
    client = app.test_client()
    if email is not None:
        page = client.get("/login").text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if match is None:
            raise RuntimeError("no CSRF token on /login")
        response = client.post(
            "/login",
            data={"email": email, "password": demo.PASSWORD, "csrf_token": match[1]},
        )
        if response.status_code != 302:
            raise RuntimeError(f"cannot log in as {email}: {response.status_code}")
    return client


def cpu(client: FlaskClient, path: str, accept: str = "text/html") -> float:
    """CPU seconds this process spent answering one GET of path."""
    start = time.process_time()
    response = client.get(path, headers={"Accept": accept})
    elapsed = time.process_time() - start
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code}")
    return elapsed


def bench_json(app: Flask, size: str, runs: int, report: Report, budgets: bool) -> None:
    """Each page as JSON against the same page as HTML: the same Oso queries (the
    same authorization), and no more CPU (the shape replaces the template)."""
    oso = app.extensions["portal.oso"]
    clients: dict[str | None, FlaskClient] = {}
    print(f"\n## JSON at {size} size ({runs} requests each, CPU medians)")
    print(f"{'page':<22}{'cold q':>7}{'json ms':>9}{'html ms':>9}{'ratio':>7}  budget")
    for entry in pages():
        if entry.email not in clients:
            clients[entry.email] = logged_in_client(app, entry.email)
        client, path = clients[entry.email], entry.path
        as_json = functools.partial(cpu, client, path, "application/json")
        as_html = functools.partial(cpu, client, path)
        clear_caches(app)
        before = oso.queries
        as_json()
        cold = oso.queries - before
        for _ in range(min(runs, 20)):
            as_json(), as_html()
        json_s, html_s = side_by_side(as_json, as_html, runs)
        ratio = json_s / html_s
        verdicts = [
            report.check(
                cold <= entry.oso_queries,
                f"{size} {path} JSON: {cold} cold Oso queries > {entry.oso_queries}",
            )
        ]
        if budgets:
            verdicts.append(
                report.check(
                    ratio <= MAX_JSON_VS_PAGE,
                    f"{size} {path}: JSON {ratio:.2f}x the page > {MAX_JSON_VS_PAGE}x",
                )
            )
        print(
            f"{path:<22}{cold:>7}{json_s * 1000:>9.2f}{html_s * 1000:>9.2f}"
            f"{ratio:>7.2f}  {' '.join(verdicts)}"
        )


def side_by_side(
    measured: Callable[[], float], control: Callable[[], float], runs: int
) -> tuple[float, float]:
    """Medians of measured and control, alternating which goes first."""
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        if i % 2:
            a.append(measured())
            b.append(control())
        else:
            b.append(control())
            a.append(measured())
    return statistics.median(a), statistics.median(b)


_TOKEN = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')


def same_html(one: str, other: str) -> bool:
    return _TOKEN.sub(r"\1-\2", one) == _TOKEN.sub(r"\1-\2", other)


def clear_caches(app: Flask) -> None:
    """Forget every cross-request answer (a cold start), if the Oso keeps any."""
    clear = getattr(app.extensions["portal.oso"], "clear_caches", None)
    if clear is not None:
        clear()


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> str:
        if not ok:
            self.failures.append(what)
        return "ok" if ok else "FAIL"


def bench_pages(
    app: Flask, size: str, runs: int, report: Report, budgets: bool
) -> None:
    """Oso queries and CPU against the control for every page of pages()."""
    oso = app.extensions["portal.oso"]
    clients: dict[str | None, FlaskClient] = {}
    print(f"\n## Pages at {size} size ({runs} requests each, CPU medians)")
    print(
        f"{'page':<22}{'cold q':>7}{'warm q':>7}{'page ms':>9}{'ctrl ms':>9}"
        f"{'ratio':>7}  budget"
    )
    for entry in pages():
        if entry.email not in clients:
            clients[entry.email] = logged_in_client(app, entry.email)
        client, path = clients[entry.email], entry.path
        clear_caches(app)
        before = oso.queries
        cpu(client, path)
        cold = oso.queries - before
        before = oso.queries
        cpu(client, path)
        warm = oso.queries - before
        verdicts = [
            report.check(
                cold <= entry.oso_queries and warm <= MAX_QUERIES,
                f"{size} {path}: {cold} cold / {warm} warm Oso queries"
                f" > {entry.oso_queries} / {MAX_QUERIES}",
            )
        ]
        control = control_path(entry.endpoint, path)
        if control is None:
            report.failures.append(f"{path}: no control in bench/run.py CONTROLS")
            print(f"{path:<22}{cold:>7}{warm:>7}  no control: FAIL")
            continue
        before = oso.queries
        control_html = client.get(control).text
        if oso.queries != before:
            report.failures.append(f"{control}: the control asked Oso")
            print(f"{path:<22}{cold:>7}{warm:>7}  control asked Oso: FAIL")
            continue
        if not same_html(client.get(path).text, control_html):
            report.failures.append(f"{path}: the control's HTML differs from the page")
            print(f"{path:<22}{cold:>7}{warm:>7}  control HTML differs: FAIL")
            continue
        for _ in range(min(runs, 20)):  # warm up both
            cpu(client, path), cpu(client, control)
        page_s, control_s = side_by_side(
            functools.partial(cpu, client, path),
            functools.partial(cpu, client, control),
            runs,
        )
        ratio = page_s / control_s
        if budgets:
            verdicts.append(
                report.check(
                    ratio <= MAX_PAGE_VS_CONTROL,
                    f"{size} {path}: {ratio:.2f}x its control > {MAX_PAGE_VS_CONTROL}x",
                )
            )
        print(
            f"{path:<22}{cold:>7}{warm:>7}{page_s * 1000:>9.2f}{control_s * 1000:>9.2f}"
            f"{ratio:>7.2f}  {' '.join(verdicts)}"
        )


def decision_cpu(app: Flask, email: str, org_id: int) -> Callable[[], float]:
    """A function: CPU of one authorized_actions for email on org_id, as in a
    request (a new request, so a new Viewer and an empty per-request memo)."""
    oso = app.extensions["portal.oso"]

    def measure() -> float:
        with app.test_request_context():
            session = portal_db.get_session()
            user_id = session.scalar(select(User.id).where(User.email == email))
            organization = session.get(Organization, org_id)
            viewer = Viewer(session, user_id)
            start = time.process_time()
            oso.authorized_actions(viewer, organization)
            return time.process_time() - start

    return measure


def bench_many_rows(
    app: Flask,
    fixtures: Fixtures,
    runs: int,
    report: Report,
    budgets: bool,
    match: str = "",
) -> None:
    """Many roles vs one role (a decision); many rows vs one row (pages)."""
    print(f"\n## Many rows vs one row, at scale size ({runs} runs each, CPU medians)")
    print(f"{'what':<44}{'many ms':>9}{'one ms':>8}{'ratio':>7}  budget")
    many, one = (
        decision_cpu(app, HEAVY, fixtures.member_org),
        decision_cpu(app, SINGLE, fixtures.single_org),
    )
    for _ in range(20):
        many(), one()
    many_s, one_s = side_by_side(many, one, runs)
    ratio = many_s / one_s
    verdict = report.check(
        not budgets or ratio <= MAX_MANY_ROLES_DECISION,
        f"decision with many roles: {ratio:.2f}x one role > {MAX_MANY_ROLES_DECISION}x",
    )
    what = "decision, user with many roles vs one"
    print(
        f"{what:<44}{many_s * 1000:>9.3f}{one_s * 1000:>8.3f}{ratio:>7.2f}  {verdict}"
    )
    clients = {
        email: logged_in_client(app, email)
        for email in (HEAVY, SINGLE, FULL, GRANTEE, FULL_GRANTEE)
    }
    many_repos = f"/orgs/{fixtures.many_repos_org}/repos"
    full_repos = f"/orgs/{fixtures.full_org}/repos"
    # (what, many-rows page, the same page with a full page of rows from a small
    # total, the same page with one row, endpoint), each page as (who, path).
    comparisons = [
        (
            "/orgs",
            (HEAVY, "/orgs"),
            (FULL, "/orgs"),
            (SINGLE, "/orgs"),
            "orgs.organization_list",
        ),
        # The organization with many repositories has big_grants repository
        # roles granted directly and gives its members no base role: an owner
        # reads every repository; GRANTEE, a member, those granted (spread over
        # the list, so a page is read from many rows), against FULL_GRANTEE on
        # the full organization's page (a grant on each of its 50).
        (
            "repositories",
            (HEAVY, many_repos),
            (FULL, full_repos),
            (SINGLE, f"/orgs/{fixtures.single_org}/repos"),
            "orgs.repository_list",
        ),
        (
            "repositories, member",
            (GRANTEE, many_repos),
            (FULL_GRANTEE, full_repos),
            (SINGLE, f"/orgs/{fixtures.single_org}/repos"),
            "orgs.repository_list",
        ),
        # Searched: the name search scans the organization's repositories (or the
        # user's organizations) for the term; a full page of matches either way.
        (
            "/orgs?q=",
            (HEAVY, "/orgs?q=Bench+org+0"),
            (FULL, "/orgs?q=Bench"),
            (SINGLE, "/orgs?q=Bench"),
            "orgs.organization_list",
        ),
        (
            "repositories?q=",
            (HEAVY, f"{many_repos}?q=repository+1"),
            (FULL, f"{full_repos}?q=FULL"),
            (SINGLE, f"/orgs/{fixtures.single_org}/repos?q=one"),
            "orgs.repository_list",
        ),
        (
            "roles",
            (HEAVY, f"/orgs/{fixtures.many_members_org}/roles"),
            (FULL, f"/orgs/{fixtures.full_org}/roles"),
            (SINGLE, f"/orgs/{fixtures.single_org}/roles"),
            "members.role_list",
        ),
    ]
    print(
        f"\n{'page (many rows = 1,000+)':<28}{'many ms':>9}{'page ms':>9}"
        f"{'ratio':>7}  budget {'control':>8}   {'one ms':>7}{'ratio':>7}{'control':>8}"
    )
    for what, (many_who, many_path), full_page, one_page, endpoint in comparisons:
        if match and match not in what:
            continue
        many_run = functools.partial(cpu, clients[many_who], many_path)
        full_run = functools.partial(cpu, clients[full_page[0]], full_page[1])
        one_run = functools.partial(cpu, clients[one_page[0]], one_page[1])
        # The budget: the many-rows page against the same page showing a full
        # page of rows from a small total, i.e. what the total costs once paged.
        # Against a one-row page (reported beside it) even the control, with no
        # authorization, costs 1.4-1.5x: 50 rows render more than one.
        for _ in range(10):
            many_run(), full_run(), one_run()
        many_s, full_s = side_by_side(many_run, full_run, runs)
        many_again, one_s = side_by_side(many_run, one_run, runs)
        control_many = control_path(endpoint, many_path)
        control_full = control_path(endpoint, full_page[1])
        control_one = control_path(endpoint, one_page[1])
        assert control_many and control_full and control_one
        control_many_run = functools.partial(cpu, clients[many_who], control_many)
        control_many_s, control_full_s = side_by_side(
            control_many_run,
            functools.partial(cpu, clients[full_page[0]], control_full),
            runs,
        )
        control_again, control_one_s = side_by_side(
            control_many_run,
            functools.partial(cpu, clients[one_page[0]], control_one),
            runs,
        )
        ratio = many_s / full_s
        verdict = report.check(
            not budgets or ratio <= MAX_MANY_ROWS_PAGE,
            f"{what} ({many_path}): {ratio:.2f}x the same page with a page of rows"
            f" > {MAX_MANY_ROWS_PAGE}x",
        )
        print(
            f"{what:<28}{many_s * 1000:>9.2f}{full_s * 1000:>9.2f}{ratio:>7.2f}"
            f"  {verdict:<7}{control_many_s / control_full_s:>8.2f}"
            f"{one_s * 1000:>7.2f}{many_again / one_s:>7.2f}"
            f"{control_again / control_one_s:>8.2f}"
        )


def bench_roles_search(
    app: Flask, fixtures: Fixtures, runs: int, report: Report, budgets: bool
) -> None:
    """The roles page of the organization with many members against The Beatles'
    (4 members), plain and searched: the page must not slow down with the list
    behind it. Both viewers are OWNERs, so both pages show the same forms."""
    print(
        f"\n## Roles page: {fixtures.many_members_org_size:,} members vs The Beatles'"
        f" 4 ({runs} runs each, CPU medians)"
    )
    print(
        f"{'search (many | Beatles)':<56}{'many ms':>9}{'4 ms':>7}{'ratio':>7}"
        f"  budget {'control':>8}"
    )
    heavy, john = logged_in_client(app, HEAVY), logged_in_client(app, demo.JOHN)
    many = f"/orgs/{fixtures.many_members_org}/roles"
    beatles = f"/orgs/{demo.BEATLES_ID}/roles"
    # --quick has too few members for a second page of matches.
    deep = "&page=2" if fixtures.many_members_org_size > 2 * paging.PER_PAGE else ""
    comparisons = [
        ("", ""),  # rows shown: 50 of 1,000 | 4
        ("?q=MEMBER-0042&role=MEMBER", "?q=RINGO&role=MEMBER"),  # 10 | 1
        (f"?q=member-00&role=MEMBER{deep}", "?q=beatles&role=MEMBER"),  # 50 | 2
    ]
    for many_query, small_query in comparisons:
        many_path, small_path = many + many_query, beatles + small_query
        for _ in range(10):
            cpu(heavy, many_path), cpu(john, small_path)
        many_s, small_s = side_by_side(
            functools.partial(cpu, heavy, many_path),
            functools.partial(cpu, john, small_path),
            runs,
        )
        # The same two pages with no authorization: what rendering more rows costs.
        control_many = control_path("members.role_list", many_path)
        control_small = control_path("members.role_list", small_path)
        assert control_many is not None and control_small is not None
        control_many_s, control_small_s = side_by_side(
            functools.partial(cpu, heavy, control_many),
            functools.partial(cpu, john, control_small),
            runs,
        )
        ratio = many_s / small_s
        control_ratio = control_many_s / control_small_s
        what = f"{many_query or '(none)'} | {small_query or '(none)'}"
        # why: 50 rows cost more to render than 4 with no authorization at all
        # (the control's ratio, ~1.3-1.5x); the budget is on what the page adds
        # beyond that, so that it measures the app, not the template's rows.
        verdict = report.check(
            not budgets or ratio <= MAX_ROLES_VS_BEATLES * control_ratio,
            f"roles {many_path}: {ratio:.2f}x {small_path}, over"
            f" {MAX_ROLES_VS_BEATLES}x the control's {control_ratio:.2f}x",
        )
        print(
            f"{what:<56}{many_s * 1000:>9.2f}{small_s * 1000:>7.2f}{ratio:>7.2f}"
            f"  {verdict:<6}{control_ratio:>8.2f}"
        )


def bench_pending_invitations(
    app: Flask, fixtures: Fixtures, runs: int, report: Report, budgets: bool
) -> None:
    """The roles page of an organization with many members and INVITATIONS
    pending invitations against the same page without them (the same members,
    the same owner): listing them must cost a page of rows, not the list."""
    heavy = logged_in_client(app, HEAVY)
    invited = f"/orgs/{fixtures.invited_org}/roles"
    plain = f"/orgs/{fixtures.many_members_org}/roles"
    for _ in range(10):
        cpu(heavy, invited), cpu(heavy, plain)
    invited_s, plain_s = side_by_side(
        functools.partial(cpu, heavy, invited),
        functools.partial(cpu, heavy, plain),
        runs,
    )
    ratio = invited_s / plain_s
    verdict = report.check(
        not budgets or ratio <= MAX_MANY_ROWS_PAGE,
        f"roles {invited}: {ratio:.2f}x the same page without {INVITATIONS}"
        f" invitations > {MAX_MANY_ROWS_PAGE}x",
    )
    print(
        f"\n## Roles page with {INVITATIONS} pending invitations vs without"
        f" ({fixtures.many_members_org_size:,} members each)\n"
        f"{'with ms':>9}{'without ms':>12}{'ratio':>7}  budget\n"
        f"{invited_s * 1000:>9.2f}{plain_s * 1000:>12.2f}{ratio:>7.2f}  {verdict}"
    )


# --- gunicorn + wrk -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_cookie(base: str, email: str) -> str:
    """The Cookie header of a session logged in as email, over HTTP."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=10).read().decode()  # nosec B310
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if match is None:
        raise RuntimeError("no CSRF token on /login")
    body = urllib.parse.urlencode(
        {"email": email, "password": demo.PASSWORD, "csrf_token": match[1]}
    ).encode()
    opener.open(f"{base}/login", data=body, timeout=10)  # nosec B310
    # wrk counts a redirect to /login as a success: make sure the cookie works.
    landed = opener.open(f"{base}/orgs/1", timeout=10).geturl()  # nosec B310
    if not landed.endswith("/orgs/1"):
        raise RuntimeError(f"the session cookie does not log {email} in: {landed}")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _wrk(url: str, cookie: str, seconds: int) -> tuple[str, str, str, str]:
    """Requests/s, p50, p99 and non-2xx/3xx count from one wrk run."""
    out = subprocess.run(  # nosec B603 B607
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def grab(pattern: str) -> str:
        found = re.search(pattern, out)
        return found[1] if found else "-"

    return (
        grab(r"Requests/sec:\s+([\d.]+)"),
        grab(r"\s50%\s+(\S+)"),
        grab(r"\s99%\s+(\S+)"),
        grab(r"Non-2xx or 3xx responses:\s+(\d+)") if "Non-2xx" in out else "0",
    )


def bench_http(url: str, app: Flask, seconds: int) -> None:
    """gunicorn (2 workers) under wrk -t2 -c8: reported, not budgeted."""
    print(f"\n## gunicorn, 2 workers, wrk -t2 -c8 -d{seconds}s (reported, no budget)")
    if shutil.which("wrk") is None:
        print("wrk is not installed: skipped")
        return
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    health = "/healthz" if "/healthz" in rules else "/login"
    if health != "/healthz":
        print("no /healthz route yet: /login (anonymous, no Oso) stands in for it")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench", PORTAL_HTTPS="0")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # nosec B603
        [
            str(gunicorn),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "portal:create_app()",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        # gunicorn.conf.py (read from this folder) logs every request to stdout:
        # not into the bench's table.
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {server.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
                break
            time.sleep(0.1)
        cookie = _session_cookie(base, demo.JOHN)
        print(f"{'path':<22}{'req/s':>9}{'p50':>10}{'p99':>10}{'non-2xx':>9}")
        for path in ["/orgs/1", "/orgs/1/repos", health]:
            rps, p50, p99, bad = _wrk(base + path, cookie, seconds)
            print(f"{path:<22}{rps:>9}{p50:>10}{p99:>10}{bad:>9}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


# --- cProfile -------------------------------------------------------------------


def profile(app: Flask, requests: int) -> None:
    """Where the time goes: the top frames by cumulative time."""
    client = logged_in_client(app, demo.JOHN)
    decide = decision_cpu(app, demo.JOHN, demo.BEATLES_ID)
    work: list[tuple[str, Callable[[], object]]] = [
        ("/orgs", lambda: client.get("/orgs")),
        ("/orgs/1/repos", lambda: client.get("/orgs/1/repos")),
        ("one decision (authorized_actions)", decide),
    ]
    for what, run in work:
        for _ in range(10):
            run()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            run()
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(45)
        print(f"\n## cProfile: {what}, {requests} times (cumulative seconds)")
        print("\n".join(out.getvalue().splitlines()[6:]))


SECTIONS = ("pages", "json", "many-rows", "roles-search", "http")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data, no budgets")
    parser.add_argument("--runs", type=int, help="requests per measurement")
    parser.add_argument("--profile", action="store_true", help="cProfile and exit")
    parser.add_argument("--no-http", action="store_true", help="skip gunicorn/wrk")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument(
        "--match",
        default="",
        help="many-rows: only the comparisons whose name contains this text",
    )
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 150)
    scale = QUICK if args.quick else Scale()
    budgets = not args.quick
    sections = set(args.only or SECTIONS) - ({"http"} if args.no_http else set())
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        demo_url, _ = build_database(Path(tmp) / "demo.sqlite", None)
        app = bench_app(demo_url)
        if args.profile:
            profile(app, runs)
            return 0
        start = time.perf_counter()
        scale_url, fixtures = build_database(Path(tmp) / "scale.sqlite", scale)
        print(f"scale data: {scale} ({time.perf_counter() - start:.1f} s to build)")
        if "pages" in sections:
            bench_pages(app, "demo", runs, report, budgets)
        if "json" in sections:
            bench_json(app, "demo", runs, report, budgets)
        app.extensions["portal.engine"].dispose()
        app = bench_app(scale_url)
        if "pages" in sections:
            bench_pages(app, "scale", runs, report, budgets)
        if "many-rows" in sections:
            bench_many_rows(app, fixtures, runs, report, budgets, args.match)
        if "roles-search" in sections:
            bench_roles_search(app, fixtures, runs, report, budgets)
            bench_pending_invitations(app, fixtures, runs, report, budgets)
        if "http" in sections:
            bench_http(scale_url, app, 1 if args.quick else 5)
        app.extensions["portal.engine"].dispose()
    if report.failures:
        print(f"\nbudgets missed ({len(report.failures)}):")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    print("\nevery budget met" if budgets else "\nquick run: no budgets checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
