"""Recording expired roles in the audit trail: the sweep.

An expired role grants nothing from its expiry on, whether or not it has been
recorded (the policy reads ``expires_at``, never the audit). The sweep
(``flask --app portal sweep-expired``, run from cron or by hand) writes one
``role_expired`` / ``repository_role_expired`` entry per expiry it finds:
old_role is the role that expired, old_value its expiry (ISO 8601 UTC). An
expiry already recorded (the same person, organization, repository and expiry
moment) is not recorded again, so the sweep can run any number of times; a role
renewed and expired again is recorded again (another moment). The rows stay:
the pages show them, marked expired, until an owner renews or removes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import expiry
from portal.domain.models import (
    AuditEntry,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.domain.roles import lock_organization
from portal.infra import clock


@dataclass(frozen=True)
class Swept:
    """What one sweep recorded: how many organization roles and repository
    roles were found expired for the first time."""

    roles: int
    repository_roles: int


def sweep_expired(session: Session) -> Swept:
    """Record every expired role not recorded yet, each organization under its
    lock (its audit entries stay in commit order); the caller commits."""
    now = clock.now()
    found_roles = session.execute(
        select(OrganizationRole, User.email)
        .join(User, User.id == OrganizationRole.user_id)
        .where(~OrganizationRole.active)
        .order_by(OrganizationRole.organization_id, OrganizationRole.id)
    ).all()
    found_grants = session.execute(
        select(RepositoryRole, User.email, Repository.name)
        .join(User, User.id == RepositoryRole.user_id)
        .join(Repository, Repository.id == RepositoryRole.repository_id)
        .where(~RepositoryRole.active)
        .order_by(RepositoryRole.organization_id, RepositoryRole.id)
    ).all()
    locked: set[int] = set()
    roles = grants = 0
    for role, email in found_roles:
        when = expiry.iso(role.expires_at)
        # Locked before the check: two sweeps at once record an expiry once.
        _lock_once(session, role.organization_id, locked)
        if _recorded(session, "role_expired", role.organization_id, role.user_id, when):
            continue
        session.add(
            AuditEntry(
                organization_id=role.organization_id,
                at=now,
                action="role_expired",
                user_id=role.user_id,
                user_email=email,
                old_role=role.name,
                old_value=when,
            )
        )
        roles += 1
    for grant, email, repository_name in found_grants:
        when = expiry.iso(grant.expires_at)
        _lock_once(session, grant.organization_id, locked)
        if _recorded(
            session,
            "repository_role_expired",
            grant.organization_id,
            grant.user_id,
            when,
            grant.repository_id,
        ):
            continue
        session.add(
            AuditEntry(
                organization_id=grant.organization_id,
                at=now,
                action="repository_role_expired",
                user_id=grant.user_id,
                user_email=email,
                old_role=grant.name,
                old_value=when,
                repository_id=grant.repository_id,
                repository_name=repository_name,
            )
        )
        grants += 1
    session.flush()
    return Swept(roles, grants)


def _recorded(
    session: Session,
    action: str,
    organization_id: int,
    user_id: int,
    when: str | None,
    repository_id: int | None = None,
) -> bool:
    """Whether this expiry (action, who, where, when) is in the audit already."""
    found = session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.organization_id == organization_id,
            AuditEntry.user_id == user_id,
            AuditEntry.action == action,
            AuditEntry.old_value == when,
            AuditEntry.repository_id == repository_id,
        )
        .limit(1)
    )
    return found is not None


def _lock_once(session: Session, organization_id: int, locked: set[int]) -> None:
    """Lock the organization's row the first time the sweep writes for it."""
    if organization_id not in locked:
        lock_organization(session, organization_id)
        locked.add(organization_id)
