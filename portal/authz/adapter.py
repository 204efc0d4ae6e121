"""Oso's SQLAlchemy data-filtering adapter, bound to the session of the request.

Oso's own ``SqlAlchemyAdapter.sqlize`` turns ``In``/``Nin`` into Python's
``lhs in rhs``: for a column and a list that is ``False`` (no rows) for ``In`` and
``True`` (every row) for ``Nin``; for a column on the right it asks SQLAlchemy
for ``contains`` (a LIKE on strings). It returns ``None`` for ``Lt``/``Gt``/...,
which ends up as ``AND NULL``: no rows. Here every comparison is translated on
purpose, and a condition with no faithful SQL raises UntranslatableCondition
instead of quietly changing what a list shows.

nil is a value like any other in Polar: ``nil != "WRITER"`` and ``nil not in
["WRITER"]`` hold, ``nil in [nil]`` holds, ``nil != nil`` does not. In SQL
``NULL != 'WRITER'``, ``NULL NOT IN (...)`` and ``x NOT IN (NULL, ...)`` are NULL
(the row is dropped) and ``NULL IN (NULL)`` never matches. So ``Neq`` is ``IS
DISTINCT FROM`` (``IS NOT`` on SQLite), and ``In``/``Nin`` test NULL apart
(``IS NULL``/``IS NOT NULL``) from the other values; ``Eq`` needs nothing, as
SQLAlchemy renders ``== None`` as ``IS NULL``. (Ordered comparisons with nil:
Polar finds no answer, SQL NULL; the same rows.)

Which relations (joins) an alternative needs: Oso's plan of all the
alternatives at once does not say; PortalOso.data_filter plans each alternative
(partial result) on its own and combine_alternatives keeps each one's relations.
A filter planned at once is grouped by the relations its conditions read; one
with a relation no condition reads (``_r in repo.roles``) among several
alternatives raises UntranslatableCondition.

Which shapes reach the adapter (Oso 0.27.3, checked): Polar expands ``x in
[a, b]`` over a ground list into one alternative per element (``x = a`` OR
``x = b``), so a literal list arrives as ``Eq`` conditions; when the list is bound
only after the ``in`` (``role.name in names and staff(names)``), each alternative
also keeps a ground ``"OWNER" In ["OWNER", "MEMBER"]``, and ``not x in names``
with ``names = []`` arrives as ``field Nin []``. ``x in resource.relation`` with
``x`` a record arrives as ``Eq`` on the primary key. ``In``/``Nin`` with a
projection on the right come from membership in a column's value (a list- or
string-valued column), a field ``in`` a relation, or ``not x in relation``.
Beware, before the adapter: ``not x in names`` with a non-empty ``names`` bound
after it made Oso's partial evaluation hang or return no results at all (an empty
list); Oso itself rejects ``not x in [...]`` over a literal list.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, cast

from polar.data.adapter.sqlalchemy_adapter import SqlAlchemyAdapter
from polar.data.filter import Condition, DataFilter, Projection, Relation
from polar.exceptions import OsoError
from sqlalchemy import (
    ColumnElement,
    ColumnOperators,
    PrimaryKeyConstraint,
    Select,
    UniqueConstraint,
    and_,
    any_,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Session

from portal.infra import db


def _distinct(left: Any, right: Any) -> Any:
    """Polar's ``!=`` in SQL: ``IS DISTINCT FROM``, which is true for a NULL and
    a value and false for two NULLs, as ``nil != "x"`` and ``nil != nil`` are in
    Polar (``NULL != 'x'`` is NULL in SQL: the row would be dropped)."""
    for column, value in ((left, right), (right, left)):
        if isinstance(column, ColumnOperators):
            return column.is_distinct_from(value)
    # Two values (Polar keeps such a check when one was bound late): decide it.
    return true() if left != right else false()


# Comparisons that mean the same in Polar and SQL for one value on each side.
# (Eq needs nothing more: SQLAlchemy renders ``column == None`` as IS NULL.)
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "Eq": operator.eq,
    "Neq": _distinct,
    "Lt": operator.lt,
    "Leq": operator.le,
    "Gt": operator.gt,
    "Geq": operator.ge,
}

# Immediate collections an In/Nin can test membership in.
_COLLECTIONS = (list, tuple, set, frozenset)


class UntranslatableCondition(OsoError):
    """A data-filtering condition with no faithful SQL translation."""

    def __init__(self, condition: Condition | str, reason: str) -> None:
        """The error for condition (or what stands in its place), saying why it
        has no SQL."""
        what = (
            condition
            if isinstance(condition, str)
            else f"{_describe(condition.left)} {condition.cmp}"
            f" {_describe(condition.right)}"
        )
        # OsoError.__init__ has no annotations ("Untyped oso" in policy.py).
        super().__init__(  # type: ignore[no-untyped-call, unused-ignore]
            f"cannot translate {what} to SQL: {reason}. Rewrite the rule"
            " (a list filtered by it would be wrong, not just slow)."
        )


class RequestSessionAdapter(SqlAlchemyAdapter):
    """Oso's SQLAlchemy data-filtering adapter, bound to the current request session.

    The Oso object is shared by all threads of the app, so it cannot hold one
    session; each query runs on the session of the request that asks.
    ``build_query`` returns a SQLAlchemy 2.0 ``select()``, so callers can add
    ``where``/``order_by`` and run it with ``session.scalars()``.
    """

    def __init__(self) -> None:
        """An adapter with no session of its own (see the session property)."""

    @property
    def session(self) -> Session:  # type: ignore[override]
        """The session of the current request."""
        return db.get_session()

    def build_query(self, filter: DataFilter) -> Select[Any]:
        """A select() of the filter's model: its joins, then an OR of ANDs.

        The joins each alternative needs come from _groups_by_relations (see
        combine_alternatives). When every alternative needs every joined
        table, the joins are made once (inner joins). When they differ (a
        repository readable through a role granted on it, or through a role in
        its organization), inner joins of all of them would drop every row
        missing one alternative's table: each group of alternatives that needs
        the same tables becomes a condition of its
        own on the root row (an IN over those tables, see _group_condition),
        and the root is not joined at all.
        """
        groups = _groups_by_relations(filter)
        if len(groups) > 1:
            return select(filter.model).where(
                or_(
                    false(),
                    *(
                        self._group_condition(filter, relations, conjunctions)
                        for relations, conjunctions in _broadest_first(filter, groups)
                    ),
                )
            )
        statement = select(filter.model)
        for relation in filter.relations:
            statement = statement.join(*_join_target(filter, relation))
        statement = statement.where(self._any_of(filter.conditions))
        if all(_joins_one_row(filter, relation) for relation in filter.relations):
            return statement
        # A join along a "many" relation repeats the root row once per match.
        # (DISTINCT makes the database build and sort every matching row before
        # any LIMIT, so it is left out where no join can repeat a row.)
        return statement.distinct()

    def _any_of(self, conjunctions: list[list[Condition]]) -> ColumnElement[bool]:
        """The OR of the conjunctions' ANDs, with the conditions every one of
        them holds taken out in front: ``A AND (B OR C)`` for ``(A AND B) OR (A
        AND C)``. The same rows; but a database plans only with the terms of
        the top AND, so the viewer's id pinned in every alternative
        (``role.user_id = 9``) now reaches the index on it instead of each row
        of an organization's roles being read and tested.
        """
        keyed = [
            {_condition_key(c): c for c in conjunction} for conjunction in conjunctions
        ]
        common = set.intersection(*(set(k) for k in keyed)) if keyed else set()
        rests = [
            and_(true(), *(self.sqlize(c) for k, c in conj.items() if k not in common))
            for conj in keyed
        ]
        shared = [self.sqlize(keyed[0][k]) for k in keyed[0] if k in common]
        if any(len(conj) == len(common) for conj in keyed):
            # One alternative is the common part alone: the OR adds nothing.
            return and_(true(), *shared)
        return and_(true(), *shared, or_(false(), *rests))

    def _group_condition(
        self,
        filter: DataFilter,
        relations: tuple[Relation, ...],
        conjunctions: list[list[Condition]],
    ) -> ColumnElement[bool]:
        """The alternatives conjunctions, which read the tables of relations,
        as a condition on the root row.

        With no relation, the conditions themselves. When one relation leaves
        the root (the others go on from it), ``root.column IN (SELECT ...)``
        over the relations' tables: not correlated with the row, so the
        database runs it once per statement (SQLite materializes it, and reads
        the rows of each alternative from an index: a MULTI-INDEX OR) and can
        start from the viewer's own rows, instead of an EXISTS run again for
        every row of the table (100,000 repositories for a list of a user's
        repositories in every organization: 0.2-1.2 s on SQLite, 0.5 s on
        PostgreSQL; now 2-16 ms). On PostgreSQL ``= ANY(ARRAY(SELECT ...))``,
        see below. Otherwise, an EXISTS correlated with the row.
        """
        condition = self._any_of(conjunctions)
        if not relations:
            return condition
        from_root = [r for r in relations if r.left is filter.model]
        if len(from_root) == 1:
            return self._in_subquery(filter, from_root[0], relations, condition)
        targets, ons = zip(
            *(_join_target(filter, relation) for relation in relations), strict=True
        )
        return (
            select(true())
            .select_from(*targets)
            .where(*ons, condition)
            .correlate(filter.model)
            .exists()
        )

    def _in_subquery(
        self,
        filter: DataFilter,
        first: Relation,
        relations: tuple[Relation, ...],
        condition: ColumnElement[bool],
    ) -> ColumnElement[bool]:
        """``root.column IN (SELECT ...)`` over first (a relation leaving the
        root) and the relations of relations that go on from it, where
        condition holds (see _group_condition)."""
        if len(join_pairs(first.left, first.name)) > 1:
            # No single column of the root to test IN (no rule needs one yet).
            raise UntranslatableCondition(
                f"_ in {first.left.__name__}.{first.name}",
                "a relation over several columns leaving the root",
            )
        field = filter.types[first.left].fields[first.name]
        right = filter.types[field.other_type].cls
        rest = [_join_target(filter, r) for r in relations if r is not first]
        subquery = (
            select(getattr(right, field.other_field))
            .select_from(right, *(target for target, _ in rest))
            .where(*(on for _, on in rest), condition)
            # Tied to the outer query by the root alone (when a condition
            # reads the root row), never by a table the caller joins (/repos
            # joins the organization to sort by its name): SQLAlchemy would
            # tie it to that too, and the database would run it per row.
            .correlate(filter.model)
        )
        column: Any = getattr(first.left, field.my_field)
        if self.session.get_bind().dialect.name == "postgresql":
            # PostgreSQL plans "x IN (SELECT ...) OR y IN (SELECT ...)" as a
            # scan of the whole table probing both (100,000 repositories:
            # 30-60 ms); "x = ANY(ARRAY(SELECT ...))" is an index condition
            # on a value computed once, so the alternatives become one
            # bitmap OR of index scans (2-9 ms, bench/repository_sql.py).
            array = func.array(subquery.scalar_subquery())
            return cast("ColumnElement[bool]", column == any_(array))
        return cast("ColumnElement[bool]", column.in_(subquery))

    def execute_query(self, query: Select[Any]) -> list[Any]:
        """Run a statement from build_query on the request session."""
        return list(self.session.scalars(query).all())

    @staticmethod
    def sqlize(cond: Condition) -> Any:
        """The SQL expression for one condition; raises if it has none."""
        hybrid = _hybrid_condition(cond)
        if hybrid is not None:
            return hybrid
        if cond.cmp in ("In", "Nin"):
            return _membership(cond)
        compare = _COMPARISONS.get(cond.cmp)
        if compare is None:
            raise UntranslatableCondition(cond, "unknown comparison")
        return compare(_sql_side(cond.left), _sql_side(cond.right))


def _hybrid_condition(cond: Condition) -> ColumnElement[bool] | None:
    """SQL for a condition on a boolean hybrid property (``role.active =
    true``), or None when neither side is one.

    The hybrid's SQL side is the expression itself (``expires_at IS NULL OR
    expires_at > :now``, never NULL, as Python's side is never nil), so ``=
    true`` is the expression and ``= false`` its negation; nothing else about a
    hybrid has a faithful translation (``expression = 1`` would hide the
    expression from the planner, and a comparison with a column or a non-bool
    means something else in Polar than in SQL).
    """
    sides = [(cond.left, cond.right), (cond.right, cond.left)]
    for side, other in sides:
        if not (isinstance(side, Projection) and side.field is not None):
            continue
        descriptor = sa_inspect(side.source).all_orm_descriptors.get(side.field)
        if not isinstance(descriptor, hybrid_property):
            continue
        if cond.cmp not in ("Eq", "Neq") or not isinstance(other, bool):
            raise UntranslatableCondition(
                cond, "a hybrid property compared other than with true or false"
            )
        expression: ColumnElement[bool] = getattr(side.source, side.field)
        return expression if other == (cond.cmp == "Eq") else not_(expression)
    return None


def _membership(cond: Condition) -> Any:
    """SQL for an In/Nin condition; raises for the shapes with no faithful SQL."""
    negate = cond.cmp == "Nin"
    left, right = cond.left, cond.right
    if isinstance(right, Projection):
        if right.field is not None:
            # A column whose value is itself a collection (or a string, which
            # Polar iterates by character): no portable SQL for membership.
            raise UntranslatableCondition(cond, "membership in a column's value")
        if negate:
            # The joins Oso plans can only say "some related row differs", not
            # "no related row matches" (that needs NOT EXISTS).
            raise UntranslatableCondition(cond, "'not in' a relation")
        # Oso already turns "record in relation" into Eq; what is left compares
        # a plain field with records, which a decision never finds equal.
        raise UntranslatableCondition(cond, "a field compared with records")
    if not isinstance(right, _COLLECTIONS):
        raise UntranslatableCondition(cond, "the right side is not a collection")
    if not isinstance(left, Projection):
        # Both sides are values (Polar keeps such a check when the list was bound
        # after the `in`): decide it here, as Polar would.
        return true() if (left in right) != negate else false()
    column = _sql_side(left)
    # Records in the list stand for their primary keys, as in Oso's Eq.
    values = [_sql_side(value) for value in right]
    # In Polar nil is one value among others: nil in [nil] holds, nil in ["x"]
    # does not, nil not in ["x"] holds. In SQL ``NULL IN (...)`` and ``NULL NOT
    # IN (...)`` are NULL (the row is dropped), and so is ``x NOT IN (NULL)``.
    listed_nil = any(value is None for value in values)
    rest = [value for value in values if value is not None]
    if negate:
        if listed_nil:
            return and_(column.is_not(None), column.not_in(rest))
        return or_(column.not_in(rest), column.is_(None))
    if listed_nil:
        return or_(column.in_(rest), column.is_(None))
    return column.in_(rest)


def _sql_side(side: Any) -> Any:
    """One side of a condition in SQL: a column for a projection, a record's
    primary key, or the value itself (Oso's own SqlAlchemyAdapter.add_side)."""
    # add_side has no annotations ("Untyped oso" in policy.py).
    return SqlAlchemyAdapter.add_side(side)  # type: ignore[no-untyped-call, unused-ignore]


def combine_alternatives(filters: list[DataFilter]) -> DataFilter:
    """One filter from the filters of the alternatives (one partial result of
    the policy each), remembering the relations each alternative joins.

    Oso plans one list of joins for all the alternatives and says nothing of
    which alternative needs which: ``_r in repo.roles`` with no condition on
    ``_r`` joins the roles (the repository must have one) but no condition
    reads them, and an alternative that only requires a role row to exist
    looks like one that needs no roles when another alternative reads them.
    Planned one alternative at a time, each filter's relations are exactly its
    own; build_query groups by them (see _groups_by_relations).
    """
    relations: dict[tuple[Any, ...], Relation] = {}
    conditions: list[list[Condition]] = []
    joined: list[tuple[Relation, ...]] = []
    for one in filters:
        own = [relations.setdefault(_relation_key(r), r) for r in one.relations]
        for conjunction in one.conditions:
            conditions.append(conjunction)
            joined.append(tuple(own))
    model, types = filters[0].model, filters[0].types
    # polar's DataFilter has no annotations ("Untyped oso" in policy.py) and no
    # place for this: an attribute of our own, read by _groups_by_relations.
    combined = DataFilter(model, list(relations.values()), conditions, types)  # type: ignore[no-untyped-call, unused-ignore]
    combined.joined_by_alternative = joined  # type: ignore[attr-defined]
    return combined


def _relation_key(relation: Relation) -> tuple[Any, ...]:
    """What a relation joins, as a key (equal keys, the same join)."""
    return (relation.left, relation.name, relation.right)


def _groups_by_relations(
    filter: DataFilter,
) -> dict[tuple[Relation, ...], list[list[Condition]]]:
    """The filter's alternatives grouped by the joined relations each needs, in
    the filter's order.

    A filter from combine_alternatives says which relations each alternative
    joins. Otherwise (a filter Oso planned for all alternatives at once), an
    alternative is taken to need the relations on the path from the root to
    every model its conditions name; a relation no condition reaches has no
    alternative to go with (a row must have a related row, but for which
    alternative?): with one alternative it is that one's, with more it raises
    UntranslatableCondition rather than list rows a decision refuses (or drop
    rows another alternative allows).
    """
    groups: dict[tuple[Relation, ...], list[list[Condition]]] = {}
    joined = getattr(filter, "joined_by_alternative", None)
    if joined is not None:
        order = {id(relation): i for i, relation in enumerate(filter.relations)}
        for conjunction, relations in zip(filter.conditions, joined, strict=True):
            key = tuple(sorted(relations, key=lambda r: order[id(r)]))
            groups.setdefault(key, []).append(conjunction)
        return groups
    parent = {relation.right: relation for relation in filter.relations}
    reached: set[int] = set()
    for conjunction in filter.conditions:
        needed: set[int] = set()
        for cond in conjunction:
            for side in (cond.left, cond.right):
                model = side.source if isinstance(side, Projection) else None
                while model is not None and model in parent:
                    relation = parent[model]
                    needed.add(filter.relations.index(relation))
                    model = relation.left
        reached |= needed
        key = tuple(filter.relations[i] for i in sorted(needed))
        groups.setdefault(key, []).append(conjunction)
    unreached = [r for i, r in enumerate(filter.relations) if i not in reached]
    if unreached and len(filter.conditions) > 1:
        relation = unreached[0]
        raise UntranslatableCondition(
            f"_ in {relation.left.__name__}.{relation.name}",
            "a relation no condition reads, with several alternatives",
        )
    if unreached:
        # One alternative: it needs every relation (the inner joins).
        return {tuple(filter.relations): filter.conditions}
    return groups


def _broadest_first(
    filter: DataFilter, groups: dict[tuple[Relation, ...], list[list[Condition]]]
) -> list[tuple[tuple[Relation, ...], list[list[Condition]]]]:
    """The groups of alternatives, those that reach their tables through "one"
    relations first (a role in the repository's organization), then the others
    (a role granted on the repository itself), each kind in the filter's order.

    The same rows either way; but a database tests an OR's terms in order and
    stops at the first true one, and an alternative that holds for a parent
    holds for every row of it: an owner's 5,000 repositories are each let
    through by the first test instead of the second (SQLite, counting them:
    1.08 ms -> 0.86 ms; with a name search, 1.70 ms -> 1.14 ms).
    """
    items = list(groups.items())
    return sorted(
        items,
        key=lambda item: (
            not all(
                filter.types[r.left].fields[r.name].kind == "one" for r in item[0][:1]
            )
        ),
    )


def _joins_one_row(filter: DataFilter, relation: Relation) -> bool:
    """Whether joining relation matches at most one row for each row it starts from.

    True for a "one" relation. A "many" relation qualifies when every alternative
    of the filter pins, with an equality to a value, the rest of a unique key of
    the joined table whose other column is the join column: for has_role, the
    role rows of an organization for one user_id (unique per user and
    organization), so the join cannot repeat an organization.
    """
    field = filter.types[relation.left].fields[relation.name]
    if field.kind == "one":
        return True
    right = filter.types[field.other_type].cls
    table = sa_inspect(right).local_table
    unique_keys = [
        {column.name for column in constraint.columns}
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint)
    ]
    for conjunction in filter.conditions:
        pinned = {field.other_field} | {
            side.field
            for cond in conjunction
            if cond.cmp == "Eq"
            for side, other in ((cond.left, cond.right), (cond.right, cond.left))
            if isinstance(side, Projection)
            and side.source is right
            and side.field is not None
            and not isinstance(other, Projection)
        }
        if not any(key <= pinned for key in unique_keys):
            return False
    return True


