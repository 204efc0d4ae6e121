"""The app's Oso: classes registered, the policy loaded, decisions memoized."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import g, has_request_context
from oso import Oso, Relation, Variable
from polar.data.filter import DataFilter
from polar.data_filtering import serialize_types
from polar.exceptions import InvalidQueryTypeError
from polar.predicate import Predicate
from polar.query import Query
from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty
from sqlalchemy_oso.auth import default_polar_model_name
from sqlalchemy_oso.compat import iterate_model_classes
from werkzeug.exceptions import Forbidden, NotFound

from portal.authz.actors import RoleHolder, Viewer
from portal.authz.adapter import RequestSessionAdapter
from portal.authz.cache import LruCache
from portal.models import (
    ROLE_NAMES,
    Base,
    Organization,
    OrganizationRole,
    Repository,
    User,
)

READ = "READ"


@dataclass(frozen=True)
class RoleGrant:
    """What the policy grants the holder of one role (see PortalOso.role_grants)."""

    actions: frozenset[str]
    includes: frozenset[str]  # the roles it includes, itself among them


class PortalOso(Oso):
    """Oso that remembers what an actor may do, per request and across requests.

    ``is_allowed`` (used by FlaskOso.authorize) is answered from
    ``authorized_actions``, so asking about several actions on one resource costs
    one policy query. Across requests two bounded LRU caches (``cache_size``
    entries each, 0: none) keep answers keyed by everything the policy reads (see
    ``decision_inputs`` and ``FILTER_ACTOR_FIELDS``): the actions of a Viewer on a
    resource, and the parsed DataFilter of a list (partial evaluation is most of
    a list's cost; the select() is still built from it on every request). Both
    are cleared whenever the policy or a registered class changes.

    ``queries`` counts Oso queries: policy evaluations (a decision, or the partial
    evaluation of a list). An answer from a cache is not an Oso query and is
    counted in ``cache_hits`` instead. Counts are approximate under threads.
    """

    queries = 0
    cache_hits = 0

    def __init__(self, *args: Any, cache_size: int = 4096, **kwargs: Any) -> None:
        self._decisions = LruCache(cache_size)
        self._filters = LruCache(cache_size)
        self._role_grants = LruCache(min(cache_size, 64))
        super().__init__(*args, **kwargs)

    def clear_caches(self) -> None:
        """Forget every answer about the data kept across requests (a cold start).

        What roles grant (role_grants) stays: it is the loaded policy's own answer,
        computed when the app starts (build_oso), and goes only when the policy or
        a registered class changes (_forget_policy).
        """
        self._decisions.clear()
        self._filters.clear()

    def _forget_policy(self) -> None:
        """Forget everything, what the policy said about roles included."""
        self.clear_caches()
        self._role_grants.clear()

    def role_grants(self, names: Sequence[str], resource: Any) -> dict[str, RoleGrant]:
        """What the policy grants each role in names on resource: the actions a
        RoleHolder of it may take, and the roles it includes (itself among them).

        Two policy queries per role. Remembered across requests, per resource
        class, when the policy read nothing but the holders' names to answer (a
        policy that looks at the resource itself is asked again each time).
        """
        key = (type(resource), tuple(names))
        cached = self._role_grants.get(key)
        if cached is not None:
            self.cache_hits += 1
            return dict(cached)
        holders = [RoleHolder(name) for name in names]
        grants = {}
        with _recording_reads() as reads:
            for holder in holders:
                actions = Oso.authorized_actions(self, holder, resource)
                included = self.query_rule(
                    "has_role", holder, Variable("name"), resource
                )
                grants[holder.name] = RoleGrant(
                    actions=frozenset(actions),
                    includes=frozenset(r["bindings"]["name"] for r in included),
                )
        self.queries += 2 * len(holders)
        if reads <= {(_read_key(holder), "name", ()) for holder in holders}:
            self._role_grants.put(key, grants)
        return grants

    def authorized_actions(
        self, actor: Any, resource: Any, allow_wildcard: bool = False
    ) -> set[Any]:
        """The actions actor may take on resource, remembered for the request."""
        memo = g.setdefault("authz_memo", {}) if has_request_context() else None
        key = (id(actor), _identity(resource))
        if memo is not None and key[1] is not None and key in memo:
            return memo[key][1]
        actions = self._decide(actor, resource, allow_wildcard)
        if memo is not None and key[1] is not None:
            # Keep the actor alive with the answer so its id() is not reused.
            memo[key] = (actor, actions)
        return actions

    def _decide(self, actor: Any, resource: Any, allow_wildcard: bool) -> set[Any]:
        """authorized_actions from the cross-request cache, else from the policy.

        An answer is cached only if the policy read nothing beyond the key's
        inputs while deciding (see ``_RecordingQuery``); a policy that reads more
        is still answered correctly, just not from the cache.
        """
        inputs = decision_inputs(actor, resource)
        if inputs is None:
            self.queries += 1
            return super().authorized_actions(actor, resource, allow_wildcard)
        key = (inputs.key, allow_wildcard)
        cached = self._decisions.get(key)
        if cached is not None:
            self.cache_hits += 1
            return set(cached)
        self.queries += 1
        with _recording_reads() as reads:
            actions = super().authorized_actions(actor, resource, allow_wildcard)
        if reads <= inputs.reads:
            self._decisions.put(key, frozenset(actions))
        return actions

    def is_allowed(self, actor: Any, action: Any, resource: Any) -> bool:
        """Whether actor may take action on resource."""
        return action in self.authorized_actions(actor, resource)

    def authorized_query(self, actor: Any, action: Any, resource_cls: type) -> Any:
        """A select() of the resource_cls rows actor may take action on.

        The parsed DataFilter comes from the cache when the policy has already
        been partially evaluated for this actor (as far as it reads it), action
        and class; the select() is built from it each time. Cached only if the
        partial evaluation read nothing of the actor beyond the key's fields.
        """
        fields = FILTER_ACTOR_FIELDS.get(type(actor))
        if fields is None:
            self.queries += 1
            return self.host.adapter.build_query(
                self.data_filter(actor, action, resource_cls)
            )
        actor_key = tuple(getattr(actor, name) for name in fields)
        key = (type(actor), actor_key, action, resource_cls)
        data_filter = self._filters.get(key)
        if data_filter is not None:
            self.cache_hits += 1
        else:
            self.queries += 1
            with _recording_reads() as reads:
                data_filter = self.data_filter(actor, action, resource_cls)
            if reads <= {(_read_key(actor), name, ()) for name in fields}:
                self._filters.put(key, data_filter)
        return self.host.adapter.build_query(data_filter)

    def query(
        self, query: Any, *, bindings: Any = None, accept_expression: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Polar.query; while reads are being recorded, with a _RecordingQuery.

        The else branch is Polar.query of oso 0.27.3 (the last release) with the
        Query class swapped.
        """
        reads = _reads.get()
        if reads is None:
            yield from super().query(
                query, bindings=bindings, accept_expression=accept_expression
            )
            return
        host = self.host.copy()
        host.set_accept_expression(accept_expression)
        if isinstance(query, str):
            ffi_query = self.ffi_polar.new_query_from_str(query)
        elif isinstance(query, Predicate):
            ffi_query = self.ffi_polar.new_query_from_term(host.to_polar(query))
        else:
            raise InvalidQueryTypeError()
        recording = _RecordingQuery(ffi_query, host=host, bindings=bindings)
        recording.reads = reads
        yield from recording.run()

    def data_filter(self, actor: Any, action: Any, resource_cls: type) -> DataFilter:
        """The parsed DataFilter of "resource_cls rows actor may take action on"
        (Oso's own new_authorized_query up to build_query)."""
        results = self.partial_query(actor, action, resource_cls)
        types = serialize_types(self.host.distinct_user_types(), self.host.types)
        class_name = self.host.types[resource_cls].name
        plan = self.ffi_polar.build_data_filter(types, results, "resource", class_name)
        return DataFilter.parse(self, plan)

    # Whatever changes what the policy says forgets what it said before.

    def _load_sources(self, sources: Any) -> None:
        self._forget_policy()
        super()._load_sources(sources)

    def clear_rules(self) -> None:
        self._forget_policy()
        super().clear_rules()

    def register_class(self, *args: Any, **kwargs: Any) -> None:
        self._forget_policy()
        super().register_class(*args, **kwargs)

    def register_constant(self, *args: Any, **kwargs: Any) -> None:
        self._forget_policy()
        super().register_constant(*args, **kwargs)


