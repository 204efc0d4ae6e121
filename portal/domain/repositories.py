"""Repository administration: the only code that creates, renames and deletes
repositories.

Like portal.domain.org_admin, every operation takes the acting user (``actor``;
None for the command line), locks the repository's organization first
(portal.domain.roles.lock_organization: changes to one organization, its roles
and its repositories run one after the other), checks its rules (a refusal
raises a portal.domain.names.Refused subclass, whose ``status`` is the HTTP
answer, and changes nothing), records an audit entry in the same transaction,
and leaves the commit to its caller. Who may call them is the policy's business.

Names follow portal.domain.names and are unique within the organization, compared
as Repository.name_key folds them (case ignored): the unique (organization_id,
name_key) is the guarantee, the check before it the message. Two creations of
one name at the same moment: one wins, the other gets NameTaken from the
constraint (never an IntegrityError out of here).

Deleting a repository takes the roles granted on it with it (the foreign keys'
ON DELETE CASCADE); its audit entries stay, keeping its name, their
repository_id set to NULL by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import repository_roles
from portal.domain.models import (
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
    organization_name_key,
)
from portal.domain.names import (
    ChangedMeanwhile,
    NameTaken,
    Refused,
    SameName,
    WrongConfirmation,
    checked_name,
    same_typed_name,
)
from portal.domain.roles import lock_organization
from portal.infra import clock

REPOSITORY = "repository"  # the noun the names' messages use

#: The repository role its creator is granted directly.
CREATOR_ROLE = "ADMIN"


class RepositoryGone(Refused):
    """The repository (or its organization) does not exist (any more)."""

    status = 404

    def __init__(self) -> None:
        super().__init__("That repository does not exist: it may have been deleted.")


@dataclass(frozen=True)
class Deleted:
    """A repository that was deleted: what it was, who deleted it, what went."""

    repository_id: int
    organization_id: int
    name: str
    actor_id: int | None  # None: the command line
    actor_email: str | None
    grants: int  # the roles granted on it directly
    at: datetime


# --- checks ---------------------------------------------------------------------


def name_holder(session: Session, organization_id: int, name: str) -> int | None:
    """The id of the organization's repository whose name compares equal to name,
    if any."""
    return session.scalar(
        select(Repository.id).where(
            Repository.organization_id == organization_id,
            Repository.name_key == organization_name_key(name),
        )
    )


def direct_grants(session: Session, repository_id: int) -> int:
    """How many roles are granted on the repository directly (they go with it)."""
    statement = select(func.count()).where(
        RepositoryRole.repository_id == repository_id
    )
    return session.scalar(statement) or 0


# --- changes: lock, check, change, record; the caller commits --------------------


def create_repository(
    session: Session, organization: Organization, name: str, actor: User | None
) -> Repository:
    """A new repository of organization named name (audited as
    "create_repository")."""
    if lock_organization(session, organization.id) is None:
        raise RepositoryGone()
    name = checked_name(name, REPOSITORY)
    if name_holder(session, organization.id, name) is not None:
        raise _taken(name, organization)
    repository = Repository(name=name, organization_id=organization.id)
    session.add(repository)
    _flush_name(session, _taken(name, organization))
    _record(session, repository, "create_repository", actor)
    creator = (
        None
        if actor is None
        else session.scalar(
            select(OrganizationRole).where(
                OrganizationRole.organization_id == organization.id,
                OrganizationRole.user_id == actor.id,
            )
        )
    )
    if creator is not None:
        # Whoever creates a repository administers it, whatever the
        # organization's base role gives its members (none, say): it is granted
        # to them directly, as GitHub does, and audited with the creation.
        repository_roles.grant_to_member(
            session, repository, creator, CREATOR_ROLE, actor=actor
        )
    return repository


def rename_repository(
    session: Session,
    repository: Repository,
    name: str,
    actor: User | None,
    *,
    expected: str | None = None,
) -> str:
    """Rename repository to name; its old name. expected: the name the form was
    drawn with (None: not said), refused (ChangedMeanwhile) if the name is
    another one by the time the lock is held."""
    repository = _locked(session, repository)
    if expected is not None and repository.name != expected:
        raise ChangedMeanwhile(
            f"The repository was renamed to {repository.name} while you were"
            " looking. Check the name and send it again."
        )
    name = checked_name(name, REPOSITORY)
    old = repository.name
    if name == old:
        raise SameName(name, REPOSITORY)
    holder = name_holder(session, repository.organization_id, name)
    if holder is not None and holder != repository.id:
        raise _taken(name, repository.organization)
    taken = _taken(name, repository.organization)
    repository.name = name
    _flush_name(session, taken)
    _record(
        session, repository, "rename_repository", actor, old_value=old, new_value=name
    )
    return old


def delete_repository(
    session: Session, repository: Repository, confirm_name: str, actor: User | None
) -> Deleted:
    """Delete repository with the roles granted on it (the foreign keys' ON
    DELETE CASCADE), if confirm_name is its name (compared as an organization's
    deletion compares it)."""
    repository = _locked(session, repository)
    if not same_typed_name(confirm_name, repository.name):
        raise WrongConfirmation(REPOSITORY)
    gone = Deleted(
        repository_id=repository.id,
        organization_id=repository.organization_id,
        name=repository.name,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        grants=direct_grants(session, repository.id),
        at=clock.now(),
    )
    # Recorded first, naming the repository: the database then sets the entry's
    # repository_id to NULL as the row goes, and repository_name stays.
    _record(session, repository, "delete_repository", actor)
    session.delete(repository)
    session.flush()
    return gone


def _locked(session: Session, repository: Repository) -> Repository:
    """repository as it is under its organization's lock (RepositoryGone if it or
    its organization was deleted meanwhile)."""
    if lock_organization(session, repository.organization_id) is None:
        raise RepositoryGone()
    current = session.scalar(
        select(Repository)
        .where(Repository.id == repository.id)
        .execution_options(populate_existing=True)
    )
    if current is None:
        raise RepositoryGone()
    return current


def _taken(name: str, organization: Organization) -> NameTaken:
    """The refusal of a name another repository of organization has."""
    return NameTaken(name, REPOSITORY, f" in {organization.name}")


def _flush_name(session: Session, taken: NameTaken) -> None:
    """Flush, turning the unique name_key's refusal into taken (a concurrent
    creation or rename took the name after the check; worded before the flush,
    as the failed flush leaves the session unreadable)."""
    try:
        session.flush()
    except IntegrityError as error:
        raise taken from error


def _record(
    session: Session,
    repository: Repository,
    action: str,
    actor: User | None,
    *,
    old_value: str | None = None,
    new_value: str | None = None,
) -> None:
    """Add the change's audit entry to the transaction."""
    session.add(
        AuditEntry(
            organization_id=repository.organization_id,
            at=clock.now(),
            action=action,
            actor_id=actor.id if actor is not None else None,
            actor_email=actor.email if actor is not None else None,
            repository_id=repository.id,
            repository_name=repository.name,
            old_value=old_value,
            new_value=new_value,
        )
    )
    session.flush()
