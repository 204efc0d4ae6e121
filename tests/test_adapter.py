"""The data-filtering adapter: every condition shape Oso hands it, in SQL or refused."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from polar.data.filter import Condition, DataFilter, Projection, Relation
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from portal.authz import PortalOso, Viewer, get_oso
from portal.authz.adapter import RequestSessionAdapter, UntranslatableCondition
from portal.authz.policy import build_oso
from portal.domain import demo
from portal.domain.models import (
    ROLE_NAMES,
    Base,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra import db as portal_db

POLICY = Path(__file__).resolve().parents[1] / "portal" / "policy.polar"

# The two has_role rules of the real policy, which the variants below change.
VIEWER_ROLE = "  name = viewer.role_in(organization);\n"
USER_ROLE = "  role.name = name;\n"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """The request session, which the adapter runs its statements on."""
    with app.test_request_context():
        yield portal_db.get_session()


def _generate(session: Session, seed: int = 7) -> None:
    """30 organizations with 3 repositories each and 4 random members each."""
    rng = random.Random(seed)
    users = session.scalars(select(User)).all()
    for i in range(30):
        org = Organization(name=f"Generated {i}", billing_address="x")
        session.add(org)
        session.add_all(
            Repository(organization=org, name=f"repo {i}.{j}") for j in range(3)
        )
        for user in rng.sample(users, 4):
            session.add(
                OrganizationRole(
                    organization=org, user=user, name=rng.choice(ROLE_NAMES)
                )
            )
    session.commit()


def _filter(model: type, *conditions: Condition) -> list[Any]:
    """The rows of model that pass one conjunction of conditions."""
    adapter = RequestSessionAdapter()
    data_filter = DataFilter(model, [], [list(conditions)], get_oso().host.types)
    return adapter.execute_query(adapter.build_query(data_filter))


M = TypeVar("M", bound=Base)


def _where(model: type[M], keep: Callable[[M], bool]) -> set[M]:
    """The rows of model that keep() accepts, decided in Python."""
    return {row for row in portal_db.get_session().scalars(select(model)) if keep(row)}


def _variant_oso(tmp_path: Path, *replacements: tuple[str, str]) -> PortalOso:
    """An Oso with the app's classes and a changed copy of the policy."""
    text = POLICY.read_text()
    for old, new in replacements:
        # A fragment that is no longer there would test the real policy instead.
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "variant.polar"
    path.write_text(text)
    return build_oso(path)


def _assert_lists_equal_decisions(session: Session, oso: PortalOso) -> None:
    """Every user's filtered lists equal the per-row decisions of a Viewer."""
    users = session.scalars(select(User)).all()
    orgs = session.scalars(select(Organization)).all()
    repos = session.scalars(select(Repository)).all()
    for user in users:
        viewer = Viewer(session, user.id)
        # One role lookup for all the rows, as a page's decide_rows does; each
        # row is still decided on its own, once for all the actions.
        viewer.know_roles_in(orgs)
        viewer.know_repository_roles(repos)
        allowed = {o: oso.authorized_actions(viewer, o) for o in orgs}
        for action in ("READ", "LIST_REPOS", "READ_BILLING", "CREATE_ROLE"):
            listed = set(oso.authorized_resources(user, action, Organization))
            decided = {o for o in orgs if action in allowed[o]}
            assert listed == decided, (user.email, action)
        listed_repos = set(oso.authorized_resources(user, "READ", Repository))
        decided_repos = {r for r in repos if oso.is_allowed(viewer, "READ", r)}
        assert listed_repos == decided_repos, user.email


def test_adapter_in_list_selects_the_listed_values(session: Session) -> None:
    # why: Oso's sqlize evaluated `column in [...]` in Python: False, no rows.
    names = ["The Beatles", "Generated 3"]
    _generate(session)
    listed = _filter(
        Organization, Condition(Projection(Organization, "name"), "In", names)
    )
    assert set(listed) == _where(Organization, lambda o: o.name in names)
    assert len(listed) == 2


