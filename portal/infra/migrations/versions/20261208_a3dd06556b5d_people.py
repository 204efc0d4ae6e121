"""People: the outbox (mail written with the change that causes it),
invitations, password resets, and time-limited roles (expires_at on
organization and repository roles), with the audit actions they add.

Existing rows are kept and nothing expires: every existing role gets no expiry.

Revision ID: a3dd06556b5d
Revises: c3a8e2f4d617
Create Date: 2026-12-08 01:08:10.985714
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portal.infra import clock

revision: str = "a3dd06556b5d"
down_revision: str | Sequence[str] | None = "c3a8e2f4d617"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

OLD_ACTIONS = (
    "action IN ('add', 'change', 'remove', 'leave', 'create', 'rename',"
    " 'billing_address', 'base_repository_role', 'create_repository',"
    " 'rename_repository', 'delete_repository', 'add_repository_role',"
    " 'change_repository_role', 'remove_repository_role')"
)
ADDED_ACTIONS = (
    "invite",
    "resend_invitation",
    "accept_invitation",
    "decline_invitation",
    "revoke_invitation",
    "expire_invitation",
    "role_expiry",
    "role_expired",
    "repository_role_expiry",
    "repository_role_expired",
)
COVERING_INDEXES = (
    (
        "ix_organization_role_user_id_name",
        "organization_role",
        ["user_id", "name", "organization_id"],
    ),
    (
        "ix_repository_role_user_id_organization_id",
        "repository_role",
        ["user_id", "organization_id", "name", "repository_id"],
    ),
)
NEW_ACTIONS = OLD_ACTIONS[:-1] + ", " + ", ".join(f"'{a}'" for a in ADDED_ACTIONS) + ")"


def upgrade() -> None:
    """Apply: outbox_message, invitation, password_reset, expires_at, audit."""
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_message_due",
            ["sent_at", "failed_at", "next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("role_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("inviter_id", sa.Integer(), nullable=True),
        sa.Column("inviter_email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('OWNER', 'MEMBER', 'BILLING')",
            name=op.f("ck_invitation_role_name"),
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["user.id"],
            name=op.f("fk_invitation_inviter_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_invitation_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint(
            "organization_id", "email", name=op.f("uq_invitation_organization_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash")),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invitation_inviter_id"), ["inviter_id"], unique=False
        )

    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_password_reset_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_token_hash")),
    )
    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.create_index(
            "ix_password_reset_client_at", ["client", "at"], unique=False
        )
        batch_op.create_index(
            "ix_password_reset_email_at", ["email", "at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_password_reset_user_id"), ["user_id"], unique=False
        )

    with op.batch_alter_table("organization_role", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("repository_role", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_entry_action"), sa.text(NEW_ACTIONS)
        )
    # The lists' covering indexes also carry expires_at, so that "active" is
    # read from the index, not from each row.
    for index, table, columns in COVERING_INDEXES:
        op.drop_index(index, table)
        op.create_index(index, table, [*columns, "expires_at"])


def downgrade() -> None:
    """Revert: the old schema has no expiry, so a role that has expired is
    removed (kept, it would grant again) and one that has not yet becomes
    permanent (each logged), and the repository grants of an expired
    organization role go with it; invitations, resets, the outbox (sent or not)
    and the audit entries the old schema cannot say are dropped (an accepted
    invitation stays, as the role it added)."""
    connection = op.get_bind()
    now = clock.now()
    # The grants of a holder whose organization role has expired go with it:
    # the foreign key's cascade does that on PostgreSQL, not on SQLite, whose
    # foreign keys are off while migrating (and checked after).
    grant = sa.table(
        "repository_role",
        sa.column("user_id", sa.Integer()),
        sa.column("organization_id", sa.Integer()),
    )
    membership = sa.table(
        "organization_role",
        sa.column("user_id", sa.Integer()),
        sa.column("organization_id", sa.Integer()),
        sa.column("expires_at", sa.DateTime(timezone=True)),
    )
    connection.execute(
        sa.delete(grant).where(
            sa.exists().where(
                membership.c.user_id == grant.c.user_id,
                membership.c.organization_id == grant.c.organization_id,
                membership.c.expires_at <= now,
            )
        )
    )
    # The old schema says an accepted invitation as what it made: a role added.
    audit = sa.table(
        "audit_entry", sa.column("action", sa.String()), sa.column("old_role")
    )
    connection.execute(
        sa.update(audit)
        .where(audit.c.action == "accept_invitation")
        .values(action="add", old_role=None)
    )
    for table in ("repository_role", "organization_role"):
        rows = sa.table(
            table,
            sa.column("id", sa.Integer()),
            sa.column("user_id", sa.Integer()),
            sa.column("expires_at", sa.DateTime(timezone=True)),
        )
        expired = connection.execute(
            sa.delete(rows).where(rows.c.expires_at <= now)
        ).rowcount
        kept = connection.execute(
            sa.select(sa.func.count()).where(rows.c.expires_at > now)
        ).scalar_one()
        if expired or kept:
            log.warning(
                "%s: %d expired role(s) removed, %d time-limited role(s) kept"
                " without their expiry",
                table,
                expired,
                kept,
            )
    for index, table, columns in COVERING_INDEXES:
        op.drop_index(index, table)
        op.create_index(index, table, columns)
    connection.execute(sa.delete(audit).where(audit.c.action.in_(ADDED_ACTIONS)))
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_entry_action"), sa.text(OLD_ACTIONS)
        )

    with op.batch_alter_table("repository_role", schema=None) as batch_op:
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("organization_role", schema=None) as batch_op:
        batch_op.drop_column("expires_at")

    with op.batch_alter_table("password_reset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_user_id"))
        batch_op.drop_index("ix_password_reset_email_at")
        batch_op.drop_index("ix_password_reset_client_at")

    op.drop_table("password_reset")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_inviter_id"))

    op.drop_table("invitation")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_due")

    op.drop_table("outbox_message")
