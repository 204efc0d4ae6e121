"""Login attempts in flight: login_failure.pending marks an attempt whose
password is still being checked, so the throttle no longer counts it as a
failure (existing rows are failures: false).

Revision ID: 90b85a0f54a5
Revises: b561a1150fe6
Create Date: 2026-12-07 19:58:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "90b85a0f54a5"
down_revision: str | Sequence[str] | None = "b561a1150fe6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: add login_failure.pending, false for every existing row."""
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pending", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    """Revert: drop login_failure.pending. Attempts still in flight stay, as the
    failures the old code counted every attempt as until its password was found
    right."""
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_column("pending")
