"""Indexes for paged lists: a page of a large list reads an index in order
(repositories of an organization by name; the organizations a user holds a
given role in), instead of sorting every matching row.

Revision ID: 8ee4993ec733
Revises: ba48ad2502f7
Create Date: 2026-11-29 00:05:15.950620
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "8ee4993ec733"
down_revision: str | Sequence[str] | None = "ba48ad2502f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: add the list indexes; the repository one replaces the plain one."""
    with op.batch_alter_table("organization_role", schema=None) as batch_op:
        batch_op.create_index(
            "ix_organization_role_user_id_name",
            ["user_id", "name", "organization_id"],
            unique=False,
        )

    with op.batch_alter_table("repository", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repository_organization_id"))
        batch_op.create_index(
            "ix_repository_organization_id_name",
            ["organization_id", "name", "id"],
            unique=False,
        )


def downgrade() -> None:
    """Revert: back to the plain index on repository.organization_id."""
    with op.batch_alter_table("repository", schema=None) as batch_op:
        batch_op.drop_index("ix_repository_organization_id_name")
        batch_op.create_index(
            batch_op.f("ix_repository_organization_id"),
            ["organization_id"],
            unique=False,
        )

    with op.batch_alter_table("organization_role", schema=None) as batch_op:
        batch_op.drop_index("ix_organization_role_user_id_name")
