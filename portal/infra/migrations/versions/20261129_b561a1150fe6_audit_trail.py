"""Audit trail: one row per role change (add, change, remove, leave), written in
the change's transaction, with the people's emails copied so that entries outlive
their accounts; indexed for an organization's entries, newest first.

Revision ID: b561a1150fe6
Revises: 8ee4993ec733
Create Date: 2026-11-29 00:56:42.109449
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b561a1150fe6"
down_revision: str | Sequence[str] | None = "8ee4993ec733"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: create audit_entry and its indexes."""
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_email", sa.String(length=254), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.String(length=254), nullable=False),
        sa.Column("old_role", sa.String(length=32), nullable=True),
        sa.Column("new_role", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "action IN ('add', 'change', 'remove', 'leave')",
            name=op.f("ck_audit_entry_action"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user.id"],
            name=op.f("fk_audit_entry_actor_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_audit_entry_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_audit_entry_user_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entry_actor_id"), ["actor_id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_entry_organization_id_id", ["organization_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entry_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    """Revert: drop audit_entry (its entries are lost)."""
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_user_id"))
        batch_op.drop_index("ix_audit_entry_organization_id_id")
        batch_op.drop_index(batch_op.f("ix_audit_entry_actor_id"))

    op.drop_table("audit_entry")
