"""The actor Oso decides about: one user (or nobody) seen through one session."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from portal.domain.models import (
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
)

# The Viewer's three questions, built once: a statement built per call costs
# more to build and to key for SQLAlchemy's compiled cache than to run (a third
# of a list page's authorization). Each reads the one clock when it runs
# (``active``), so a statement kept here never keeps an expired role.
_ROLE_IN = select(OrganizationRole.name).where(
    OrganizationRole.user_id == bindparam("user_id"),
    OrganizationRole.organization_id == bindparam("organization_id"),
    OrganizationRole.active,
)
_ROLES_IN = select(OrganizationRole.organization_id, OrganizationRole.name).where(
    OrganizationRole.user_id == bindparam("user_id"),
    OrganizationRole.organization_id.in_(bindparam("ids", expanding=True)),
    OrganizationRole.active,
)
# A grant counts only while its holder's organization role is active too.
_REPOSITORY_ROLES = (
    select(RepositoryRole.repository_id, RepositoryRole.name)
    .join(
        OrganizationRole,
        and_(
            OrganizationRole.user_id == RepositoryRole.user_id,
            OrganizationRole.organization_id == RepositoryRole.organization_id,
        ),
    )
    .where(
        RepositoryRole.user_id == bindparam("user_id"),
        RepositoryRole.repository_id.in_(bindparam("ids", expanding=True)),
        RepositoryRole.active,
        OrganizationRole.active,
    )
)


class Viewer:
    """The actor for decisions: one user (or nobody) seen through one session.

    ``role_in`` costs one indexed query per organization and is remembered, so the
    cost of a decision does not depend on how many organizations the user is in.
    Only active roles are read (``expires_at`` unset or later than the one
    clock's now): an expired role is no role, and a direct repository grant
    counts only while its holder's organization role is active too. What is
    remembered lives for one request (one Viewer), never across requests.
    """

    def __init__(self, session: Session, user_id: int | None) -> None:
        """The user user_id (None: nobody signed in), read through session."""
        self.session = session
        self.user_id = user_id
        self._roles: dict[int, str | None] = {}
        self._repository_roles: dict[int, str | None] = {}

    def role_in(self, organization: Organization) -> str | None:
        """The name of this user's active role in organization, or None."""
        if self.user_id is None:
            return None
        if organization.id not in self._roles:
            self._roles[organization.id] = self.session.scalar(
                _ROLE_IN,
                {"user_id": self.user_id, "organization_id": organization.id},
            )
        return self._roles[organization.id]

    def know_roles_in(self, organizations: Iterable[Organization]) -> None:
        """Read this user's role in each of organizations at once (one query), so
        that deciding about the rows of a list that spans organizations (the
        viewer's repositories) costs no query per organization."""
        wanted = {o.id for o in organizations if o.id not in self._roles}
        if not wanted or self.user_id is None:
            return
        rows = self.session.execute(
            _ROLES_IN, {"user_id": self.user_id, "ids": sorted(wanted)}
        )
        found: dict[int, str] = dict(rows.all())
        for organization_id in wanted:
            self._roles[organization_id] = found.get(organization_id)

    def repository_role_in(self, repository: Repository) -> str | None:
        """The name of the repository role granted to this user directly on
        repository, or None (what the organization gives is the policy's); None
        too when the grant or the user's organization role has expired."""
        if self.user_id is None:
            return None
        if repository.id not in self._repository_roles:
            self.know_repository_roles([repository])
        return self._repository_roles[repository.id]

    def know_repository_roles(self, repositories: Iterable[Repository]) -> None:
        """Read the direct repository roles of this user on repositories at once
        (one query), so that deciding about each of a page's rows costs none."""
        wanted = [r.id for r in repositories if r.id not in self._repository_roles]
        if not wanted or self.user_id is None:
            return
        rows = self.session.execute(
            _REPOSITORY_ROLES, {"user_id": self.user_id, "ids": wanted}
        )
        found: dict[int, str] = dict(rows.all())
        for repository_id in wanted:
            self._repository_roles[repository_id] = found.get(repository_id)

    def __repr__(self) -> str:
        """<Viewer user=1>, for test failures and logs."""
        return f"<Viewer user={self.user_id}>"


class RoleHolder:
    """The actor "someone who holds the role ``name``", in no particular
    organization: what the policy grants a role, asked of the policy itself.

    portal.authz.explain asks about RoleHolders to explain access (the roles x
    permissions table, the "why" of each permission) from the loaded policy.
    Requests never act as one.
    """

    def __init__(self, name: str, on: str = "Organization") -> None:
        """Someone who holds the role name on every resource of the block on
        (an organization role by default; "Repository": a repository role)."""
        self.name = name
        self.on = on

    def __repr__(self) -> str:
        """<RoleHolder OWNER>, for test failures and logs."""
        return f"<RoleHolder {self.name} on {self.on}>"
