"""Access explained from the policy: the roles x permissions table and the "why".

The expectations are written out here, independently of the policy (like
tests/test_policy.py); the changed-policy tests prove the explanations are read
from the loaded policy, not from anything written beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.authz import PortalOso, get_oso, words
from portal.authz.explain import AccessModel, access_model
from portal.authz.policy import build_oso
from portal.domain.models import ROLE_NAMES, Organization
from portal.infra import db as portal_db
from tests.conftest import AuthActions, client_for
from tests.test_policy import EXPECTED, ORG_ACTIONS

POLICY = (Path(__file__).resolve().parents[1] / "portal" / "policy.polar").read_text()
# The roles table as the page shows it, by the names in portal/policy_words.toml.
ROLE_CODES = {"Owner": "OWNER", "Member": "MEMBER", "Billing manager": "BILLING"}
PERMISSION_CODES = {
    "See the organization": "READ",
    "See the repositories": "LIST_REPOS",
    "Create repositories": "CREATE_REPO",
    "See who is here": "LIST_ROLES",
    "See the billing details": "READ_BILLING",
    "Add people": "CREATE_ROLE",
    "Change people's roles": "UPDATE_ROLE",
    "Remove people": "DELETE_ROLE",
    "See the audit log": "READ_AUDIT",
    "Open the settings": "READ_SETTINGS",
    "Change the billing address": "UPDATE_BILLING",
    "Rename the organization": "UPDATE",
    "Delete the organization": "DELETE",
}


@pytest.fixture
def model(app: Flask) -> Iterator[AccessModel]:
    """The access model of The Beatles under the app's policy."""
    with app.test_request_context():
        yield access_model(get_oso(), _beatles(), words())


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


class _AccessTable(HTMLParser):
    """The cells of the roles page's table (class table-access), as text: its
    column headers, then each row's header and cells (the visually hidden
    "Yes"/"No" a screen reader reads; the visible marks are aria-hidden)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.columns: list[str] = []
        self.rows: list[tuple[str, list[str]]] = []
        self._in_table = self._hidden = False
        self._cell: list[str] | None = None
        self._kind = ""
        self._description = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "table-access" in classes:
            self._in_table = True
        elif self._in_table and tag in {"th", "td"}:
            self._cell, self._kind = [], dict(attrs).get("scope") or tag
        elif self._in_table and tag == "span":
            self._hidden = dict(attrs).get("aria-hidden") == "true"
            if "term-description" in classes:
                self._description += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag == "span":
            self._hidden, self._description = False, max(0, self._description - 1)
        elif self._in_table and tag in {"th", "td"} and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._kind == "col":
                self.columns.append(text)
            elif self._kind == "row":
                self.rows.append((text, []))
            else:
                self.rows[-1][1].append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._hidden and not self._description:
            self._cell.append(data)


def _read_table(html: str) -> _AccessTable:
    parsed = _AccessTable()
    parsed.feed(html)
    assert parsed.columns[0] == "Permission" and parsed.rows, "no roles table"
    return parsed


def _table(client: FlaskClient) -> dict[str, set[str]]:
    """The roles page's table as {role: permissions granted} (codes), read from
    the HTML's names and its "Yes"/"No" cells."""
    page = client.get("/orgs/1/roles")
    assert page.status_code == 200
    parsed = _read_table(page.text)
    roles = [ROLE_CODES[name] for name in parsed.columns[1:]]
    table: dict[str, set[str]] = {role: set() for role in roles}
    for name, cells in parsed.rows:
        assert len(cells) == len(roles)
        for role, cell in zip(roles, cells, strict=True):
            assert cell in {"Yes", "No"}
            if cell == "Yes":
                table[role].add(PERMISSION_CODES[name])
    return table


def _rows(client: FlaskClient) -> list[str]:
    """The permissions the roles page's table lists, top to bottom (codes)."""
    parsed = _read_table(client.get("/orgs/1/roles").text)
    return [PERMISSION_CODES[name] for name, _cells in parsed.rows]


def test_explain_table_matches_the_permission_model(model: AccessModel) -> None:
    assert set(model.permissions) == set(ORG_ACTIONS)
    for role in model.roles:
        assert set(model.permissions_of(role)) == EXPECTED[role], role


