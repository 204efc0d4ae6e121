"""One repository: who has access to it and why, and its roles granted directly.

The page shows the viewer's own role on the repository and what it lets them
do and, to whoever may LIST_ROLES on it, "People with access": every person
with a repository role on it (the organization's owners, its members when the
base role gives one, and whoever was granted one directly), each with their
role and the reasons in words. Whoever may only READ it (a billing contact
given a role on it, say) sees their own access and nothing of the others. The
reasons come from what the policy answered at start-up
(``portal.authz.repository_access``): the page costs one Oso decision, about
the repository, and one SQL query per page of people.

Whoever may MANAGE_ROLES on the repository also gets the form to grant a role
by email and, on the rows of direct grants, the change and remove controls;
each request asks the policy again. Changes go through
portal.domain.repository_roles under the organization's lock.

Every view follows the same order on consecutive lines: load (404), authorize,
act, render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from flask import Blueprint, current_app, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal.authz import authorize, can, current_viewer, repository_access, words
from portal.authz.repository_explain import REPOSITORY, PersonAccess, RepositoryAccess
from portal.authz.words import joined
from portal.domain import expiry, repository_roles
from portal.domain.models import REPOSITORY_ROLE_NAMES, Organization, Repository, User
from portal.domain.paging import Page
from portal.domain.roles import RoleError
from portal.forms import (
    MemberSearchForm,
    RepositoryGrantChangeForm,
    RepositoryGrantForm,
    RepositoryGrantRemoveForm,
    text,
)
from portal.infra import db
from portal.web.loaders import load_repository, page_of
from portal.web.negotiation import done, render
from portal.web.pages import Body, PageView, organization_json, paging_json
from portal.web.wording import full_stop

bp = Blueprint("repository_access", __name__)

CHANGED_MEANWHILE = (
    "Someone changed this person's roles while you were looking. Check the list"
    " and try again."
)


@dataclass(frozen=True)
class PersonRow:
    """One person with access: who, their organization role, their direct grant,
    and what the policy makes of the two."""

    user_id: int
    email: str
    org_role: str
    direct: str | None
    access: PersonAccess  # what their active roles give (an expired one: none)
    is_me: bool
    # Time-limited roles: when the organization role and the direct grant end
    # (None: never); an expired one is listed, marked, and gives nothing.
    org_expires: datetime | None = None
    direct_expires: datetime | None = None

    @property
    def org_expired(self) -> bool:
        """Whether their organization role has expired (then so has all access)."""
        return expiry.expired(self.org_expires)

    @property
    def direct_expired(self) -> bool:
        """Whether the direct grant has expired (or their organization role)."""
        return self.direct is not None and (
            self.org_expired or expiry.expired(self.direct_expires)
        )

    def json(self) -> Body:
        """The row as the JSON API says it (codes; reasons in words)."""
        return {
            "user": {"id": self.user_id, "email": self.email},
            "org_role": self.org_role,
            "org_role_expires_at": expiry.iso(self.org_expires),
            "direct_role": self.direct,
            "expires_at": expiry.iso(self.direct_expires),
            "expired": self.direct_expired,
            "role": self.access.role,
            "reasons": [str(reason) for reason in self.access.reasons],
        }


@dataclass(frozen=True)
class RepositoryPage(PageView):
    """The repository, the viewer's role on it, the people with access (a page
    at a time) and, for whoever may manage its roles, the grant form."""

    template = "repos/show.html"
    repository: Repository
    organization: Organization
    explain: RepositoryAccess
    mine: PersonAccess
    my_permissions: Sequence[str]
    people: Page[PersonRow] | None  # None: not shown, or the search is invalid
    search: MemberSearchForm
    form: RepositoryGrantForm
    may_list: bool
    may_manage: bool
    role_names: Sequence[str] = REPOSITORY_ROLE_NAMES
    error: str | None = None
    # When the viewer's roles that give them access here end, in sentences
    # (time-limited roles; empty: none of them expires).
    my_expiry: Sequence[str] = ()

    def json(self) -> Body:
        """The repository, its organization, my role and permissions, the
        people with access (null, with their paging, for whoever may not see
        them)."""
        people = self.people
        assert people is not None or not self.may_list  # invalid search: 400
        return {
            "repository": {"id": self.repository.id, "name": self.repository.name},
            "organization": {
                **organization_json(self.organization),
                "base_repository_role": self.organization.base_repository_role,
            },
            "my_role": self.mine.role,
            "my_reasons": [str(reason) for reason in self.mine.reasons],
            "my_permissions": list(self.my_permissions),
            "may_manage_roles": self.may_manage,
            "people": None if people is None else [row.json() for row in people.items],
            "paging": None
            if people is None
            else paging_json(people, q=self.search.q.data or None),
        }


@bp.route("/orgs/<id:org_id>/repos/<id:repo_id>")
def repository_show(org_id: int, repo_id: int) -> ResponseReturnValue:
    """Who has access to the repository and why; its role management for whoever
    may manage its roles. A malformed search is 400."""
    repository = load_repository(org_id, repo_id)
    authorize("READ", repository)
    search = MemberSearchForm()
    status = 200 if search.validate() else 400
    return _render(repository, RepositoryGrantForm(), search, status=status)


@bp.route("/orgs/<id:org_id>/repos/<id:repo_id>/roles", methods=["POST"])
def grant_create(org_id: int, repo_id: int) -> ResponseReturnValue:
    """Give someone of the organization, by email, a role on the repository
    directly (or change the one they have)."""
    repository = load_repository(org_id, repo_id)
    authorize("MANAGE_ROLES", repository)
    form = RepositoryGrantForm()
    if not form.validate():
        return _render(repository, form, status=422)
    grant = partial(
        repository_roles.grant,
        db.get_session(),
        repository,
        text(form.user_email),
        text(form.name),
        expires=form.wanted_expiry,
    )
    return _apply(repository, grant, form)


@bp.route("/orgs/<id:org_id>/repos/<id:repo_id>/roles/<id:user_id>", methods=["POST"])
def grant_update(org_id: int, repo_id: int, user_id: int) -> ResponseReturnValue:
    """Change the role granted to user_id on the repository directly."""
    repository = load_repository(org_id, repo_id)
    authorize("MANAGE_ROLES", repository)
    form = RepositoryGrantChangeForm()
    if not form.validate():
        return _render(
            repository, RepositoryGrantForm(), status=422, error=_first(form)
        )
    change = partial(
        repository_roles.change,
        db.get_session(),
        repository,
        user_id,
        text(form.name),
        form.shown,
        expires=form.wanted_expiry,
    )
    return _apply(repository, change)


@bp.route(
    "/orgs/<id:org_id>/repos/<id:repo_id>/roles/<id:user_id>/delete", methods=["POST"]
)
def grant_delete(org_id: int, repo_id: int, user_id: int) -> ResponseReturnValue:
    """Take the role granted to user_id on the repository directly away (what
    the organization gives them stays)."""
    repository = load_repository(org_id, repo_id)
    authorize("MANAGE_ROLES", repository)
    form = RepositoryGrantRemoveForm()
    if not form.validate():
        return _render(
            repository, RepositoryGrantForm(), status=422, error=_first(form)
        )
    remove = partial(
        repository_roles.remove, db.get_session(), repository, user_id, form.shown
    )
    return _apply(repository, remove)


def _say(error: RoleError) -> str:
    """A refusal in words (a stale grant names its repository role by name)."""
    if isinstance(error, repository_roles.StaleGrant) and error.now is not None:
        return error.worded(words().role(error.now, REPOSITORY).name)
    return error.say(words())


def _first(form: RepositoryGrantRemoveForm) -> str:
    """A row form's first error (its fields are hidden or a select: the page
    says it at the top)."""
    errors: dict[str, list[str]] = form.errors
    return next(error for found in errors.values() for error in found)


def _apply(
    repository: Repository,
    change: Callable[..., repository_roles.GrantChange],
    form: RepositoryGrantForm | None = None,
) -> ResponseReturnValue:
    """Run change in one transaction; say what changed, or show why not. Whoever
    takes their own access away goes to the organization's repositories (or,
    if they may not list them, its overview): the repository's page is no
    longer theirs to read."""
    # Read before the commit expires the objects.
    org_id, repo_id = repository.organization_id, repository.id
    organization = repository.organization
    org_name, base = organization.name, organization.base_repository_role
    lists_repositories = can("LIST_REPOS", organization)
    actor: User = current_user._get_current_object()
    try:
        with db.transaction(db.get_session()):
            made = change(actor=actor)
    except RoleError as error:
        said = _say(error)
        _log("refused", org_id, repo_id, type(error).__name__)
        # Rolled back: the objects are expired, and the repository may have been
        # deleted meanwhile (404 then).
        repository = load_repository(org_id, repo_id)
        if form is not None and error.status == 422:
            form.user_email.errors = [said]
            return _render(repository, form, status=error.status)
        return _render(
            repository, form or RepositoryGrantForm(), status=error.status, error=said
        )
    except IntegrityError:
        # The organization role went between the check and the insert (the
        # foreign key refused the grant): nothing changed.
        db.get_session().rollback()
        repository = load_repository(org_id, repo_id)
        return _render(
            repository, RepositoryGrantForm(), status=409, error=CHANGED_MEANWHILE
        )
    # Committed: the repository is expired, and may be deleted by now.
    _log(made.action or "unchanged", org_id, repo_id, made.user_id)
    explain, you = repository_access(), made.user_id == actor.id
    after = explain.person(made.org_role, base, made.new, org_name)
    if you and after.role is None:
        where = (
            "orgs.repository_list" if lists_repositories else "orgs.organization_show"
        )
        location = url_for(where, org_id=org_id)
    else:
        location = url_for(
            "repository_access.repository_show", org_id=org_id, repo_id=repo_id
        )
    message = what_changed(explain, made, org_name, base, you=you)
    return done(message, location, "success" if made.action else "info")


def what_changed(
    explain: RepositoryAccess,
    made: repository_roles.GrantChange,
    organization_name: str,
    base: str | None,
    you: bool = False,
) -> str:
    """The change in words, from what the policy grants: "ringo@beatles.com is
    now a Writer on Abbey Road. They can now push changes." (the person's
    role as a whole: what the organization gives them counts too). you: the
    person is the one who made the change ("You are now ...")."""
    said = explain.words
    before = explain.person(made.org_role, base, made.old, organization_name)
    after = explain.person(made.org_role, base, made.new, organization_name)
    where = made.repository_name
    # Subject, its verbs ("is"/"are", "has"/"have", "was"/"were"), and "they".
    who, they = ("You", "you") if you else (made.user_email, "they")
    is_, has, was = ("are", "have", "were") if you else ("is", "has", "was")
    if not made.action:
        held = said.role(made.new, REPOSITORY).name if made.new else "nothing"
        return (
            f"{who} {is_} already granted {held} on {where} directly: nothing changed."
        )
    if made.old == made.new and made.new is not None:  # only the expiry changed
        held = said.role(made.new, REPOSITORY).name
        return f"{who} {is_} granted {held} on {where} directly{_until(made)}."
    gained, lost = explain.change(before, after)
    if made.new is None:
        first = f"{who} no longer {has} a role on {where} directly."
    elif after.role == made.new:
        now = said.role(made.new, REPOSITORY).a_name
        first = f"{who} {is_} now {now} on {full_stop(where)}"
    else:
        given = said.role(made.new, REPOSITORY).name
        first = f"{who} {was} given {given} on {where} directly."
    parts = [
        f"{they} can {when} {_phrases(explain, codes, last)}"
        for when, codes, last in (("now", gained, "and"), ("no longer", lost, "or"))
        if codes
    ]
    sentences = [first]
    if made.new is not None and made.new_expires is not None:
        sentences.append(f"The grant expires on {expiry.long_form(made.new_expires)}.")
    if parts:
        rest = "; ".join(parts)
        sentences.append(f"{rest[:1].upper()}{rest[1:]}.")
    again = they.capitalize()  # "They"/"You", starting a sentence
    if after.role is None:
        sentences.append(f"{again} no longer have access to it.")
    elif made.new is None or after.role != made.new:
        reason = after.reasons[0]
        sentences.append(
            f"{again} are still {said.role(after.role, REPOSITORY).a_name} on it"
            f" ({reason.text.split(': ', 1)[1]})."
        )
    return " ".join(sentences)


def _until(made: repository_roles.GrantChange) -> str:
    """The grant's new expiry as the end of a sentence: " until 31 Dec 2026,
    00:00 UTC", or " with no expiry" (cleared)."""
    if made.new_expires is not None:
        return f" until {expiry.long_form(made.new_expires)}"
    return " with no expiry"