def test_adapter_not_in_list_excludes_the_listed_values(session: Session) -> None:
    # why: Oso's sqlize evaluated `column not in [...]` in Python: True, every
    # row, which in a permission filter means showing what must stay hidden.
    names = ["The Beatles", "Generated 3"]
    _generate(session)
    cond = Condition(Projection(Organization, "name"), "Nin", names)
    assert set(_filter(Organization, cond)) == _where(
        Organization, lambda o: o.name not in names
    )


def test_adapter_in_list_of_records_compares_primary_keys(session: Session) -> None:
    _generate(session)
    wanted = session.scalars(select(Organization).limit(3)).all()
    cond = Condition(Projection(Organization, None), "In", wanted)
    assert set(_filter(Organization, cond)) == set(wanted)


@pytest.mark.parametrize(("cmp", "passes"), [("In", False), ("Nin", True)])
def test_adapter_empty_list_passes_nothing_or_everything(
    session: Session, cmp: str, passes: bool
) -> None:
    # why: Oso produces `field Nin []` for `not x in names` with names = [].
    everything = _where(Organization, lambda o: True)
    cond = Condition(Projection(Organization, "name"), cmp, [])
    assert set(_filter(Organization, cond)) == (everything if passes else set())


@pytest.mark.parametrize(
    ("value", "cmp", "passes"),
    [("OWNER", "In", True), ("ADMIN", "In", False), ("OWNER", "Nin", False)],
)
def test_adapter_value_in_list_is_decided_like_polar(
    session: Session, value: str, cmp: str, passes: bool
) -> None:
    # why: Polar keeps `"OWNER" In ["OWNER", "MEMBER"]` when the list is bound after
    # the `in`; it must pass or block the whole conjunction, as Polar would.
    cond = Condition(value, cmp, ["OWNER", "MEMBER"])
    everything = _where(Organization, lambda o: True)
    assert set(_filter(Organization, cond)) == (everything if passes else set())


@pytest.mark.parametrize(
    ("cmp", "keep"),
    [
        ("Lt", lambda r: r.id < 40),
        ("Leq", lambda r: r.id <= 40),
        ("Gt", lambda r: r.id > 40),
        ("Geq", lambda r: r.id >= 40),
    ],
)
def test_adapter_ordered_comparisons(
    session: Session, cmp: str, keep: Callable[[Repository], bool]
) -> None:
    # why: Oso's sqlize returned None for these: `AND NULL`, no rows.
    _generate(session)
    cond = Condition(Projection(Repository, "id"), cmp, 40)
    assert set(_filter(Repository, cond)) == _where(Repository, keep)


@pytest.mark.parametrize(
    ("cond", "reason"),
    [
        # "e" in organization.name: Polar iterates a string by character; Oso's
        # sqlize made it a LIKE '%e%' (substring, case-insensitive on SQLite).
        (Condition("e", "In", Projection(Organization, "name")), "column's value"),
        (Condition("e", "Nin", Projection(Organization, "name")), "column's value"),
        (
            Condition(
                Projection(Repository, "id"), "In", Projection(Repository, "name")
            ),
            "column's value",
        ),
        # not user in organization.roles: over a join this would mean "some role
        # differs", not "no role matches".
        (
            Condition(User(id=1), "Nin", Projection(OrganizationRole, None)),
            "'not in' a relation",
        ),
        (
            Condition(
                Projection(Repository, "organization_id"),
                "In",
                Projection(Organization, None),
            ),
            "compared with records",
        ),
        (Condition(Projection(Organization, "name"), "In", "abc"), "not a collection"),
        (Condition(Projection(Organization, "name"), "Like", "a"), "unknown"),
    ],
    ids=[
        "value-in-string-column",
        "value-not-in-string-column",
        "field-in-field",
        "record-not-in-relation",
        "field-in-relation",
        "field-in-string",
        "unknown-comparison",
    ],
)
def test_adapter_refuses_conditions_without_faithful_sql(
    session: Session, cond: Condition, reason: str
) -> None:
    with pytest.raises(UntranslatableCondition, match=reason):
        RequestSessionAdapter.sqlize(cond)


