"""Database models: users, organizations (tenants), repositories, roles and the
audit trail of role changes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    WriteOnlyMapped,
    mapped_column,
    relationship,
    validates,
)

from portal.infra import clock

#: The organization roles, strongest first. The policy grants permissions to these
#: names; the database refuses any other (check constraint below), and
#: tests/test_policy.py fails if the policy and this tuple disagree.
ROLE_NAMES: tuple[str, ...] = ("OWNER", "MEMBER", "BILLING")

#: The repository roles, strongest first (the policy: ADMIN includes WRITER
#: includes READER), said "Admin", "Writer" and "Reader" (portal/policy_words.toml).
#: Nouns, not READ/WRITE: Oso keeps one name space for a block's roles and
#: permissions, and READ is a permission.
REPOSITORY_ROLE_NAMES: tuple[str, ...] = ("ADMIN", "WRITER", "READER")

#: The repository role every member of a new organization gets on each of its
#: repositories (Organization.base_repository_role; None there: no role).
DEFAULT_BASE_REPOSITORY_ROLE = "READER"

#: What an audit entry records: a role added, changed or removed by someone, or
#: given up by its holder ("leave"). Invitations, expiries and repository roles
#: will add values here (and to the check constraint), not new columns.
AUDIT_ACTIONS: tuple[str, ...] = (
    "add",
    "change",
    "remove",
    "leave",
    # The organization itself: created (its first owner is the entry's user),
    # renamed (old_value, new_value) and its billing address changed.
    "create",
    "rename",
    "billing_address",
    # Its base repository role changed (old_value, new_value: role codes, None
    # for none).
    "base_repository_role",
    # A repository (repository_id, repository_name): created, renamed
    # (old_value, new_value), deleted; a role on it given, changed or taken
    # away directly (user, old_role, new_role: repository role codes).
    "create_repository",
    "rename_repository",
    "delete_repository",
    "add_repository_role",
    "change_repository_role",
    "remove_repository_role",
)

#: The longest name a new or renamed organization may have (older rows may hold
#: up to the column's 200 characters).
ORGANIZATION_NAME_MAX = 100


def new_session_token() -> str:
    """A random token that identifies one login generation of a user."""
    return secrets.token_urlsafe(32)


def normalize_email(email: str) -> str:
    """The form in which emails are stored and compared."""
    return email.strip().lower()


def organization_name_key(name: str) -> str:
    """The form in which organization names are compared: trimmed and case-folded
    in Python ("Straße" and "STRASSE" are one name), the same on every database
    (SQLite's lower() folds ASCII only). Stored in Organization.name_key, which
    is unique."""
    return name.strip().casefold()


def _name_key_default(context: DefaultExecutionContext) -> str:
    """name_key for an INSERT that sets only the name (bulk inserts of rows)."""
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return organization_name_key(str(parameters["name"]))


class Base(DeclarativeBase):
    # Named constraints make migrations (Alembic) and error messages predictable.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(Base):
    """A person who can log in."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Flask-Login stores this token, not the id, in the session cookie; rotating it
    # (logout, password change) kills every copy of an old cookie.
    session_token: Mapped[str] = mapped_column(
        String(64), unique=True, default=new_session_token
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=clock.now
    )

    # passive_deletes: deleting a user leaves its role rows to the foreign key's
    # ON DELETE CASCADE instead of loading every one of them first.
    roles: Mapped[list[OrganizationRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login's user protocol, written out rather than inherited from UserMixin
    # so that get_id() cannot silently fall back to the numeric id.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """The value Flask-Login keeps in the session cookie."""
        return self.session_token

    def rotate_session_token(self) -> None:
        """Invalidate every session cookie issued so far for this user."""
        self.session_token = new_session_token()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Organization(Base):
    """A tenant: owns repositories and hands out roles to users."""

    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(
            "base_repository_role IN ("
            + ", ".join(f"'{n}'" for n in REPOSITORY_ROLE_NAMES)
            + ")",
            name="base_repository_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The name as names are compared (organization_name_key): unique, so that no
    # two organizations have names that differ only in case, whoever inserts
    # them. Case folding may lengthen a name (ß -> ss): room for three times it.
    # Deferred: only uniqueness needs it, never a page.
    name_key: Mapped[str] = mapped_column(
        String(600), unique=True, default=_name_key_default, deferred=True
    )
    billing_address: Mapped[str] = mapped_column(String(500), default="")
    # The repository role the policy gives every MEMBER of this organization on
    # each of its repositories (None: none, they see only what is granted to
    # them directly). Owners are ADMIN everywhere whatever this says.
    base_repository_role: Mapped[str | None] = mapped_column(
        String(16),
        default=DEFAULT_BASE_REPOSITORY_ROLE,
        server_default=DEFAULT_BASE_REPOSITORY_ROLE,
    )

    # Thousands of rows: never loaded whole. Add with .add()/.add_all(), read with
    # session.scalars(organization.repositories.select()); deleting the
    # organization leaves them to ON DELETE CASCADE (passive_deletes).
    repositories: WriteOnlyMapped[Repository] = relationship(
        back_populates="organization",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Repository.name",
    )
    # Kept a list for code that iterates one organization's members; the policy
    # does not need that (Oso reads `organization.roles` through the registered
    # Relation, as a query). Deleting still leaves the rows to the database.
    roles: Mapped[list[OrganizationRole]] = relationship(
        back_populates="organization",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        """Keep name_key in step with every name set on the object."""
        self.name_key = organization_name_key(name)
        return name

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


class Repository(Base):
    """A repository that belongs to one organization."""

    __tablename__ = "repository"
    __table_args__ = (
        # An organization's repositories in the order the list pages show them:
        # a page is read from the index and stops at its last row, instead of
        # sorting all 5,000 repositories of a large organization. Its first
        # column also serves the foreign key.
        Index("ix_repository_organization_id_name", "organization_id", "name", "id"),
        # No two repositories of an organization have names that differ only in
        # case (name_key: organization_name_key of the name).
        UniqueConstraint("organization_id", "name_key"),
        # What a repository role's foreign key points at: the role's repository
        # must be in the role's organization (RepositoryRole).
        UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(
        String(600), default=_name_key_default, deferred=True
    )
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )

    organization: Mapped[Organization] = relationship(back_populates="repositories")
    # The roles granted on this repository directly (the policy adds those that
    # come from the organization). Read by Oso as a query, never loaded whole.
    roles: Mapped[list[RepositoryRole]] = relationship(
        back_populates="repository",
        cascade="all, delete-orphan",
        passive_deletes=True,
        primaryjoin="Repository.id == foreign(RepositoryRole.repository_id)",
    )

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        """Keep name_key in step with every name set on the object."""
        self.name_key = organization_name_key(name)
        return name

    def __repr__(self) -> str:
        return f"<Repository {self.id} {self.name!r} org={self.organization_id}>"


class OrganizationRole(Base):
    """The one role a user holds in an organization."""

    __tablename__ = "organization_role"
    __table_args__ = (
        # One role per user per organization; also the index behind every
        # "what is my role here" lookup.
        UniqueConstraint("user_id", "organization_id"),
        # "The organizations where this user holds one of these roles" (the
        # policy-filtered lists): one range per role name, the organization
        # read from the index itself, however many roles the user holds.
        Index(
            "ix_organization_role_user_id_name", "user_id", "name", "organization_id"
        ),
        CheckConstraint(
            "name IN (" + ", ".join(f"'{n}'" for n in ROLE_NAMES) + ")",
            name="role_name",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )

    user: Mapped[User] = relationship(back_populates="roles")
    organization: Mapped[Organization] = relationship(back_populates="roles")

    def __repr__(self) -> str:
        return (
            f"<OrganizationRole {self.name} user={self.user_id}"
            f" org={self.organization_id}>"
        )


class RepositoryRole(Base):
    """A repository role granted to one person directly (READER, WRITER, ADMIN).

    Only someone who holds a role in the repository's organization can hold
    one, and it goes when that role goes: both are the database's rules, not
    the code's. Its foreign keys point at the organization role
    (user_id, organization_id) and at the repository (repository_id,
    organization_id), each ON DELETE CASCADE, so removing a member, their
    leaving, deleting the repository, the organization or the user removes it in
    the same statement, on every database and in every race.
    """

    __tablename__ = "repository_role"
    __table_args__ = (
        # One direct role per person per repository.
        UniqueConstraint("repository_id", "user_id"),
        ForeignKeyConstraint(
            ["user_id", "organization_id"],
            ["organization_role.user_id", "organization_role.organization_id"],
            ondelete="CASCADE",
            name="fk_repository_role_membership",
        ),
        ForeignKeyConstraint(
            ["repository_id", "organization_id"],
            ["repository.id", "repository.organization_id"],
            ondelete="CASCADE",
            name="fk_repository_role_repository",
        ),
        # A person's grants in an organization (the cascade from their
        # organization role, and "the repositories I may read" filtered by role
        # name), read from the index alone.
        Index(
            "ix_repository_role_user_id_organization_id",
            "user_id",
            "organization_id",
            "name",
            "repository_id",
        ),
        CheckConstraint(
            "name IN (" + ", ".join(f"'{n}'" for n in REPOSITORY_ROLE_NAMES) + ")",
            name="role_name",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    repository_id: Mapped[int] = mapped_column()
    organization_id: Mapped[int] = mapped_column()

    repository: Mapped[Repository] = relationship(
        back_populates="roles",
        primaryjoin="foreign(RepositoryRole.repository_id) == Repository.id",
    )
    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return (
            f"<RepositoryRole {self.name} user={self.user_id}"
            f" repo={self.repository_id}>"
        )


class AuditEntry(Base):
    """One role change, as it was made: who did what to whom, where and when.

    Written by portal.domain.roles in the transaction of the change, never updated. The
    emails are copies, and the role names plain strings rather than references, so
    that an entry reads the same after the people leave (their ids become NULL)
    or the role names change. No relationship points here from User or
    Organization: deleting either leaves the entries to the foreign keys' ON
    DELETE and loads none of them.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        # "This organization's entries, newest first, a page at a time": read
        # backwards from the index, stopping at the page's last row. Its first
        # column also serves the foreign key.
        Index("ix_audit_entry_organization_id_id", "organization_id", "id"),
        CheckConstraint(
            "action IN (" + ", ".join(f"'{a}'" for a in AUDIT_ACTIONS) + ")",
            name="action",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now)
    action: Mapped[str] = mapped_column(String(32))
    # Who made the change; both None for the command line. Indexed because
    # deleting a user sets these to NULL, which must find the rows.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    actor_email: Mapped[str | None] = mapped_column(String(254))
    # Whose role changed.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    # None: an entry about the organization itself (rename, billing_address).
    user_email: Mapped[str | None] = mapped_column(String(254))
    # None: no role before (an addition) or after (a removal).
    old_role: Mapped[str | None] = mapped_column(String(32))
    new_role: Mapped[str | None] = mapped_column(String(32))
    # The repository an entry is about (None: the organization or its roles).
    # The name is a copy, so the entry reads the same after the repository is
    # renamed or deleted (its id then becomes NULL).
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repository.id", ondelete="SET NULL"), index=True
    )
    repository_name: Mapped[str | None] = mapped_column(String(200))
    # The organization's name before and after a rename (create: the name it was
    # created with, in new_value); None for role changes.
    old_value: Mapped[str | None] = mapped_column(String(200))
    new_value: Mapped[str | None] = mapped_column(String(200))

    @property
    def at_utc(self) -> datetime:
        """When the change was made, in UTC on every database."""
        return clock.as_utc(self.at)

    def __repr__(self) -> str:
        return (
            f"<AuditEntry {self.id} {self.action} {self.user_email}"
            f" {self.old_role}->{self.new_role} org={self.organization_id}>"
        )


class LoginFailure(Base):
    """One failed login for an email (known or not), for throttling; or, while
    ``pending``, one attempt whose password is still being checked.

    Kept in the database, not in process memory, so that the limit holds across
    every worker process and server.
    """

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    pending: Mapped[bool] = mapped_column(default=False, server_default=false())

    def __repr__(self) -> str:
        state = " pending" if self.pending else ""
        return f"<LoginFailure {self.email} at={self.at:%Y-%m-%d %H:%M:%S}{state}>"
