"""Access explained from the policy: the roles x permissions table and the "why".

The expectations are written out here, independently of the policy (like
tests/test_policy.py); the changed-policy tests prove the explanations are read
from the loaded policy, not from anything written beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.authz import PortalOso, get_oso
from portal.authz.explain import AccessModel, access_model
from portal.domain.models import Organization
from portal.infra import db as portal_db
from tests.conftest import AuthActions, client_for
from tests.test_policy import EXPECTED, ORG_ACTIONS

POLICY = (Path(__file__).resolve().parents[1] / "portal" / "policy.polar").read_text()
CELL_RE = re.compile(
    r'<span class="visually-hidden">(\w+) (has|does not have) (\w+)</span>'
)


@pytest.fixture
def model(app: Flask) -> Iterator[AccessModel]:
    """The access model of The Beatles under the app's policy."""
    with app.test_request_context():
        yield access_model(get_oso(), _beatles())


def _beatles() -> Organization:
    organization = portal_db.get_session().get(Organization, 1)
    assert organization is not None
    return organization


def _load_policy(app: Flask, text: str) -> None:
    """Replace the app's policy with text (as a deploy of a new policy would)."""
    oso = get_oso(app)
    oso.clear_rules()
    oso.load_str(text)


def _changed(old: str, new: str) -> str:
    """The policy with one line replaced (the line must be there)."""
    assert old in POLICY, old
    return POLICY.replace(old, new)


def _table(client: FlaskClient) -> dict[str, set[str]]:
    """The roles page's table as {role: permissions granted}, read from the HTML."""
    page = client.get("/orgs/1/roles")
    assert page.status_code == 200
    table: dict[str, set[str]] = {}
    for role, verb, permission in CELL_RE.findall(page.text):
        table.setdefault(role, set())
        if verb == "has":
            table[role].add(permission)
    return table


def test_explain_table_matches_the_permission_model(model: AccessModel) -> None:
    assert set(model.permissions) == set(ORG_ACTIONS)
    for role in model.roles:
        assert set(model.permissions_of(role)) == EXPECTED[role], role


def test_explain_permissions_most_widely_granted_first(model: AccessModel) -> None:
    # why: READ (every role) leads and what only owners do comes last, so the
    # table reads from "everyone" to "owners only"
    assert model.permissions[0] == "READ"
    assert set(model.permissions[-6:]) == {
        "CREATE_ROLE",
        "UPDATE_ROLE",
        "DELETE_ROLE",
        "READ_AUDIT",
        "UPDATE",
        "DELETE",
    }


def test_explain_why_names_the_granted_role_and_the_inclusion(
    model: AccessModel,
) -> None:
    assert (
        model.why("OWNER", "READ_BILLING")
        == "READ_BILLING: granted to BILLING; OWNER includes BILLING"
    )
    assert model.why("BILLING", "READ_BILLING") == "READ_BILLING: granted to BILLING"
    assert model.why("OWNER", "CREATE_ROLE") == "CREATE_ROLE: granted to OWNER"
    assert model.why("MEMBER", "READ") == "READ: granted to MEMBER, BILLING"


def test_explain_why_refuses_a_permission_the_role_lacks(model: AccessModel) -> None:
    with pytest.raises(ValueError, match="MEMBER does not have READ_BILLING"):
        model.why("MEMBER", "READ_BILLING")


def test_explain_includes_follows_the_hierarchy(model: AccessModel) -> None:
    assert model.includes("OWNER") == ("MEMBER", "BILLING")
    assert model.includes("MEMBER") == ()


def test_explain_change_lists_gained_and_lost(model: AccessModel) -> None:
    assert model.change("MEMBER", "BILLING") == (
        ("READ_BILLING", "READ_SETTINGS", "UPDATE_BILLING"),
        ("LIST_REPOS", "LIST_ROLES"),
    )
    gained, lost = model.change(None, "MEMBER")
    assert set(gained) == EXPECTED["MEMBER"] and lost == ()
    gained, lost = model.change("OWNER", None)
    assert gained == () and set(lost) == set(ORG_ACTIONS)