def test_adapter_policy_role_names_from_a_list_equal_decisions(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: a role name checked against a list that a rule supplies reaches the
    # adapter as In conditions; the lists must still equal per-row decisions.
    oso = _variant_oso(
        tmp_path,
        (
            VIEWER_ROLE,
            "  name = viewer.role_in(organization) and\n"
            "  name in names and honoured_role_names(names);\n",
        ),
        (
            USER_ROLE,
            "  role.name = name and\n"
            "  role.name in names and honoured_role_names(names);\n"
            "# BILLING is suspended in this variant.\n"
            'honoured_role_names(["OWNER", "MEMBER"]);\n',
        ),
    )
    seen: list[str] = []
    sqlize = RequestSessionAdapter.sqlize

    def spy(cond: Condition) -> Any:
        seen.append(cond.cmp)
        return sqlize(cond)

    monkeypatch.setattr(RequestSessionAdapter, "sqlize", staticmethod(spy))
    _generate(session)
    _assert_lists_equal_decisions(session, oso)
    assert "In" in seen
    # The variant is in force: George, BILLING in The Beatles, no longer sees it.
    george = session.scalar(select(User).where(User.email == demo.GEORGE))
    beatles = session.get(Organization, demo.BEATLES_ID)
    assert beatles not in oso.authorized_resources(george, "READ", Organization)


def test_adapter_policy_comparison_lists_equal_decisions(
    session: Session, tmp_path: Path
) -> None:
    # why: Oso's sqlize turned `repository.id > 40` into AND NULL, so the variant's
    # repository lists came back empty while decisions allowed rows.
    oso = _variant_oso(
        tmp_path,
        (
            "  organization = repository.organization;\n",
            "  organization = repository.organization and\n  repository.id > 40;\n",
        ),
    )
    _generate(session)
    _assert_lists_equal_decisions(session, oso)
    owner = session.scalar(select(User).where(User.email == demo.JOHN))
    assert oso.authorized_resources(owner, "READ", Repository)


def test_adapter_policy_membership_in_a_string_fails_loudly(
    session: Session, tmp_path: Path
) -> None:
    # why: Polar looks for the character "b" among the name's characters; Oso's
    # sqlize made it LIKE '%b%', which SQLite matches case-insensitively, so John
    # was listed The Beatles that every decision refuses him.
    oso = _variant_oso(
        tmp_path,
        (USER_ROLE, '  role.name = name and\n  "b" in organization.name;\n'),
    )
    owner = session.scalar(select(User).where(User.email == demo.JOHN))
    with pytest.raises(UntranslatableCondition):
        oso.authorized_resources(owner, "READ", Organization)


def _filter_statement(
    model: type, relations: list[Relation], *conditions: Condition
) -> Select[Any]:
    """The statement the adapter builds for one conjunction over relations."""
    data_filter = DataFilter(model, relations, [list(conditions)], get_oso().host.types)
    return RequestSessionAdapter().build_query(data_filter)


def test_adapter_many_join_pinned_to_one_row_needs_no_distinct(
    session: Session,
) -> None:
    # why: DISTINCT made a page of a 1,000-row list sort all 1,000 rows; a join
    # that pins a unique key (one role per user per organization) cannot repeat
    _generate(session)
    john = session.scalars(select(User.id).where(User.email == demo.JOHN)).one()
    statement = _filter_statement(
        Organization,
        [Relation(Organization, "roles", OrganizationRole)],
        Condition(Projection(OrganizationRole, "user_id"), "Eq", john),
        Condition(Projection(OrganizationRole, "name"), "Eq", "OWNER"),
    )
    assert not statement._distinct
    listed = list(portal_db.get_session().scalars(statement))
    owned = {
        role.organization
        for role in session.scalars(
            select(OrganizationRole).where(
                OrganizationRole.user_id == john, OrganizationRole.name == "OWNER"
            )
        )
    }
    assert sorted(o.id for o in listed) == sorted(o.id for o in owned)


def test_adapter_many_join_that_can_repeat_rows_keeps_distinct(
    session: Session,
) -> None:
    # why: The Beatles has two MEMBERs; without DISTINCT it would be listed twice
    statement = _filter_statement(
        Organization,
        [Relation(Organization, "roles", OrganizationRole)],
        Condition(Projection(OrganizationRole, "name"), "Eq", "MEMBER"),
    )
    assert statement._distinct
    listed = [o.id for o in portal_db.get_session().scalars(statement)]
    assert sorted(listed) == [demo.BEATLES_ID, demo.MONSTERS_ID]


# --- alternatives that join different relations ----------------------------------

ALLOW = "allow(actor, action, resource) if has_permission(actor, action, resource);\n"


def _with_rules(tmp_path: Path, rules: str) -> PortalOso:
    """The real policy with rules added after its allow rule."""
    return _variant_oso(tmp_path, (ALLOW, ALLOW + rules))


def _assert_peek_lists_equal_decisions(session: Session, oso: PortalOso) -> set[str]:
    """Every user's list of repositories they may PEEK at equals the per-row
    decisions of the same policy for the same actor; the names listed to all."""
    repos = session.scalars(select(Repository)).all()
    seen: set[str] = set()
    for user in session.scalars(select(User)):
        statement = oso.authorized_query(user, "PEEK", Repository)
        listed = set(session.scalars(statement).all())
        decided = {r for r in repos if "PEEK" in oso.authorized_actions(user, r)}
        assert listed == decided, (user.email, {r.name for r in listed ^ decided})
        seen |= {r.name for r in listed}
    return seen


def _add_empty_repository(session: Session) -> None:
    """A repository in Monsters Inc. with no role granted on it."""
    session.add(Repository(organization_id=demo.MONSTERS_ID, name="Empty"))
    session.commit()


def test_adapter_relation_no_condition_reads_stays_with_its_alternative(
    session: Session, tmp_path: Path
) -> None:
    # why: `_r in repo.roles` reads no field of the role: it reached the adapter
    # as a join no condition named, so the alternative needed no table: `true`,
    # every repository listed, Empty too, which no decision allows
    _add_empty_repository(session)
    oso = _with_rules(
        tmp_path,
        'allow(_: User, "PEEK", repo: Repository) if _r in repo.roles;\n'
        'allow(_: User, "PEEK", repo: Repository) if\n'
        '  org = repo.organization and org.name = "The Beatles";\n',
    )
    assert _assert_peek_lists_equal_decisions(session, oso) == {
        "Abbey Road",
        "Paperwork",
    }


def test_adapter_relation_read_by_one_alternative_required_by_another(
    session: Session, tmp_path: Path
) -> None:
    # why: the second alternative needs a role row to exist and only the first
    # reads one; planned together, the roles went with the first alone and the
    # second listed Beatles repositories with no role at all
    session.add(Repository(organization_id=demo.BEATLES_ID, name="Bare"))
    session.commit()
    oso = _with_rules(
        tmp_path,
        'allow(user: User, "PEEK", repo: Repository) if\n'
        "  r in repo.roles and r.user_id = user.id;\n"
        'allow(_: User, "PEEK", repo: Repository) if\n'
        '  _r in repo.roles and repo.organization.name = "The Beatles";\n',
    )
    seen = _assert_peek_lists_equal_decisions(session, oso)
    assert seen == {"Abbey Road", "Paperwork"}


def test_adapter_only_alternative_with_an_unread_relation_joins_it(
    session: Session, tmp_path: Path
) -> None:
    # One alternative: the join is its own (a repository with a role).
    _add_empty_repository(session)
    oso = _with_rules(
        tmp_path, 'allow(_: User, "PEEK", repo: Repository) if _r in repo.roles;\n'
    )
    assert _assert_peek_lists_equal_decisions(session, oso) == {
        "Abbey Road",
        "Paperwork",
    }


def test_adapter_unread_relation_among_several_alternatives_fails_loudly(
    session: Session,
) -> None:
    # why: a filter planned for all alternatives at once does not say whose a
    # join no condition reads is: `true` listed rows decisions refuse, one inner
    # join dropped rows another alternative allows
    data_filter = DataFilter(
        Repository,
        [
            Relation(Repository, "roles", RepositoryRole),
            Relation(Repository, "organization", Organization),
        ],
        [[], [Condition(Projection(Organization, "name"), "Eq", "The Beatles")]],
        get_oso().host.types,
    )
    with pytest.raises(UntranslatableCondition, match=r"Repository\.roles"):
        RequestSessionAdapter().build_query(data_filter)


# --- nil in Polar, NULL in SQL -----------------------------------------------------


def test_adapter_not_equal_lists_nil(session: Session, tmp_path: Path) -> None:
    # why: `nil != "WRITER"` holds in Polar; `NULL != 'WRITER'` is NULL in SQL,
    # so Paperwork (Monsters Inc. has no base role) was left out of the list
    oso = _with_rules(
        tmp_path,
        'allow(_: User, "PEEK", repo: Repository) if\n'
        '  repo.organization.base_repository_role != "WRITER";\n',
    )
    assert _assert_peek_lists_equal_decisions(session, oso) == {
        "Abbey Road",
        "Paperwork",
    }


def test_adapter_not_equal_columns_with_nil(session: Session) -> None:
    # A NULL and a value differ, in Polar and with IS DISTINCT FROM; and
    # nil != nil is false in Polar, as NULL IS DISTINCT FROM NULL is in SQL.
    _generate(session)
    session.execute(
        update(Organization)
        .where(Organization.name.in_(["Generated 1", "Generated 2"]))
        .values(base_repository_role=None)
    )
    session.commit()
    cond = Condition(
        Projection(Organization, "base_repository_role"),
        "Neq",
        Projection(Organization, "name"),
    )
    # Compared with a column that is never NULL: every row (no name is a role).
    assert set(_filter(Organization, cond)) == _where(Organization, lambda o: True)
    cond = Condition(Projection(Organization, "base_repository_role"), "Neq", None)
    assert set(_filter(Organization, cond)) == _where(
        Organization, lambda o: o.base_repository_role is not None
    )


NIL_LISTS: list[list[str | None]] = [
    ["WRITER"],
    [None],
    [None, "READER"],
    [],
]


@pytest.mark.parametrize("cmp", ["In", "Nin"])
@pytest.mark.parametrize("values", NIL_LISTS, ids=repr)
def test_adapter_membership_treats_nil_as_a_value(
    session: Session, cmp: str, values: list[str | None]
) -> None:
    # why: `NULL IN (...)`, `NULL NOT IN (...)` and `x NOT IN (NULL)` are NULL in
    # SQL (the row dropped); in Polar nil is a value like any other
    _generate(session)
    session.execute(
        update(Organization)
        .where(Organization.name.in_(["Generated 1", "Generated 2"]))
        .values(base_repository_role=None)
    )
    session.commit()
    cond = Condition(Projection(Organization, "base_repository_role"), cmp, values)
    listed = set(_filter(Organization, cond))
    assert listed == _where(
        Organization,
        lambda o: (o.base_repository_role in values) == (cmp == "In"),
    )
    if (None in values) == (cmp == "In"):
        # Not vacuous: the organizations with no base role are listed.
        assert any(o.base_repository_role is None for o in listed)