def test_explain_permissions_most_widely_granted_first(model: AccessModel) -> None:
    # why: READ (every role) leads and what only owners do comes last, so the
    # table reads from "everyone" to "owners only"; permissions held by as many
    # roles keep the policy's order (see before change, add before change before
    # remove), not the alphabet of their codes
    assert model.permissions == (
        "READ",
        "LIST_REPOS",
        "CREATE_REPO",
        "LIST_ROLES",
        "READ_BILLING",
        "READ_SETTINGS",
        "UPDATE_BILLING",
        "CREATE_ROLE",
        "UPDATE_ROLE",
        "DELETE_ROLE",
        "READ_AUDIT",
        "UPDATE",
        "DELETE",
    )


def test_explain_ties_follow_the_declared_order_not_the_alphabet(
    app: Flask, model: AccessModel
) -> None:
    # why: the declared order is read from policy_words.toml (which lists the
    # permissions as the policy declares them): reversed, the ties reverse too
    said = words(app)
    organization = said.permissions["Organization"]
    backwards = replace(
        said,
        permissions={
            **said.permissions,
            "Organization": dict(reversed(list(organization.items()))),
        },
    )
    with app.test_request_context():
        reordered = access_model(get_oso(), _beatles(), backwards)
    assert reordered.permissions == (
        "READ",
        "UPDATE_BILLING",
        "READ_SETTINGS",
        "READ_BILLING",
        "LIST_ROLES",
        "CREATE_REPO",
        "LIST_REPOS",
        "DELETE",
        "UPDATE",
        "READ_AUDIT",
        "DELETE_ROLE",
        "UPDATE_ROLE",
        "CREATE_ROLE",
    )
    assert reordered.permissions != model.permissions


def test_explain_why_names_the_granted_role_and_the_inclusion(
    model: AccessModel,
) -> None:
    assert model.why("OWNER", "READ_BILLING") == (
        "Given to every Billing manager; an Owner is also a Billing manager."
    )
    assert model.why("BILLING", "READ_BILLING") == "Given to every Billing manager."
    assert model.why("OWNER", "CREATE_ROLE") == "Given to every Owner."
    assert model.why("MEMBER", "READ") == "Given to every Member and Billing manager."
    # The codes stay in the data (the JSON API gives them).
    owners = {permission.code: permission for permission in model.explain("OWNER")}
    assert owners["READ_BILLING"].granted_to == ("BILLING",)
    assert owners["READ_BILLING"].through == "BILLING"
    assert owners["READ_BILLING"].name == "See the billing details"


def test_explain_why_refuses_a_permission_the_role_lacks(model: AccessModel) -> None:
    with pytest.raises(ValueError, match="MEMBER does not have READ_BILLING"):
        model.why("MEMBER", "READ_BILLING")


def test_explain_includes_follows_the_hierarchy(model: AccessModel) -> None:
    assert model.includes("OWNER") == ("MEMBER", "BILLING")
    assert model.includes("MEMBER") == ()


def test_explain_change_lists_gained_and_lost(model: AccessModel) -> None:
    assert model.change("MEMBER", "BILLING") == (
        ("READ_BILLING", "READ_SETTINGS", "UPDATE_BILLING"),
        ("LIST_REPOS", "CREATE_REPO", "LIST_ROLES"),
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
        access_model(oso, _beatles(), words())
        assert oso.queries == before


def test_explain_asks_a_new_policy_once_then_remembers(app: Flask) -> None:
    # A policy text no app of this process has loaded (what a policy answered is
    # shared by the process's apps, under its text): asked once, then remembered.
    _load_policy(app, POLICY + f"\n# deployed {uuid.uuid4()}\n")
    with app.test_request_context():
        oso: PortalOso = get_oso()
        before = oso.queries
        access_model(oso, _beatles(), words())
        asked = oso.queries - before
        access_model(oso, _beatles(), words())
        assert asked == 6  # two queries per role: its actions, what it includes
        assert oso.queries - before == asked


def test_explain_kept_when_the_data_caches_are_cleared(app: Flask) -> None:
    # why: clear_caches() forgets answers about the data (a cold start of the
    # caches); what roles grant is the policy's own answer and stays
    with app.test_request_context():
        oso: PortalOso = get_oso()
        oso.clear_caches()
        before = oso.queries
        access_model(oso, _beatles(), words())
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
            '  holder.on = "Organization" and\n'
            "  name = holder.name;",
            "has_role(holder: RoleHolder, name: String, org: Organization) if\n"
            '  holder.on = "Organization" and\n'
            '  org.name != "" and name = holder.name;',
        ),
    )
    with app.test_request_context():
        oso: PortalOso = get_oso()
        access_model(oso, _beatles(), words())
        before = oso.queries
        access_model(oso, _beatles(), words())
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
        model = access_model(get_oso(), _beatles(), words())
        assert model.why("OWNER", "READ_AUDIT") == (
            "Given to every Member; an Owner is also a Member."
        )


