"""Oso's SQLAlchemy data-filtering adapter, bound to the session of the request."""

from __future__ import annotations

from polar.data.adapter.sqlalchemy_adapter import SqlAlchemyAdapter
from sqlalchemy.orm import Session

from portal import db


class RequestSessionAdapter(SqlAlchemyAdapter):
    """Oso's SQLAlchemy data-filtering adapter, bound to the current request session.

    The Oso object is shared by all threads of the app, so it cannot hold one
    session; each query builds on the session of the request that asks.
    """

    def __init__(self) -> None:  # no session of its own: see the property
        pass

    @property
    def session(self) -> Session:  # type: ignore[override]
        return db.get_session()
