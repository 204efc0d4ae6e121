"""Oso's view of the models: every mapped class registered with the fields and
relations read from its SQLAlchemy mapper, so that a new column or relationship
is usable in the policy (and in data filtering) with no second edit."""

from __future__ import annotations

from typing import Any

from oso import Oso, Relation
from sqlalchemy import inspect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty
from sqlalchemy_oso.auth import default_polar_model_name
from sqlalchemy_oso.compat import iterate_model_classes


def register_mapped_classes(oso: Oso, base: type) -> None:
    """Register every class mapped on base under its name, with its fields.

    Oso serializes the type of every field of every class for each data-filtering
    query and fails (KeyError) on a Python type it has no class for, whichever rule
    is asked: such types (date, Decimal, UUID, enums...) are registered as Oso
    classes under their own names. Oso already knows int, float, bool, str, list,
    dict, datetime and timedelta.
    """
    # sqlalchemy-oso's iterate_model_classes and Polar's register_class have no
    # annotations (0.27, the last releases; "Untyped oso" in policy.py).
    mapped = iterate_model_classes(base)  # type: ignore[no-untyped-call, unused-ignore]
    for model in sorted(mapped, key=default_polar_model_name):
        fields = mapped_fields(inspect(model))
        for field_type in fields.values():
            if (
                not isinstance(field_type, Relation)
                and field_type not in oso.host.types
            ):
                oso.register_class(field_type)  # type: ignore[no-untyped-call, unused-ignore]
        name = default_polar_model_name(model)
        oso.register_class(model, name=name, fields=fields)  # type: ignore[no-untyped-call, unused-ignore]


def mapped_fields(mapper: Mapper[Any]) -> dict[str, Any]:
    """Oso fields of a mapped class: column types, relationships as Relations,
    and hybrid properties with a typed SQL expression (``active``: bool).

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
    for key, descriptor in mapper.all_orm_descriptors.items():
        # (Not the name its SQL side is defined under: ``_active_expression``.)
        if isinstance(descriptor, hybrid_property) and not key.startswith("_"):
            python_type = _hybrid_type(mapper.class_, key)
            if python_type is not None:
                fields[key] = python_type
    return fields


def _hybrid_type(cls: type, key: str) -> type | None:
    """The Python type of a hybrid property's SQL expression (bool for
    ``active``), or None when it has none: the adapter turns a condition on it
    into that expression (portal.authz.adapter)."""
    expression = getattr(cls, key)
    try:
        python_type: type = expression.type.python_type
    except (AttributeError, NotImplementedError):
        return None
    return python_type


def _python_type(column: ColumnProperty[Any]) -> type | None:
    """The Python type of a column attribute's values, or None if it has none."""
    try:
        return column.columns[0].type.python_type
    except NotImplementedError:
        return None


def _relation(relationship: RelationshipProperty[Any]) -> Relation | None:
    """The Oso Relation for a relationship joined on one column pair, else None.

    Also a read-only "one" relationship over several column pairs (a grant's
    membership: user and organization), stated with its first pair: Oso's
    planner reads only the relation's name and types, and the data-filtering
    adapter joins it on every pair (portal.authz.adapter.join_pairs).
    """
    pairs = relationship.local_remote_pairs or []
    several = len(pairs) > 1 and relationship.viewonly and not relationship.uselist
    if relationship.secondary is not None or not (len(pairs) == 1 or several):
        return None
    local, remote = pairs[0]
    return Relation(
        kind="many" if relationship.uselist else "one",
        other_type=default_polar_model_name(relationship.mapper.class_),
        my_field=relationship.parent.get_property_by_column(local).key,
        other_field=relationship.mapper.get_property_by_column(remote).key,
    )