def _phrases(explain: RepositoryAccess, codes: Sequence[str], last: str) -> str:
    """Permissions as a sentence says them: "push changes and rename the
    repository"."""
    said = explain.words
    return joined([said.permission(c, REPOSITORY).in_a_sentence for c in codes], last)


def _log(what: str, org_id: int, repo_id: int, detail: object) -> None:
    """Log a repository role change or refusal."""
    current_app.logger.info(
        "repository role %s: org=%s repo=%s detail=%s", what, org_id, repo_id, detail
    )


def person_row(
    explain: RepositoryAccess,
    base: str | None,
    organization: Organization,
    viewer_id: int | None,
    user_id: int,
    email: str,
    org_role: str,
    direct: str | None,
    org_expires: datetime | None,
    direct_expires: datetime | None,
) -> PersonRow:
    """One row of the people with access, explained from the roles that are
    active now (an expired organization role gives nothing, and neither does
    a grant that or whose holder's organization role has expired: the
    policy's rule, Viewer.repository_role_in)."""
    row = PersonRow(
        user_id,
        email,
        org_role,
        direct,
        explain.person(None, base, None, organization.name),
        user_id == viewer_id,
        org_expires,
        direct_expires,
    )
    active_org = None if row.org_expired else org_role
    active_direct = None if row.direct_expired else direct
    access = explain.person(active_org, base, active_direct, organization.name)
    return replace(row, access=access)


