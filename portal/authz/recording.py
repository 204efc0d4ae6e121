"""What Polar reads from Python objects while it evaluates, recorded for the caches.

PortalOso keeps an answer across requests only if the policy read nothing outside
the answer's key (``portal.authz.reads``). To know what it read, a query run inside
``recording_reads()`` uses RecordingQuery, which notes every attribute and method
Polar asks of a host object; ``recorded_query`` is oso's ``Polar.query`` with that
Query class swapped in. A copy can silently go stale, so PortalOso refuses to start
on any oso but the release it was copied from (``check_oso_version``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

from oso import Oso
from polar.exceptions import InvalidQueryTypeError
from polar.host import Host
from polar.predicate import Predicate
from polar.query import Query
from sqlalchemy import inspect

# The oso release whose Polar.query recorded_query copies, and whose query events
# (external calls: instance, attribute, args) RecordingQuery reads. oso 0.27.3 is
# its last release; a later one may still come with critical fixes.
COPIED_FROM_OSO = "0.27.3"

# One thing Polar read while deciding: (the object, the attribute or method, the
# call's arguments). Objects are named by their row (persistent ORM objects) or
# their id(), so that the same row loaded twice is one object.
Read = tuple[Hashable, str, tuple[Hashable, ...]]

# The reads of the policy evaluation under way in this context, if recorded.
_reads: ContextVar[set[Read] | None] = ContextVar("portal_authz_reads", default=None)


@contextmanager
def recording_reads() -> Iterator[set[Read]]:
    """Record what Polar reads from host objects inside the with block."""
    reads: set[Read] = set()
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def current_reads() -> set[Read] | None:
    """The reads being recorded in this context, or None when none are."""
    return _reads.get()


class UncheckedOsoVersion(RuntimeError):
    """oso is not the release recorded_query was copied from."""


def check_oso_version() -> None:
    """Refuse to build an Oso whose recorded_query may be a stale copy."""
    installed = version("oso")
    if installed != COPIED_FROM_OSO:
        raise UncheckedOsoVersion(
            f"oso {installed} is installed, but recorded_query in"
            f" portal/authz/recording.py is a copy of Polar.query from oso"
            f" {COPIED_FROM_OSO} (and RecordingQuery reads its query events)."
            f" Compare both with polar/polar.py and polar/query.py of oso"
            f" {installed}, bring them in line, run tests/test_authz_cache.py, and"
            f" make COPIED_FROM_OSO {installed!r}."
        )


def recorded_query(
    oso: Oso,
    query: Any,
    *,
    bindings: Any,
    accept_expression: bool,
    reads: set[Read],
) -> Iterator[dict[str, Any]]:
    """Polar.query of oso COPIED_FROM_OSO with the Query class swapped for
    RecordingQuery, which adds what it reads to reads."""
    # Polar's host and FFI have no annotations ("Untyped oso" in policy.py).
    host = oso.host.copy()
    host.set_accept_expression(accept_expression)  # type: ignore[no-untyped-call, unused-ignore]
    if isinstance(query, str):
        ffi_query = oso.ffi_polar.new_query_from_str(query)  # type: ignore[no-untyped-call, unused-ignore]
    elif isinstance(query, Predicate):
        term = host.to_polar(query)  # type: ignore[no-untyped-call, unused-ignore]
        ffi_query = oso.ffi_polar.new_query_from_term(term)  # type: ignore[no-untyped-call, unused-ignore]
    else:
        raise InvalidQueryTypeError()  # type: ignore[no-untyped-call, unused-ignore]
    recording = RecordingQuery(ffi_query, host=host, bindings=bindings, reads=reads)
    yield from recording.run()


class RecordingQuery(Query):
    """A Polar query that notes every attribute and method it asks of an object."""

    def __init__(
        self, ffi_query: Any, *, host: Host, bindings: Any, reads: set[Read]
    ) -> None:
        """Query's own setup; what Polar reads is added to reads."""
        # Query.__init__ has no annotations ("Untyped oso" in policy.py).
        super().__init__(ffi_query, host=host, bindings=bindings)  # type: ignore[no-untyped-call, unused-ignore]
        self.reads = reads
        self._attribute = ""  # the attribute of the external call being answered

    def handle_external_call(self, data: dict[str, Any]) -> None:
        """Note what Polar asks of an object, then answer it as Query does."""
        instance = self.host.to_python(data["instance"])
        args = tuple(read_key(self.host.to_python(a)) for a in data["args"] or ())
        self.reads.add((read_key(instance), data["attribute"], args))
        self._attribute = data["attribute"]
        # Query.handle_external_call: untyped ("Untyped oso" in policy.py).
        super().handle_external_call(data)  # type: ignore[no-untyped-call, unused-ignore]

    def handle_relation(self, instance: Any, rel: Any) -> Any:
        """A relation's object, as Query finds it, but a "one" relation to a
        primary key is looked up with Session.get: from the session's identity
        map when the row is loaded already (no SQL), else by the same SELECT. An
        object that is no row (transient) answers with what was set on it.

        Query runs a SELECT for every relation it follows (``role.organization``
        three times per role row: READ, UPDATE, DELETE), which made deciding 50
        rows of the people page cost 150 statements for one organization.
        """
        state = inspect(instance, raiseerr=False)
        if state is not None and state.identity_key is None:
            # Not a row of the database (a RoleHolder's transient repository,
            # portal.authz.explain): what was set on the object is the answer.
            return state.dict.get(self._attribute)
        session = getattr(self.host.adapter, "session", None)
        other_cls = self.host.types[rel.other_type].cls
        mapper = inspect(other_cls, raiseerr=False)
        if session is not None and rel.kind == "one" and mapper is not None:
            keys = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
            if keys == [rel.other_field]:
                found = session.get(other_cls, getattr(instance, rel.my_field))
                if found is not None:
                    return found
        # Query.handle_relation: untyped ("Untyped oso" in policy.py).
        return super().handle_relation(instance, rel)  # type: ignore[no-untyped-call, unused-ignore]


def read_key(value: Any) -> Hashable:
    """An object as a read names it: its row if it has one, else itself."""
    row = identity(value)
    if row is not None:
        return ("row", row)
    if isinstance(value, (int, str, float, bool, type(None))):
        return ("value", value)
    return ("object", id(value))


def identity(resource: Any) -> Any:
    """A stable key for a persistent ORM object; None for anything else."""
    state = inspect(resource, raiseerr=False)
    if state is None or getattr(state, "identity_key", None) is None:
        return None
    return state.identity_key
