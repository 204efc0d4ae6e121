"""Oso's SQLAlchemy data-filtering adapter, bound to the session of the request."""

from __future__ import annotations

from typing import Any

from polar.data.adapter.sqlalchemy_adapter import SqlAlchemyAdapter
from polar.data.filter import DataFilter, Relation
from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from portal import db


class RequestSessionAdapter(SqlAlchemyAdapter):
    """Oso's SQLAlchemy data-filtering adapter, bound to the current request session.

    The Oso object is shared by all threads of the app, so it cannot hold one
    session; each query runs on the session of the request that asks.
    ``build_query`` returns a SQLAlchemy 2.0 ``select()``, so callers can add
    ``where``/``order_by`` and run it with ``session.scalars()``.
    """

    def __init__(self) -> None:  # no session of its own: see the property
        pass

    @property
    def session(self) -> Session:  # type: ignore[override]
        """The session of the current request."""
        return db.get_session()

    def build_query(self, filter: DataFilter) -> Select[Any]:
        """A select() of the filter's model: its joins, then an OR of ANDs."""
        statement = select(filter.model)
        for relation in filter.relations:
            statement = statement.join(*_join_target(filter, relation))
        condition = or_(
            false(),
            *(
                and_(true(), *(self.sqlize(c) for c in conjunction))
                for conjunction in filter.conditions
            ),
        )
        # A join along a "many" relation repeats the root row once per match.
        return statement.where(condition).distinct()

    def execute_query(self, query: Select[Any]) -> list[Any]:
        """Run a statement from build_query on the request session."""
        return list(self.session.scalars(query).all())


def _join_target(filter: DataFilter, relation: Relation) -> tuple[Any, ColumnElement]:
    """The class a relation of the filter joins to, and the ON clause."""
    field = filter.types[relation.left].fields[relation.name]
    right = filter.types[field.other_type].cls
    on = getattr(relation.left, field.my_field) == getattr(right, field.other_field)
    return right, on