def _render(
    repository: Repository,
    form: RepositoryGrantForm,
    search: MemberSearchForm | None = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    """The repository page at status: the viewer's role, the people with access
    for whoever may list them (one query for the page), the grant form for
    whoever may manage roles."""
    if search is None:
        search = MemberSearchForm()
        search.validate()
    explain = repository_access()
    organization = repository.organization
    base, viewer = organization.base_repository_role, current_viewer()
    mine = explain.person(
        viewer.role_in(organization),
        base,
        viewer.repository_role_in(repository),
        organization.name,
    )
    # Answered by the decision authorize() made: no other Oso query.
    my_permissions = [p for p in explain.permissions if can(p, repository)]
    may_list = can("LIST_ROLES", repository)
    people: Page[PersonRow] | None = None
    if may_list and not search.errors:
        statement = repository_roles.people_with_access(
            repository, explain.giving_org_roles(base), search.q.data or ""
        )
        found = page_of(statement, rows=True)
        rows = [
            person_row(explain, base, organization, viewer.user_id, *item)
            for item in found.items
        ]
        people = Page(
            items=rows, number=found.number, per_page=found.per_page, total=found.total
        )
    may_manage = "MANAGE_ROLES" in my_permissions
    my_expiry = my_expiry_sentences(repository, organization, viewer.user_id)
    page = RepositoryPage(
        repository,
        organization,
        explain,
        mine,
        my_permissions,
        people,
        search,
        form,
        may_list,
        may_manage,
        error=error,
        my_expiry=my_expiry,
    )
    return render(page, status)


def my_expiry_sentences(
    repository: Repository, organization: Organization, user_id: int | None
) -> list[str]:
    """When the viewer's organization role and direct grant here end, as the
    page says it ("Your Member role in The Beatles expires in 3 days: 31 Dec
    2026, 00:00 UTC."); one query. Expired ones give nothing and are not said
    (the viewer would not see this page through them)."""
    if user_id is None:
        return []
    found = repository_roles.my_expiries(db.get_session(), repository, user_id)
    if found is None:
        return []
    org_role, org_expires, direct, direct_expires = found
    said = words()
    ends = []
    if org_expires is not None and not expiry.expired(org_expires):
        ends.append(
            f"Your {said.role(org_role).name} role in {organization.name}"
            f" {expiry.describe(org_expires)}: {expiry.long_form(org_expires)}."
        )
    if (
        direct is not None
        and direct_expires is not None
        and not expiry.expired(direct_expires)
    ):
        ends.append(
            f"Your {said.role(direct, REPOSITORY).name} role granted on"
            f" {repository.name} {expiry.describe(direct_expires)}:"
            f" {expiry.long_form(direct_expires)}."
        )
    return ends
