"""The viewer's repositories across organizations: ``GET /repos``.

Every repository the signed-in user may READ, whichever organization it is in
and however they may (a role granted on it, the organization's base role for
members, owners'), found by name, a page at a time, ordered by organization name
then repository name. The list is the policy's SQL filter
(``authorized("READ", Repository)``): one Oso query however many rows. The
viewer's role on each row is read off what the policy lets them do there, asked
for the whole page at once (``decide_rows``: one more Oso query cold, none warm),
after the page's organization roles and direct grants are read in one query
each, so that no row costs a query of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import contains_eager

from portal.authz import authorized, current_viewer, decide_rows, repository_role
from portal.domain import name_search
from portal.domain.models import Organization, Repository
from portal.domain.paging import Page
from portal.forms import NameSearchForm
from portal.web.loaders import page_of
from portal.web.negotiation import render
from portal.web.pages import Body, PageView, organization_json, paging_json

bp = Blueprint("my_repositories", __name__)


@dataclass(frozen=True)
class MyRepositoriesPage(PageView):
    """The repositories the viewer can read whose name contains the search, each
    with its organization and the viewer's role on it, a page at a time."""

    template = "repos/mine.html"
    repositories: Page[Repository] | None  # None: the search is invalid (400)
    roles: Mapping[int, str | None]  # repository id -> the viewer's role there
    urls: Mapping[int, str]  # repository id -> its page
    search: NameSearchForm

    def json(self) -> Body:
        """``{"repos": [{"id", "name", "organization", "role", "url"}], "paging",
        "search": {"q"}}``; role is a repository role code."""
        repositories = self.repositories
        assert repositories is not None  # an invalid search is a 400: error_json
        term = self.search.term
        return {
            "repos": [
                {
                    "id": repo.id,
                    "name": repo.name,
                    "organization": organization_json(repo.organization),
                    "role": self.roles.get(repo.id),
                    "url": self.urls[repo.id],
                }
                for repo in repositories.items
            ],
            "paging": paging_json(repositories, q=term or None),
            "search": {"q": term},
        }


def repository_url(repository: Repository) -> str:
    """The repository's own page."""
    return url_for(
        "repository_access.repository_show",
        org_id=repository.organization_id,
        repo_id=repository.id,
    )


@bp.route("/repos")
def repository_list() -> ResponseReturnValue:
    """Every repository the user can READ, across organizations, found by name,
    a page at a time, with the user's role on each. A malformed search is 400."""
    readable = authorized("READ", Repository)
    search = NameSearchForm()
    if not search.validate():
        return render(MyRepositoriesPage(None, {}, {}, search), 400)
    repositories = page_of(
        name_search.matching(readable, Repository.name, search.term)
        .join(Repository.organization)
        .options(contains_eager(Repository.organization))
        .order_by(Organization.name, Organization.id, Repository.name, Repository.id)
    )
    urls = {repo.id: repository_url(repo) for repo in repositories.items}
    page = MyRepositoriesPage(repositories, _roles(repositories), urls, search)
    return render(page)


def _roles(repositories: Page[Repository]) -> dict[int, str | None]:
    """The viewer's role on each repository of the page: what the policy answers
    for the whole page in one query, its inputs read one query each."""
    rows = list(repositories.items)
    viewer = current_viewer()
    viewer.know_roles_in(
        {repo.organization_id: repo.organization for repo in rows}.values()
    )
    viewer.know_repository_roles(rows)
    decide_rows(rows)
    return {repo.id: repository_role(repo) for repo in rows}
