"""The app's Oso: classes registered, the policy loaded, decisions memoized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import g, has_request_context
from oso import Oso, Relation
from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty
from sqlalchemy_oso.auth import default_polar_model_name
from sqlalchemy_oso.compat import iterate_model_classes
from werkzeug.exceptions import Forbidden, NotFound

from portal.authz.actors import Viewer
from portal.authz.adapter import RequestSessionAdapter
from portal.models import Base

READ = "READ"


class PortalOso(Oso):
    """Oso that remembers, per request, what an actor may do to a resource.

    ``is_allowed`` (used by FlaskOso.authorize) is answered from
    ``authorized_actions``, so asking about several actions on one resource costs
    one policy query. ``queries`` counts the policy queries made (for tests and
    benchmarks; approximate under threads).
    """

    queries = 0

    def authorized_actions(
        self, actor: Any, resource: Any, allow_wildcard: bool = False
    ) -> set[Any]:
        """The actions actor may take on resource, remembered for the request."""
        memo = g.setdefault("authz_memo", {}) if has_request_context() else None
        key = (id(actor), _identity(resource))
        if memo is not None and key[1] is not None and key in memo:
            return memo[key][1]
        self.queries += 1
        actions = super().authorized_actions(actor, resource, allow_wildcard)
        if memo is not None and key[1] is not None:
            # Keep the actor alive with the answer so its id() is not reused.
            memo[key] = (actor, actions)
        return actions

    def is_allowed(self, actor: Any, action: Any, resource: Any) -> bool:
        """Whether actor may take action on resource."""
        return action in self.authorized_actions(actor, resource)

    def authorized_query(self, actor: Any, action: Any, resource_cls: type) -> Any:
        """A query for the resource_cls rows actor may take action on."""
        self.queries += 1
        return super().authorized_query(actor, action, resource_cls)


def _identity(resource: Any) -> Any:
    """A stable key for a persistent ORM object; None for anything else."""
    state = inspect(resource, raiseerr=False)
    if state is None or getattr(state, "identity_key", None) is None:
        return None
    return state.identity_key


def build_oso(policy_path: Path) -> PortalOso:
    """An Oso with our classes registered and the policy loaded.

    read_action is upper-case like our actions: Oso uses it to choose between
    "not found" and "forbidden".
    """
    oso = PortalOso(
        forbidden_error=Forbidden, not_found_error=NotFound, read_action=READ
    )
    # Every mapped class with its fields and relations, for data filtering; read
    # from the mappers so that a new column or relationship needs no edit here.
    # Registered before the policy loads, as Oso requires.
    register_mapped_classes(oso, Base)
    oso.register_class(Viewer)
    oso.set_data_filtering_adapter(RequestSessionAdapter())
    oso.load_files([str(policy_path)])
    return oso


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
