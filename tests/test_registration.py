"""Oso's view of the models: fields and relations read from the SQLAlchemy mappers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from oso import Oso, Relation
from polar.exceptions import OsoError
from sqlalchemy import Column, ForeignKey, Table, create_engine, inspect, select
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
)

from portal.authz import get_oso
from portal.authz.adapter import RequestSessionAdapter
from portal.authz.policy import PortalOso
from portal.authz.registration import mapped_fields, register_mapped_classes
from portal.domain.models import Base
from portal.infra import db as portal_db
from tests.test_adapter import (
    USER_ROLE,
    _assert_lists_equal_decisions,
    _generate,
    _variant_oso,
)

# What build_oso registered by hand before the fields were read from the mappers.
HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "User": {"id": int, "email": str},
    "Organization": {
        "id": int,
        "name": str,
        "roles": Relation(
            kind="many",
            other_type="OrganizationRole",
            my_field="id",
            other_field="organization_id",
        ),
    },
    "OrganizationRole": {
        "id": int,
        "name": str,
        "user_id": int,
        "organization_id": int,
    },
    "Repository": {
        "id": int,
        "name": str,
        "organization_id": int,
        "organization": Relation(
            kind="one",
            other_type="Organization",
            my_field="organization_id",
            other_field="id",
        ),
    },
}


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """A request context: the app's Oso, and the session data filtering uses."""
    with app.test_request_context():
        yield


def _registered(oso: Oso) -> dict[str, dict[str, Any]]:
    """The fields of every class registered with oso, by Polar name."""
    return {
        name: user_type.fields
        for name, user_type in oso.host.types.items()
        if isinstance(name, str)
    }


def test_registration_covers_every_column_and_relationship(ctx: None) -> None:
    registered = _registered(get_oso())
    for mapper in Base.registry.mappers:
        fields = registered[mapper.class_.__name__]
        columns = {c.key: c.columns[0].type.python_type for c in mapper.column_attrs}
        relationships = {r.key: r for r in mapper.relationships}
        # Hybrid properties too (``active``: its SQL side is a bool expression),
        # not the private name their SQL side is defined under.
        hybrids = {
            key
            for key, descriptor in mapper.all_orm_descriptors.items()
            if isinstance(descriptor, hybrid_property) and not key.startswith("_")
        }
        assert set(fields) == set(columns) | set(relationships) | hybrids, mapper.class_
        for key in hybrids:
            assert fields[key] is bool, (mapper.class_, key)
        for key, python_type in columns.items():
            assert fields[key] is python_type, (mapper.class_, key)
        for key, rel in relationships.items():
            relation = fields[key]
            other = rel.mapper.class_
            assert relation.kind == ("many" if rel.uselist else "one")
            assert relation.other_type == other.__name__
            # The Relation joins on the relationship's own column pair (its
            # first, for a read-only "one" relationship over several: a grant's
            # membership, which the adapter joins on every pair).
            mine = getattr(mapper.class_, relation.my_field).property.columns[0]
            theirs = getattr(other, relation.other_field).property.columns[0]
            pairs = rel.local_remote_pairs or []
            assert pairs[0] == (mine, theirs), (mapper.class_, key)
            assert len(pairs) == 1 or (rel.viewonly and not rel.uselist), key


def test_registration_keeps_what_was_written_by_hand(ctx: None) -> None:
    # why: the policy's rules were written against these fields; deriving them
    # must not rename, retype or re-point any of them.
    registered = _registered(get_oso())
    for name, fields in HAND_WRITTEN.items():
        assert {k: registered[name][k] for k in fields} == fields, name


def test_registration_makes_unlisted_fields_usable_in_lists(
    ctx: None, tmp_path: Path
) -> None:
    # why: OrganizationRole.user, User.email and User.created_at were never
    # registered by hand: a list filtered by them failed ("Unregistered field").
    oso = _variant_oso(
        tmp_path,
        (
            USER_ROLE,
            "  role.name = name and\n"
            "  role.user.email = user.email and\n"
            "  role.user.created_at = user.created_at;\n",
        ),
    )
    session = portal_db.get_session()
    _generate(session)
    _assert_lists_equal_decisions(session, oso)


# A schema of its own, as a new model would add: a column type Oso has no class
# for (date), a one-to-many relationship and a many-to-many one.
class _Base(DeclarativeBase):
    pass


_team_tag = Table(
    "team_tag",
    _Base.metadata,
    Column("team_id", ForeignKey("team.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class Team(_Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)
    founded: Mapped[date]
    members: Mapped[list[Member]] = relationship(back_populates="team")
    tags: Mapped[list[Tag]] = relationship(secondary=_team_tag)


class Member(_Base):
    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    since: Mapped[date]
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    team: Mapped[Team] = relationship(back_populates="members")


class Tag(_Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)


TEAM_POLICY = """
allow(member: Member, "READ", team: Team) if
  other in team.members and other.id = member.id;
allow(member: Member, "VISIT", team: Team) if
  team.founded = member.since;
allow(_member: Member, "TAGGED", team: Team) if
  tag in team.tags and tag.id = 1;
"""


@pytest.fixture
def team_session(app: Flask, tmp_path: Path) -> Iterator[Session]:
    """A request whose session works on a database of the test-only schema."""
    engine = create_engine(f"sqlite:///{tmp_path / 'teams.sqlite'}")
    _Base.metadata.create_all(engine)
    with app.test_request_context():
        g.db_session = Session(engine)  # what db.get_session() hands the adapter
        yield g.db_session
    engine.dispose()


def _team_oso() -> PortalOso:
    """An Oso for the test-only schema, registered the way build_oso does it."""
    oso = PortalOso()
    register_mapped_classes(oso, _Base)
    oso.set_data_filtering_adapter(RequestSessionAdapter())
    oso.load_str(TEAM_POLICY)
    return oso


def test_registration_new_model_usable_in_lists_without_edits(
    team_session: Session,
) -> None:
    # why: a new column or relationship must work in the policy, lists included,
    # with no second edit; a date column used to break every data-filtering
    # query (Oso's KeyError on a field type it has no class for).
    rng = random.Random(3)
    days = [date(2020, 1, d) for d in (1, 2, 3)]
    teams = [Team(founded=rng.choice(days)) for _ in range(6)]
    team_session.add_all(teams)
    team_session.add_all(
        Member(team=rng.choice(teams), since=rng.choice(days)) for _ in range(12)
    )
    team_session.commit()
    oso = _team_oso()
    members = team_session.scalars(select(Member)).all()
    for member in members:
        for action in ("READ", "VISIT"):
            listed = set(oso.authorized_resources(member, action, Team))
            decided = {t for t in teams if oso.is_allowed(member, action, t)}
            assert listed == decided, (member.id, action)
    assert all(oso.authorized_resources(m, "VISIT", Team) for m in members)


def test_registration_leaves_out_what_relation_cannot_state(
    team_session: Session,
) -> None:
    # why: Oso's Relation joins one column pair; a many-to-many relationship is
    # left out, so a list filtered by it is an Oso error, never a guess.
    assert "tags" not in mapped_fields(inspect(Team))
    assert "members" in mapped_fields(inspect(Team))
    with pytest.raises(OsoError):
        _team_oso().authorized_resources(Member(id=1), "TAGGED", Team)


def test_registration_registers_unknown_field_types() -> None:
    assert _team_oso().host.types[date].name == "date"
