"""Organization administration: names unique case-insensitively (a name_key
column, the name trimmed and case-folded, with a unique constraint), and audit
entries about the organization itself (created, renamed, billing address
changed), which name no person and may carry the old and new name.

Existing rows are kept. Organizations whose names differ only in case (possible
until now) keep their names, except each one after the first (by id), which gets
" (id N)" appended so that every name is unique; the upgrade logs each rename.

Revision ID: 5d1e0c7a9b42
Revises: 90b85a0f54a5
Create Date: 2026-12-07 20:15:00.000000
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e0c7a9b42"
down_revision: str | Sequence[str] | None = "90b85a0f54a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

OLD_ACTIONS = "action IN ('add', 'change', 'remove', 'leave')"
NEW_ACTIONS = (
    "action IN ('add', 'change', 'remove', 'leave', 'create', 'rename',"
    " 'billing_address')"
)

_organization = sa.table(
    "organization",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
)


def _key(name: str) -> str:
    """portal.domain.models.organization_name_key, as of this revision."""
    return name.strip().casefold()


def _fill_name_keys() -> None:
    """Set every organization's name_key; rename the later of names that clash."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_organization.c.id, _organization.c.name).order_by(_organization.c.id)
    ).all()
    taken = {_key(name) for _id, name in rows}
    used: set[str] = set()
    for org_id, name in rows:
        new_name, key = name, _key(name)
        if key in used:
            suffix = f" (id {org_id})"
            new_name = name.strip()[: 200 - len(suffix)] + suffix
            while _key(new_name) in taken | used:
                new_name = new_name[: 200 - 2] + " ~"
            key = _key(new_name)
            log.warning(
                "organization %s renamed from %r to %r: its name differed only in"
                " case from an older organization's",
                org_id,
                name,
                new_name,
            )
        used.add(key)
        connection.execute(
            sa.update(_organization)
            .where(_organization.c.id == org_id)
            .values(name=new_name, name_key=key)
        )


def upgrade() -> None:
    """Apply: organization.name_key (unique), audit_entry's organization entries."""
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=600), nullable=True))
    _fill_name_keys()
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.alter_column(
            "name_key", existing_type=sa.String(length=600), nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_organization_name_key"), ["name_key"]
        )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("old_value", sa.String(length=200)))
        batch_op.add_column(sa.Column("new_value", sa.String(length=200)))
        batch_op.alter_column(
            "user_email", existing_type=sa.String(length=254), nullable=True
        )
        batch_op.drop_constraint(batch_op.f("ck_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_entry_action"), sa.text(NEW_ACTIONS)
        )


def downgrade() -> None:
    """Revert: creations become the additions of the first owner they also were;
    renames and billing address changes are dropped from the audit trail (the
    old schema cannot say them). Names stay as they are."""
    audit = sa.table(
        "audit_entry",
        sa.column("action", sa.String()),
    )
    connection = op.get_bind()
    connection.execute(
        sa.update(audit).where(audit.c.action == "create").values(action="add")
    )
    connection.execute(
        sa.delete(audit).where(audit.c.action.in_(["rename", "billing_address"]))
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_entry_action"), sa.text(OLD_ACTIONS)
        )
        batch_op.alter_column(
            "user_email", existing_type=sa.String(length=254), nullable=False
        )
        batch_op.drop_column("new_value")
        batch_op.drop_column("old_value")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_organization_name_key"), type_="unique")
        batch_op.drop_column("name_key")
