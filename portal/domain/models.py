"""Database models: users, organizations (tenants), repositories, roles, the
audit trail of role changes, and what people are sent by mail (the outbox,
invitations and password resets)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    false,
    or_,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.ext.hybrid import hybrid_property
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
    # Invitations (user_email: the invited email, new_role: the role offered):
    # sent, sent again, accepted (user: who accepted), declined, revoked by an
    # owner, and found expired (by the page that first saw it, or a sweep).
    "invite",
    "resend_invitation",
    "accept_invitation",
    "decline_invitation",
    "revoke_invitation",
    "expire_invitation",
    # A time-limited role: its expiry set, changed or cleared (old_value,
    # new_value: ISO 8601 times, None for "never"), and a role found expired
    # (old_role: the role that expired; repository_id for a repository role).
    # An expired role grants nothing from its expiry on, whether or not this
    # entry has been written yet: the policy reads expires_at, not the audit.
    "role_expiry",
    "role_expired",
    "repository_role_expiry",
    "repository_role_expired",
)

#: The longest name a new or renamed organization may have (older rows may hold
#: up to the column's 200 characters).
ORGANIZATION_NAME_MAX = 100


def new_session_token() -> str:
    """A random token that identifies one login generation of a user."""
    return secrets.token_urlsafe(32)


def new_link_token() -> tuple[str, str]:
    """A single-use secret for a mailed link, and the form it is stored in.

    The token (43 URL-safe characters, 256 random bits) goes into the link and
    nowhere else; the database keeps only its SHA-256 (token_hash), so a copy of
    the database opens no invitation and resets no password. A plain hash, not a
    password hash: the token is random, not guessable, so nothing is gained by
    slowing the lookup down.
    """
    token = secrets.token_urlsafe(32)
    return token, hash_link_token(token)


def hash_link_token(token: str) -> str:
    """The stored form of a link token (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now_parameter() -> ColumnElement[datetime]:
    """The one clock's time as a SQL parameter, read when the statement runs
    (not when it is built: the policy's list filters are built once and cached)."""
    return bindparam(
        "portal_now", callable_=clock.now, type_=DateTime(timezone=True), unique=True
    )


def _unexpired(expires_at: datetime | None) -> bool:
    """Python's side of ``active``: no expiry, or one still in the future."""
    return expires_at is None or clock.as_utc(expires_at) > clock.now()


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
        # read from the index itself, however many roles the user holds (and
        # whether each is still active: expires_at).
        Index(
            "ix_organization_role_user_id_name",
            "user_id",
            "name",
            "organization_id",
            "expires_at",
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
    # A time-limited role grants nothing from this moment on (None: never
    # expires). The row stays, so the member page can say "expired on ..." and
    # an owner can renew it; the policy reads ``active``.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="roles")
    organization: Mapped[Organization] = relationship(back_populates="roles")

    @hybrid_property
    def active(self) -> bool:
        """Whether the role grants anything now (the one clock's now): in
        Python for a loaded row, in SQL (``expires_at IS NULL OR expires_at >
        :now``, now read when the statement runs) for filters."""
        return _unexpired(self.expires_at)

    @active.inplace.expression
    @classmethod
    def _active_expression(cls) -> ColumnElement[bool]:
        return or_(cls.expires_at.is_(None), cls.expires_at > _now_parameter())

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
        # name, active or not), read from the index alone.
        Index(
            "ix_repository_role_user_id_organization_id",
            "user_id",
            "organization_id",
            "name",
            "repository_id",
            "expires_at",
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
    # As OrganizationRole.expires_at, for this grant alone. A grant also
    # grants nothing while its holder's organization role is expired (the
    # policy checks both).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    repository: Mapped[Repository] = relationship(
        back_populates="roles",
        primaryjoin="foreign(RepositoryRole.repository_id) == Repository.id",
    )
    user: Mapped[User] = relationship()
    # The holder's organization role (the grant's foreign key to it, two
    # columns): the policy reads whether it is active, and lists join it on
    # both columns (portal.authz.adapter), one unique-index lookup per grant.
    membership: Mapped[OrganizationRole] = relationship(
        primaryjoin="and_(foreign(RepositoryRole.user_id) == OrganizationRole.user_id,"
        " foreign(RepositoryRole.organization_id) == OrganizationRole.organization_id)",
        viewonly=True,
    )

    @hybrid_property
    def active(self) -> bool:
        """Whether this grant itself has not expired (OrganizationRole.active)."""
        return _unexpired(self.expires_at)

    @active.inplace.expression
    @classmethod
    def _active_expression(cls) -> ColumnElement[bool]:
        return or_(cls.expires_at.is_(None), cls.expires_at > _now_parameter())

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


class OutboxMessage(Base):
    """One mail to send, written in the transaction of the change that causes it.

    The change and its mail commit together or not at all; a sender
    (portal.mail) delivers what is due, retries with backoff and keeps the last
    error. State: queued (sent_at and failed_at None), sent (sent_at), failed
    for good (failed_at: it stopped retrying; it stays listed with its error).
    A message's body holds a live single-use link until it is delivered; the
    sender blanks it then (the recipient has it; the database need not).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        # What the sender asks: "unsent and due, oldest first".
        Index("ix_outbox_message_due", "sent_at", "failed_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=clock.now
    )
    # What kind of mail ("invitation", "password_reset", ...): for the outbox
    # listing and the logs, never for routing.
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=clock.now
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} to={self.to_address}>"


class Invitation(Base):
    """A role offered to an email address, pending until its link is used.

    The link carries a token whose SHA-256 is token_hash (new_link_token);
    accepting, declining or revoking deletes the row (the audit keeps what
    happened). It grants nothing until accepted, and counts toward no
    last-owner rule. One pending invitation per email per organization.
    """

    __tablename__ = "invitation"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        CheckConstraint(
            "role IN (" + ", ".join(f"'{n}'" for n in ROLE_NAMES) + ")",
            name="role_name",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    # normalize_email'd.
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    # When the role, once accepted, expires (None: never): as the assign form's.
    role_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who invited (None: the command line, or a since deleted user); the email
    # is a copy, as in the audit.
    inviter_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    inviter_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=clock.now
    )
    # The link works until this moment (7 days after it was last sent).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    organization: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return (
            f"<Invitation {self.id} {self.email} {self.role}"
            f" org={self.organization_id}>"
        )


class PasswordReset(Base):
    """One "forgot my password" request, for a known email or not.

    Every request is a row (email and client address as given), so that the
    throttle counts requests per email and per client whether or not the email
    has an account. For a known email the row also holds the user and the
    SHA-256 of the mailed token (new_link_token), usable once (used_at) until
    expires_at.
    """

    __tablename__ = "password_reset"
    __table_args__ = (
        Index("ix_password_reset_email_at", "email", "at"),
        Index("ix_password_reset_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # normalize_email'd, as typed (for throttling), whether or not it has an account.
    email: Mapped[str] = mapped_column(String(254))
    # The client's address (request.remote_addr behind the proxy fix).
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=clock.now)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<PasswordReset {self.id} {self.email} at={self.at:%Y-%m-%d %H:%M}>"