def test_explain_asked_at_start_up_not_per_request(app: Flask) -> None:
    # why: the roles and member pages render the table on every request; the
    # policy's answer for a role does not depend on the organization, so the app
    # asks it once when it starts and no request pays for it
    with app.test_request_context():
        oso: PortalOso = get_oso()
        before = oso.queries
        access_model(oso, _beatles())
        assert oso.queries == before


def test_explain_asks_a_new_policy_once_then_remembers(app: Flask) -> None:
    _load_policy(app, POLICY)  # a new policy forgets what the old one said
    with app.test_request_context():
        oso: PortalOso = get_oso()
        before = oso.queries
        access_model(oso, _beatles())
        asked = oso.queries - before
        access_model(oso, _beatles())
        assert asked == 6  # two queries per role: its actions, what it includes
        assert oso.queries - before == asked


def test_explain_kept_when_the_data_caches_are_cleared(app: Flask) -> None:
    # why: clear_caches() forgets answers about the data (a cold start of the
    # caches); what roles grant is the policy's own answer and stays
    with app.test_request_context():
        oso: PortalOso = get_oso()
        oso.clear_caches()
        before = oso.queries
        access_model(oso, _beatles())
        assert oso.queries == before


def test_explain_not_cached_when_the_policy_reads_the_organization(
    app: Flask,
) -> None:
    # why: the cache holds only answers that depend on nothing but the role's
    # name; a policy that looks at the organization must be asked every time
    _load_policy(
        app,
        _changed(
            "has_role(holder: RoleHolder, name: String, _: Organization) if\n"
            "  name = holder.name;",
            "has_role(holder: RoleHolder, name: String, org: Organization) if\n"
            '  org.name != "" and name = holder.name;',
        ),
    )
    with app.test_request_context():
        oso: PortalOso = get_oso()
        access_model(oso, _beatles())
        before = oso.queries
        access_model(oso, _beatles())
        assert oso.queries - before == 6


def test_explain_roles_page_shows_the_table(app: Flask) -> None:
    table = _table(client_for(app, "member"))
    assert table == {role: EXPECTED[role] for role in ("OWNER", "MEMBER", "BILLING")}


def test_explain_roles_page_follows_a_changed_policy(app: Flask) -> None:
    client = client_for(app, "member")
    assert "READ_AUDIT" not in _table(client)["MEMBER"]
    _load_policy(app, _changed('"READ_AUDIT" if "OWNER";', '"READ_AUDIT" if "MEMBER";'))
    table = _table(client)
    assert table["MEMBER"] == EXPECTED["MEMBER"] | {"READ_AUDIT"}
    assert table["BILLING"] == EXPECTED["BILLING"]
    with app.test_request_context():
        model = access_model(get_oso(), _beatles())
        assert (
            model.why("OWNER", "READ_AUDIT")
            == "READ_AUDIT: granted to MEMBER; OWNER includes MEMBER"
        )


def test_explain_roles_page_follows_a_changed_hierarchy(app: Flask) -> None:
    # why: the hierarchy line is read from the policy too: an OWNER that no
    # longer includes BILLING loses READ_BILLING in the table
    client = client_for(app, "member")
    _load_policy(app, _changed('"BILLING" if "OWNER";', ""))
    assert "READ_BILLING" not in _table(client)["OWNER"]
    page = client.get("/orgs/1/roles").text
    assert "OWNER includes MEMBER." in page
    assert "OWNER includes MEMBER and BILLING" not in page


def test_explain_roles_page_table_hidden_from_billing(app: Flask) -> None:
    # why: the table is part of the roles page, which BILLING may not open
    client = app.test_client()
    AuthActions(client).login("george@beatles.com")
    assert client.get("/orgs/1/roles").status_code == 403
