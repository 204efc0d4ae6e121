"""The repositories page of an organization, shared by the views that render it:
the list itself (portal.views) and the form on it that creates a repository
(portal.repositories), which shows the list again with its errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from portal.authz import authorized
from portal.domain import name_search
from portal.domain.models import Organization, Repository
from portal.domain.paging import Page
from portal.forms import NameSearchForm, RepositoryForm
from portal.web.pages import Body, PageView, organization_json, paging_json


def readable_repositories(
    organization: Organization, search: NameSearchForm
) -> Select[Any]:
    """The organization's repositories the user can read whose name contains the
    search (valid), in the list's order."""
    readable = authorized("READ", Repository).where(
        Repository.organization_id == organization.id
    )
    return name_search.matching(readable, Repository.name, search.term).order_by(
        Repository.name, Repository.id
    )


@dataclass(frozen=True)
class RepositoryListPage(PageView):
    """The organization's repositories the user can read whose name contains the
    search, a page at a time, and the form that creates one (shown to whoever
    may CREATE_REPO)."""

    template = "orgs/repos.html"
    organization: Organization
    repositories: Page[Repository] | None  # None: the search is invalid (400)
    search: NameSearchForm
    form: RepositoryForm

    def json(self) -> Body:
        """``{"organization", "repos": [...], "paging", "search": {"q"}}``."""
        repositories = self.repositories
        assert repositories is not None  # an invalid search is a 400: error_json
        term = self.search.term
        return {
            "organization": organization_json(self.organization),
            "repos": [
                {"id": repo.id, "name": repo.name} for repo in repositories.items
            ],
            "paging": paging_json(repositories, q=term or None),
            "search": {"q": term},
        }
