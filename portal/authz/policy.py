"""The app's Oso: PortalOso, which keeps its answers per request and across
requests, and build_oso, which registers our classes and loads the policy."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flask import g, has_request_context
from oso import Oso, Variable
from polar.data.filter import DataFilter
from polar.data_filtering import serialize_types
from polar.exceptions import OsoError
from sqlalchemy import Select, inspect
from werkzeug.exceptions import Forbidden, NotFound

from portal.authz.actors import RoleHolder, Viewer
from portal.authz.adapter import RequestSessionAdapter, combine_alternatives
from portal.authz.cache import LruCache
from portal.authz.reads import FILTER_ACTOR_FIELDS, DecisionInputs, decision_inputs
from portal.authz.recording import (
    Read,
    check_oso_version,
    current_reads,
    identity,
    read_key,
    recorded_query,
    recording_reads,
)
from portal.authz.registration import register_mapped_classes
from portal.domain.models import ROLE_NAMES, Base, Organization

READ = "READ"

# Untyped oso: oso 0.27 (its last release) ships py.typed, yet much of Polar's API
# (query_rule, register_class, the host, the FFI) has no annotations, and mypy
# --strict reports every call to it (no-untyped-call). Each such call in
# portal/authz carries a narrow ignore for that reason alone; "unused-ignore"
# keeps the project's own mypy run, which is not strict but reports unused
# ignores, quiet about the same line.


# What loaded policies grant each role (PortalOso.role_grants), shared by every
# PortalOso of the process under the policy's identity (PortalOso._policy).
_LEARNED = LruCache(64)


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
    ``portal.authz.reads``): the actions of a Viewer on a resource, and the
    select() of a list, built from the policy's partial evaluation (most of a
    list's cost) by the adapter. Both are cleared whenever the policy or a
    registered class changes.

    ``queries`` counts Oso queries: policy evaluations (a decision, or the partial
    evaluation of a list). An answer from a cache is not an Oso query and is
    counted in ``cache_hits`` instead. Counts are approximate under threads.
    """

    queries = 0
    cache_hits = 0

    def __init__(self, *args: Any, cache_size: int = 4096, **kwargs: Any) -> None:
        """An Oso whose caches hold at most cache_size answers each (0: none)."""
        self._decisions = LruCache(cache_size)
        self._filters = LruCache(cache_size)
        self._role_grants = LruCache(min(cache_size, 64))
        # The loaded policy's sources (file name, text), part of the key of
        # _LEARNED; None before a policy loads and after its rules are cleared.
        self._sources: tuple[tuple[str, str], ...] | None = None
        super().__init__(*args, **kwargs)
        # query() runs a copy of oso's Polar.query: fail here, at start-up, rather
        # than record reads wrongly (and cache wrong answers) on another release.
        # (After Polar's own __init__, whose __del__ needs what it sets up.)
        check_oso_version()

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

    @property
    def _policy(self) -> Hashable | None:
        """The loaded policy's identity, the key of _LEARNED: its sources and
        the names of the classes registered now (None: no policy loaded)."""
        if self._sources is None:
            return None
        # Polar's host: untyped (see "Untyped oso" above).
        names = (name for name in self.host.types if isinstance(name, str))
        return (self._sources, tuple(sorted(names)))

    def role_grants(self, names: Sequence[str], resource: Any) -> dict[str, RoleGrant]:
        """What the policy grants each role in names on resource: the actions a
        RoleHolder of it may take, and the roles it includes (itself among them).

        Two policy queries per role. Remembered across requests, per resource
        class, when the policy read nothing but the holders' names to answer (a
        policy that looks at the resource itself is asked again each time) —
        except about a blank stand-in (``Repository()``, nothing set), whose
        every attribute is empty for every caller: its answer is remembered
        whatever the policy read of it, under a key only blank stand-ins use.
        """
        # Two keys: any resource of the class (an answer for which the policy
        # read nothing of the resource), and a blank stand-in of it (an answer
        # for which it read only the stand-in's empty attributes).
        general = (type(resource), tuple(names))
        blank = _blank(resource)
        keys = [(*general, "blank"), general] if blank else [general]
        for key in keys:
            cached = self._remembered_grants(key)
            if cached is not None:
                self.cache_hits += 1
                return dict(cached)
        holders = [RoleHolder(name, type(resource).__name__) for name in names]
        grants: dict[str, RoleGrant] = {}
        with recording_reads() as reads:
            for holder in holders:
                actions = Oso.authorized_actions(self, holder, resource)
                # Polar.query_rule: untyped (see "Untyped oso" above).
                included = self.query_rule(  # type: ignore[no-untyped-call, unused-ignore]
                    "has_role", holder, Variable("name"), resource
                )
                grants[holder.name] = RoleGrant(
                    actions=frozenset(actions),
                    includes=frozenset(r["bindings"]["name"] for r in included),
                )
        self.queries += 2 * len(holders)
        names_only: set[Read] = {
            (read_key(holder), field, ())
            for holder in holders
            for field in ("name", "on")
        }
        if reads <= names_only:
            self._remember_grants(general, grants)
        elif blank and all(
            read in names_only or read[0] == read_key(resource) for read in reads
        ):
            # A stand-in with nothing set: what the policy read of it is empty
            # for every caller (a repository's organization, None here), so
            # the answer is a blank stand-in's, never a row's.
            self._remember_grants((*general, "blank"), grants)
        return grants

    def _remembered_grants(self, key: Hashable) -> dict[str, RoleGrant] | None:
        """role_grants' answer under key, from this Oso or the process's."""
        cached: dict[str, RoleGrant] | None = self._role_grants.get(key)
        if cached is None and self._policy is not None:
            cached = _LEARNED.get((self._policy, key))
        return cached

    def _remember_grants(self, key: Hashable, grants: dict[str, RoleGrant]) -> None:
        """Keep role_grants' answer under key, here and for the process."""
        self._role_grants.put(key, grants)
        if self._policy is not None:
            _LEARNED.put((self._policy, key), grants)

    def authorized_actions(
        self, actor: Any, resource: Any, allow_wildcard: bool = False
    ) -> set[Any]:
        """The actions actor may take on resource, remembered for the request."""
        memo: dict[tuple[int, Any], tuple[Any, set[Any]]] | None = (
            g.setdefault("authz_memo", {}) if has_request_context() else None
        )
        key = (id(actor), identity(resource))
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
        inputs while deciding (see ``portal.authz.recording``); a policy that
        reads more is still answered correctly, just not from the cache.
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
        with recording_reads() as reads:
            actions = super().authorized_actions(actor, resource, allow_wildcard)
        if reads <= inputs.reads:
            self._decisions.put(key, frozenset(actions))
        return actions

    def authorized_actions_each(
        self, actor: Any, resources: Sequence[Any]
    ) -> list[set[Any]]:
        """The actions actor may take on each of resources (in their order), in
        at most one policy query however many there are.

        For the rows of a list whose every row has controls: each answer comes
        from the request's memo or the cross-request cache when it is there; the
        rest are asked together, as one Polar query over the list ("resource in
        resources and allow(actor, action, resource)"), and remembered as
        authorized_actions would remember each (so a template's can() on a row
        costs nothing afterwards). The answers are cached across requests under
        each row's own key only if the query read nothing outside the keys of the
        rows asked about: each row's evaluation then read only its own inputs, as
        reaching another row would have taken a read outside every key.
        """
        memo: dict[tuple[int, Any], tuple[Any, set[Any]]] | None = (
            g.setdefault("authz_memo", {}) if has_request_context() else None
        )
        answers: dict[int, set[Any]] = {}
        asked: dict[int, tuple[Any, DecisionInputs | None]] = {}
        for resource in resources:
            key = (id(actor), identity(resource))
            if id(resource) in answers or id(resource) in asked:
                continue
            if memo is not None and key[1] is not None and key in memo:
                answers[id(resource)] = memo[key][1]
                continue
            inputs = decision_inputs(actor, resource)
            cached = (
                None if inputs is None else self._decisions.get((inputs.key, False))
            )
            if cached is not None:
                self.cache_hits += 1
                answers[id(resource)] = set(cached)
            else:
                asked[id(resource)] = (resource, inputs)
        if asked:
            answers.update(self._decide_together(actor, list(asked.values())))
        if memo is not None:
            for resource in resources:
                key = (id(actor), identity(resource))
                if key[1] is not None:
                    memo[key] = (actor, answers[id(resource)])
        return [answers[id(resource)] for resource in resources]

    def _decide_together(
        self, actor: Any, asked: list[tuple[Any, DecisionInputs | None]]
    ) -> dict[int, set[Any]]:
        """authorized_actions of actor on each asked resource, from one policy
        query; cached per resource when the reads allow it (see
        authorized_actions_each)."""
        rows = [resource for resource, _ in asked]
        found: dict[int, set[Any]] = {id(resource): set() for resource in rows}
        self.queries += 1
        with recording_reads() as reads:
            results = self.query(
                "resource in resources and allow(actor, action, resource)",
                bindings={"actor": actor, "resources": rows},
            )
            for result in results:
                bindings = result["bindings"]
                action = bindings["action"]
                if isinstance(action, Variable):
                    # Oso.authorized_actions refuses the same (no allow_wildcard).
                    # OsoError: untyped (see "Untyped oso" above).
                    raise OsoError(  # type: ignore[no-untyped-call, unused-ignore]
                        "The policy allows an unconstrained action on a row:"
                        " authorized_actions_each cannot list it."
                    )
                found[id(bindings["resource"])].add(action)
        keys = [inputs for _, inputs in asked]
        if all(inputs is not None for inputs in keys):
            allowed = frozenset().union(*(i.reads for i in keys if i is not None))
            if reads <= allowed:
                for resource, inputs in asked:
                    assert inputs is not None
                    self._decisions.put(
                        (inputs.key, False), frozenset(found[id(resource)])
                    )
        return found

    def is_allowed(self, actor: Any, action: Any, resource: Any) -> bool:
        """Whether actor may take action on resource."""
        return action in self.authorized_actions(actor, resource)

    def authorized_query(
        self, actor: Any, action: Any, resource_cls: type
    ) -> Select[Any]:
        """A select() of the resource_cls rows actor may take action on.

        The select() comes from the cache when the policy has already been
        partially evaluated for this actor (as far as it reads it), action and
        class: building it from the DataFilter (the adapter's joins, EXISTS and
        subqueries) cost a repositories page more than its rows. Cached only if
        the partial evaluation read nothing of the actor beyond the key's
        fields.
        """
        fields = FILTER_ACTOR_FIELDS.get(type(actor))
        if fields is None:
            self.queries += 1
            return self._build_query(self.data_filter(actor, action, resource_cls))
        actor_key = tuple(getattr(actor, name) for name in fields)
        key = (type(actor), actor_key, action, resource_cls)
        built: Select[Any] | None = self._filters.get(key)
        if built is not None:
            self.cache_hits += 1
            return built
        self.queries += 1
        with recording_reads() as reads:
            data_filter = self.data_filter(actor, action, resource_cls)
        built = self._build_query(data_filter)
        if reads <= {(read_key(actor), name, ()) for name in fields}:
            # A select() is immutable (where() and order_by() make new ones)
            # and holds no session: the same one serves every request.
            self._filters.put(key, built)
        return built

    def _build_query(self, data_filter: DataFilter) -> Select[Any]:
        """The select() of data_filter, by the data-filtering adapter."""
        # build_oso sets a RequestSessionAdapter, whose build_query returns a
        # select(); Polar's host keeps the adapter untyped.
        return cast("Select[Any]", self.host.adapter.build_query(data_filter))

    def query(
        self, query: Any, *, bindings: Any = None, accept_expression: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Polar.query; while reads are being recorded, one that records them
        (``portal.authz.recording``)."""
        reads = current_reads()
        if reads is None:
            # Polar.query: untyped (see "Untyped oso" above).
            yield from super().query(  # type: ignore[no-untyped-call, unused-ignore]
                query, bindings=bindings, accept_expression=accept_expression
            )
            return
        yield from recorded_query(
            self,
            query,
            bindings=bindings,
            accept_expression=accept_expression,
            reads=reads,
        )

    def data_filter(self, actor: Any, action: Any, resource_cls: type) -> DataFilter:
        """The parsed DataFilter of "resource_cls rows actor may take action on"
        (Oso's own new_authorized_query up to build_query)."""
        # Polar's partial_query, host, FFI and DataFilter.parse: all untyped (see
        # "Untyped oso" above).
        results = self.partial_query(actor, action, resource_cls)  # type: ignore[no-untyped-call, unused-ignore]
        user_types = self.host.distinct_user_types()  # type: ignore[no-untyped-call, unused-ignore]
        types = serialize_types(user_types, self.host.types)  # type: ignore[no-untyped-call, unused-ignore]
        class_name = self.host.types[resource_cls].name
        if len(results) <= 1:
            plan = self.ffi_polar.build_data_filter(
                types, results, "resource", class_name
            )  # type: ignore[no-untyped-call, unused-ignore]
            parsed: DataFilter = DataFilter.parse(self, plan)  # type: ignore[no-untyped-call, unused-ignore]
            return parsed
        # One plan per alternative (a result of the partial query): a plan of all
        # of them joins one list of relations without saying whose they are
        # (see combine_alternatives).
        return combine_alternatives(
            [
                DataFilter.parse(  # type: ignore[no-untyped-call, unused-ignore]
                    self,
                    self.ffi_polar.build_data_filter(
                        types, [result], "resource", class_name
                    ),  # type: ignore[no-untyped-call, unused-ignore]
                )
                for result in results
            ]
        )

    # Whatever changes what the policy says forgets what it said before.

    def _load_sources(self, sources: Any) -> None:
        """Polar's loading of policy sources, forgetting every answer first.

        What the loaded policy grants each role (role_grants) is then also
        shared with every PortalOso of the process that loads the same text with
        the same classes registered (an app factory called again: each test's
        app), under that identity.
        """
        self._forget_policy()
        super()._load_sources(sources)
        # Polar's Source: untyped (see "Untyped oso" above).
        self._sources = tuple((source.filename, source.src) for source in sources)

    def clear_rules(self) -> None:
        """Polar's clear_rules, forgetting every answer first."""
        self._forget_policy()
        self._sources = None
        super().clear_rules()

    def register_class(self, *args: Any, **kwargs: Any) -> None:
        """Polar's register_class, forgetting every answer first."""
        self._forget_policy()
        # Polar.register_class: untyped (see "Untyped oso" above).
        super().register_class(*args, **kwargs)  # type: ignore[no-untyped-call, unused-ignore]

    def register_constant(self, *args: Any, **kwargs: Any) -> None:
        """Polar's register_constant, forgetting every answer first."""
        self._forget_policy()
        # Polar.register_constant: untyped (see "Untyped oso" above).
        super().register_constant(*args, **kwargs)  # type: ignore[no-untyped-call, unused-ignore]


def _blank(resource: Any) -> bool:
    """Whether resource is a mapped object that is no row and has nothing set
    (``Repository()``): every attribute the policy may read of it is empty."""
    state = inspect(resource, raiseerr=False)
    if state is None or state.identity_key is not None:
        return False
    return all(state.dict.get(prop.key) is None for prop in state.mapper.attrs)


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


def learn_role_grants(oso: PortalOso) -> dict[str, RoleGrant]:
    """Ask the policy once what each organization role grants, at start-up and
    after the last class is registered (registering one forgets the answer).

    The answer is the same for every request (a transient organization: the
    policy reads none of it), so no request pays for it.
    """
    grants = oso.role_grants(ROLE_NAMES, Organization())
    # The counters say what serving costs; start-up work is not a request's.
    oso.queries = oso.cache_hits = 0
    return grants
