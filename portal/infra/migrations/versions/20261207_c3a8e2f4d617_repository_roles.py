"""Repository roles: a base repository role per organization (every existing
organization gets READER, which keeps what its members could do), repository
roles granted directly (repository_role, whose foreign keys tie each grant to its
holder's organization role and to a repository of the same organization),
repository names unique per organization ignoring case (name_key), and audit
entries about repositories.

Existing rows are kept. Repositories of one organization whose names differ only
in case (possible until now) keep their names, except each one after the first
(by id), which gets " (id N)" appended; the upgrade logs each rename.

Revision ID: c3a8e2f4d617
Revises: 5d1e0c7a9b42
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3a8e2f4d617"
down_revision: str | Sequence[str] | None = "5d1e0c7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

REPOSITORY_ROLES = "('ADMIN', 'WRITER', 'READER')"
OLD_ACTIONS = (
    "action IN ('add', 'change', 'remove', 'leave', 'create', 'rename',"
    " 'billing_address')"
)
NEW_ACTIONS = (
    "action IN ('add', 'change', 'remove', 'leave', 'create', 'rename',"
    " 'billing_address', 'base_repository_role', 'create_repository',"
    " 'rename_repository', 'delete_repository', 'add_repository_role',"
    " 'change_repository_role', 'remove_repository_role')"
)

_repository = sa.table(
    "repository",
    sa.column("id", sa.Integer()),
    sa.column("organization_id", sa.Integer()),
    sa.column("name", sa.String()),
    sa.column("name_key", sa.String()),
)


def _key(name: str) -> str:
    """portal.domain.models.organization_name_key, as of this revision."""
    return name.strip().casefold()


def _fill_name_keys() -> None:
    """Set every repository's name_key; rename the later of names that clash
    within an organization."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _repository.c.id, _repository.c.organization_id, _repository.c.name
        ).order_by(_repository.c.id)
    ).all()
    taken = {(org_id, _key(name)) for _id, org_id, name in rows}
    used: set[tuple[int, str]] = set()
    for repo_id, org_id, name in rows:
        new_name, key = name, _key(name)
        if (org_id, key) in used:
            suffix = f" (id {repo_id})"
            new_name = name.strip()[: 200 - len(suffix)] + suffix
            while (org_id, _key(new_name)) in taken | used:
                new_name = new_name[: 200 - 2] + " ~"
            key = _key(new_name)
            log.warning(
                "repository %s renamed from %r to %r: its name differed only in"
                " case from an older repository's of organization %s",
                repo_id,
                name,
                new_name,
                org_id,
            )
        used.add((org_id, key))
        connection.execute(
            sa.update(_repository)
            .where(_repository.c.id == repo_id)
            .values(name=new_name, name_key=key)
        )


def upgrade() -> None:
    """Apply: base repository role, repository names, repository_role, audit."""
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "base_repository_role",
                sa.String(length=16),
                nullable=True,
                server_default="READER",
            )
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_organization_base_repository_role"),
            sa.text(f"base_repository_role IN {REPOSITORY_ROLES}"),
        )
    with op.batch_alter_table("repository", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=600), nullable=True))
    _fill_name_keys()
    with op.batch_alter_table("repository", schema=None) as batch_op:
        batch_op.alter_column(
            "name_key", existing_type=sa.String(length=600), nullable=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_repository_organization_id"), ["organization_id", "name_key"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_repository_id"), ["id", "organization_id"]
        )
    op.create_table(
        "repository_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            f"name IN {REPOSITORY_ROLES}", name=op.f("ck_repository_role_role_name")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_repository_role_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id", "organization_id"],
            ["organization_role.user_id", "organization_role.organization_id"],
            name="fk_repository_role_membership",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id", "organization_id"],
            ["repository.id", "repository.organization_id"],
            name="fk_repository_role_repository",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_role")),
        sa.UniqueConstraint(
            "repository_id", "user_id", name=op.f("uq_repository_role_repository_id")
        ),
    )
    op.create_index(
        "ix_repository_role_user_id_organization_id",
        "repository_role",
        ["user_id", "organization_id", "name", "repository_id"],
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repository_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("repository_name", sa.String(length=200), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entry_repository_id"), ["repository_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_entry_repository_id_repository"),
            "repository",
            ["repository_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint(batch_op.f("ck_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_entry_action"), sa.text(NEW_ACTIONS)
        )


def downgrade() -> None:
    """Revert: repository roles and the repository entries of the audit trail
    are dropped (the old schema cannot say them); every member again reads every
    repository, whatever the base role was. Names stay as they are."""
    audit = sa.table("audit_entry", sa.column("action", sa.String()))
    connection = op.get_bind()
    connection.execute(
        sa.delete(audit).where(
            audit.c.action.in_(
                [
                    "base_repository_role",
                    "create_repository",
                    "rename_repository",
                    "delete_repository",
                    "add_repository_role",
                    "change_repository_role",
                    "remove_repository_role",
                ]
            )
        )
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_audit_entry_action"), sa.text(OLD_ACTIONS)
        )
        batch_op.drop_constraint(
            batch_op.f("fk_audit_entry_repository_id_repository"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_audit_entry_repository_id"))
        batch_op.drop_column("repository_name")
        batch_op.drop_column("repository_id")
    op.drop_index("ix_repository_role_user_id_organization_id", "repository_role")
    op.drop_table("repository_role")
    with op.batch_alter_table("repository", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_repository_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("uq_repository_organization_id"), type_="unique"
        )
        batch_op.drop_column("name_key")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_organization_base_repository_role"), type_="check"
        )
        batch_op.drop_column("base_repository_role")