# What the policy reads from an actor of each type when a list is filtered: the
# cache key of its DataFilter. Role rows are not here on purpose: the filter
# joins them in SQL when the query runs (read the filter: it holds the user id
# and role names, nothing else), so a role change shows on the next request.
# The reads are checked on every cache miss: if the policy reads more of the
# actor, the filter is not cached.
FILTER_ACTOR_FIELDS: dict[type, tuple[str, ...]] = {User: ("id",)}


# One thing Polar read while deciding: (the object, the attribute or method, the
# call's arguments). Objects are named by their row (persistent ORM objects) or
# their id(), so that the same row loaded twice is one object.
Read = tuple[Hashable, str, tuple[Hashable, ...]]


@dataclass(frozen=True)
class DecisionInputs:
    """A decision's cache key, and the reads of the policy it stands for."""

    key: Hashable
    reads: frozenset[Read]


def decision_inputs(actor: Any, resource: Any) -> DecisionInputs | None:
    """Everything the policy reads to decide what a Viewer may do to resource, or
    None when that is not known (the decision is then not cached).

    Today's policy reads, per resource class: for an Organization, the viewer's
    role name there (``viewer.role_in``); for a Repository, its organization and
    the viewer's role name there; for an OrganizationRole, its organization, the
    viewer's role name there and both user ids; for a User, the viewer's user id
    and the user's id. The key holds those values. The reads are checked on every
    cache miss: if the policy reads anything else, the answer is not cached.
    """
    if type(actor) is not Viewer:  # test doubles and other actors: not cached
        return None
    me = _read_key(actor)
    if type(resource) is Organization:
        return DecisionInputs(
            ("Organization", actor.role_in(resource)),
            frozenset({(me, "role_in", (_read_key(resource),))}),
        )
    if type(resource) is Repository:
        organization = resource.organization
        return DecisionInputs(
            ("Repository", actor.role_in(organization)),
            frozenset(
                {
                    (_read_key(resource), "organization", ()),
                    (me, "role_in", (_read_key(organization),)),
                }
            ),
        )
    if type(resource) is OrganizationRole:
        # The holder rule compares the two user ids; the others read the role's
        # organization and the viewer's role name there.
        organization = resource.organization
        return DecisionInputs(
            (
                "OrganizationRole",
                actor.role_in(organization),
                actor.user_id,
                resource.user_id,
            ),
            frozenset(
                {
                    (_read_key(resource), "organization", ()),
                    (_read_key(resource), "user_id", ()),
                    (me, "role_in", (_read_key(organization),)),
                    (me, "user_id", ()),
                }
            ),
        )
    if type(resource) is User:
        return DecisionInputs(
            ("User", actor.user_id, resource.id),
            frozenset({(me, "user_id", ()), (_read_key(resource), "id", ())}),
        )
    return None