def test_explain_roles_page_follows_a_changed_hierarchy(app: Flask) -> None:
    # why: the hierarchy line is read from the policy too: an OWNER that no
    # longer includes BILLING loses READ_BILLING in the table
    client = client_for(app, "member")
    _load_policy(app, _changed('"BILLING" if "OWNER";', ""))
    assert "READ_BILLING" not in _table(client)["OWNER"]
    page = client.get("/orgs/1/roles").text
    assert "An Owner is also a Member." in page
    assert "An Owner is also a Member and a Billing manager." not in page


def test_explain_roles_page_table_hidden_from_billing(app: Flask) -> None:
    # why: the table is part of the roles page, which BILLING may not open
    client = app.test_client()
    AuthActions(client).login("george@beatles.com")
    assert client.get("/orgs/1/roles").status_code == 403


def test_explain_roles_page_rows_in_the_models_order(app: Flask) -> None:
    # why: the table reads from what everyone may do to what owners alone may
    # do, in a stable order (the model's, tested above)
    with app.test_request_context():
        expected = access_model(get_oso(), _beatles(), words()).permissions
    assert tuple(_rows(client_for(app, "member"))) == expected


def test_explain_roles_page_describes_each_role_and_permission(app: Flask) -> None:
    page = client_for(app, "member").get("/orgs/1/roles").text
    said = words(app)
    for role in ("OWNER", "MEMBER", "BILLING"):
        assert f"<dd>{said.role(role).description}</dd>" in page
    description = said.permission("READ_AUDIT").description
    assert f'<span class="term-description">{description}</span>' in page


def test_explain_roles_page_codes_only_in_technical_details(app: Flask) -> None:
    page = client_for(app, "member").get("/orgs/1/roles").text
    start = page.index('<section class="card" aria-labelledby="access-heading">')
    section = page[start : page.index("</section>", start)]
    technical = section.index('<details class="technical">')
    for code in PERMISSION_CODES.values():
        assert f"<code>{code}</code>" in section[technical:], code
        assert code not in section[:technical], code


def test_explain_roles_page_follows_the_words(app: Flask) -> None:
    # why: the names are read from the app's words (portal/policy_words.toml),
    # not written in the template: other words, another page
    said = words(app)
    billing = said.roles["Organization"]["BILLING"]
    app.extensions["portal.words"] = replace(
        said,
        roles={
            **said.roles,
            "Organization": {
                **said.roles["Organization"],
                "BILLING": replace(billing, name="Treasurer"),
            },
        },
    )
    page = client_for(app, "member").get("/orgs/1/roles").text
    assert _read_table(page).columns == ["Permission", "Owner", "Member", "Treasurer"]
    assert "An Owner is also a Member and a Treasurer." in page


def test_explain_a_blank_stand_ins_answer_is_not_a_rows(tmp_path: Path) -> None:
    # why: start-up asks about a blank Organization() (nothing set: every
    # attribute the policy reads is empty) and may remember that answer whatever
    # the policy read of it; an organization with a name must not be given it
    # when the policy looks at the name
    path = tmp_path / "variant.polar"
    path.write_text(
        POLICY + '\nhas_permission(holder: RoleHolder, "DELETE", org: Organization) if'
        ' holder.name = "BILLING" and org.name = "Acme";\n'
    )
    oso = build_oso(path)
    blank = oso.role_grants(ROLE_NAMES, Organization())
    assert "DELETE" not in blank["BILLING"].actions
    acme = oso.role_grants(ROLE_NAMES, Organization(name="Acme"))
    assert "DELETE" in acme["BILLING"].actions
    # The process-wide memo keeps them apart too: a new Oso of the same policy.
    again = build_oso(path)
    assert (
        "DELETE" not in again.role_grants(ROLE_NAMES, Organization())["BILLING"].actions
    )
    assert (
        "DELETE"
        in again.role_grants(ROLE_NAMES, Organization(name="Acme"))["BILLING"].actions
    )