def _join_target(
    filter: DataFilter, relation: Relation
) -> tuple[Any, ColumnElement[bool]]:
    """The class a relation of the filter joins to, and the ON clause (every
    column pair of the relationship: see join_pairs)."""
    field = filter.types[relation.left].fields[relation.name]
    right = filter.types[field.other_type].cls
    pairs = join_pairs(relation.left, relation.name)
    if len(pairs) > 1:
        return right, and_(*(mine == theirs for mine, theirs in pairs))
    on = getattr(relation.left, field.my_field) == getattr(right, field.other_field)
    return right, on


def join_pairs(model: Any, name: str) -> list[tuple[Any, Any]]:
    """The column pairs model's relationship name joins on (empty for a name
    that is no relationship). Oso's Relation states one pair; a grant's
    membership (portal.authz.registration) has two."""
    relationship = sa_inspect(model).relationships.get(name)
    if relationship is None:
        return []
    return list(relationship.local_remote_pairs or [])


def _condition_key(cond: Condition) -> tuple[Any, ...]:
    """What a condition compares, as a key: equal keys, the same SQL (an
    equality and its mirror image included)."""
    sides = (_side_key(cond.left), _side_key(cond.right))
    if cond.cmp in ("Eq", "Neq"):
        return (cond.cmp, *sorted(sides, key=repr))
    return (cond.cmp, *sides)


def _side_key(side: Any) -> tuple[Any, ...]:
    """One side of a condition as a hashable key."""
    if isinstance(side, Projection):
        return ("field", side.source.__name__, side.field)
    return ("value", type(side).__name__, repr(side))


def _describe(side: Any) -> str:
    """A condition side as a reader would write it."""
    if isinstance(side, Projection):
        return f"{side.source.__name__}.{side.field or '<record>'}"
    return repr(side)