# The reads of the policy evaluation under way in this context, if recorded.
_reads: ContextVar[set[Read] | None] = ContextVar("portal_authz_reads", default=None)


@contextmanager
def _recording_reads() -> Iterator[set[Read]]:
    """Record what Polar reads from host objects inside the with block."""
    reads: set[Read] = set()
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


class _RecordingQuery(Query):
    """A Polar query that notes every attribute and method it asks of an object."""

    reads: set[Read]

    def handle_external_call(self, data: dict[str, Any]) -> None:
        instance = self.host.to_python(data["instance"])
        args = tuple(_read_key(self.host.to_python(a)) for a in data["args"] or ())
        self.reads.add((_read_key(instance), data["attribute"], args))
        super().handle_external_call(data)


def _read_key(value: Any) -> Hashable:
    """An object as a read names it: its row if it has one, else itself."""
    identity = _identity(value)
    if identity is not None:
        return ("row", identity)
    if isinstance(value, (int, str, float, bool, type(None))):
        return ("value", value)
    return ("object", id(value))


def _identity(resource: Any) -> Any:
    """A stable key for a persistent ORM object; None for anything else."""
    state = inspect(resource, raiseerr=False)
    if state is None or getattr(state, "identity_key", None) is None:
        return None
    return state.identity_key


def build_oso(policy_path: Path, cache_size: int = 4096) -> PortalOso:
    """An Oso with our classes registered and the policy loaded.

    read_action is upper-case like our actions: Oso uses it to choose between
    "not found" and "forbidden". cache_size bounds each cross-request cache (0:
    no cache, every answer from the policy).
    """
    oso = PortalOso(
        forbidden_error=Forbidden,
        not_found_error=NotFound,
        read_action=READ,
        cache_size=cache_size,
    )
    # Every mapped class with its fields and relations, for data filtering; read
    # from the mappers so that a new column or relationship needs no edit here.
    # Registered before the policy loads, as Oso requires.
    register_mapped_classes(oso, Base)
    oso.register_class(Viewer)
    oso.register_class(RoleHolder)
    oso.set_data_filtering_adapter(RequestSessionAdapter())
    oso.load_files([str(policy_path)])
    return oso


def learn_role_grants(oso: PortalOso) -> None:
    """Ask the policy once what each organization role grants, at start-up and
    after the last class is registered (registering one forgets the answer).

    The answer is the same for every request (a transient organization: the
    policy reads none of it), so no request pays for it.
    """
    oso.role_grants(ROLE_NAMES, Organization())
    # The counters say what serving costs; start-up work is not a request's.
    oso.queries = oso.cache_hits = 0


def register_mapped_classes(oso: Oso, base: type) -> None:
    """Register every class mapped on base under its name, with its fields.

    Oso serializes the type of every field of every class for each data-filtering
    query and fails (KeyError) on a Python type it has no class for, whichever rule
    is asked: such types (date, Decimal, UUID, enums...) are registered as Oso
    classes under their own names. Oso already knows int, float, bool, str, list,
    dict, datetime and timedelta.
    """
    models = sorted(iterate_model_classes(base), key=default_polar_model_name)
    for model in models:
        fields = mapped_fields(inspect(model))
        for field_type in fields.values():
            if (
                not isinstance(field_type, Relation)
                and field_type not in oso.host.types
            ):
                oso.register_class(field_type)
        oso.register_class(model, name=default_polar_model_name(model), fields=fields)


def mapped_fields(mapper: Mapper[Any]) -> dict[str, Any]:
    """Oso fields of a mapped class: column types and relationships as Relations.

    A column without a Python type, or a relationship Oso's Relation cannot state
    (through a secondary table, or over more than one column pair), is left out:
    decisions still read it from the object, and data filtering on it fails with
    an Oso error instead of guessing.
    """
    fields: dict[str, Any] = {}
    for column in mapper.column_attrs:
        python_type = _python_type(column)
        if python_type is not None:
            fields[column.key] = python_type
    for relationship in mapper.relationships:
        relation = _relation(relationship)
        if relation is not None:
            fields[relationship.key] = relation
    return fields


def _python_type(column: ColumnProperty[Any]) -> type | None:
    """The Python type of a column attribute's values, or None if it has none."""
    try:
        return column.columns[0].type.python_type
    except NotImplementedError:
        return None


def _relation(relationship: RelationshipProperty[Any]) -> Relation | None:
    """The Oso Relation for a relationship joined on one column pair, else None."""
    pairs = relationship.local_remote_pairs or []
    if relationship.secondary is not None or len(pairs) != 1:
        return None
    local, remote = pairs[0]
    return Relation(
        kind="many" if relationship.uselist else "one",
        other_type=default_polar_model_name(relationship.mapper.class_),
        my_field=relationship.parent.get_property_by_column(local).key,
        other_field=relationship.mapper.get_property_by_column(remote).key,
    )
