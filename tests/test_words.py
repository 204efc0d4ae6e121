"""Plain words for the policy: every role and permission the policy declares has a
name and a one-sentence description in portal/policy_words.toml, and the app
refuses to start on a policy that gains one without words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from portal.authz import words
from portal.authz.policy import build_oso
from portal.authz.words import (
    ORGANIZATION,
    MissingWords,
    Words,
    check_covers,
    joined,
    load_words,
)
from portal.domain import roles
from portal.domain.models import ROLE_NAMES, Organization, OrganizationRole, User

PORTAL = Path(__file__).resolve().parents[1] / "portal"
POLICY = (PORTAL / "policy.polar").read_text()
BLOCK_RE = re.compile(r"^resource (\w+) \{(.*?)^\}", re.MULTILINE | re.DOTALL)


def _declared(kind: str) -> dict[str, set[str]]:
    """What each resource block of the policy declares as its roles or
    permissions, read from the policy's text (independently of Oso)."""
    return {resource: set(names) for resource, names in _in_order(kind).items()}


def _in_order(kind: str) -> dict[str, list[str]]:
    """_declared, in the order the policy declares them."""
    declared = {}
    for resource, body in BLOCK_RE.findall(POLICY):
        found = re.search(rf"\b{kind}\s*=\s*\[(.*?)\]", body, re.DOTALL)
        if found:
            declared[resource] = re.findall(r'"(\w+)"', found.group(1))
    return declared


def test_the_policy_text_is_read_as_expected() -> None:
    """The parser above finds the blocks (else the next tests prove nothing)."""
    assert _declared("roles")[ORGANIZATION] == {"OWNER", "MEMBER", "BILLING"}
    assert "READ_BILLING" in _declared("permissions")[ORGANIZATION]
    assert set(_declared("permissions")) >= {"Organization", "Repository", "User"}


@pytest.mark.parametrize("kind", ["roles", "permissions"])
def test_every_declared_role_and_permission_has_words_and_no_word_is_stale(
    kind: str,
) -> None:
    loaded = load_words(PORTAL / "policy_words.toml")
    have = {
        resource: set(terms)
        for resource, terms in getattr(loaded, kind).items()
        if terms
    }
    assert have == _declared(kind)


def test_words_are_plain_sentences() -> None:
    """A name is short and not a code; a description is one sentence."""
    loaded = load_words(PORTAL / "policy_words.toml")
    for table in (loaded.roles, loaded.permissions):
        for terms in table.values():
            for term in terms.values():
                assert term.name != term.code
                assert not re.fullmatch(r"[A-Z_]+", term.name), term
                assert len(term.name) <= 40, term
                assert term.description.endswith("."), term
                assert term.description.count(". ") == 0, term


def test_the_app_speaks_the_words(app: Flask) -> None:
    with app.app_context():
        assert words().role("BILLING").name == "Billing manager"
        assert words().permission("READ_BILLING").name == "See the billing details"
        assert words().role_names(["OWNER", "MEMBER"]) == "Owner and Member"
        template = app.jinja_env.from_string(
            "{{ 'OWNER' | role_name }}: {{ 'LIST_REPOS' | permission_name }}"
        )
        assert template.render() == "Owner: See the repositories"


def test_a_policy_that_gains_a_permission_without_words_is_refused(
    tmp_path: Path,
) -> None:
    """What start-up runs (portal.authz._checked_words) on a policy with one more
    permission: refused, naming it."""
    policy = tmp_path / "policy.polar"
    policy.write_text(
        POLICY.replace('"DELETE"\n  ];', '"DELETE",\n    "EXPORT"\n  ];').replace(
            '"READ_AUDIT" if "OWNER";',
            '"READ_AUDIT" if "OWNER";\n  "EXPORT" if "OWNER";',
        )
    )
    oso = build_oso(policy, cache_size=0)
    grants = oso.role_grants(ROLE_NAMES, Organization())
    assert "EXPORT" in grants["OWNER"].actions  # the change took
    permissions = {action for grant in grants.values() for action in grant.actions}
    loaded = load_words(PORTAL / "policy_words.toml")
    with pytest.raises(MissingWords, match="Organization permission EXPORT"):
        check_covers(loaded, ORGANIZATION, grants, permissions)
    check_covers(loaded, ORGANIZATION, grants, permissions - {"EXPORT"})


def test_a_word_without_a_description_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "words.toml"
    path.write_text('[Organization.roles.OWNER]\nname = "Owner"\ndescription = ""\n')
    with pytest.raises(ValueError, match="OWNER"):
        load_words(path)


def test_joined() -> None:
    assert joined([]) == ""
    assert joined(["a"]) == "a"
    assert joined(["a", "b", "c"]) == "a, b and c"
    assert joined(["a", "b", "c"], "or") == "a, b or c"
    assert isinstance(load_words(PORTAL / "policy_words.toml"), Words)


@pytest.mark.parametrize("kind", ["roles", "permissions"])
def test_words_list_them_in_the_policys_order(kind: str) -> None:
    # why: the roles table breaks ties in this order ("what to see" before "what
    # to change"); a word added at the end of the file would move its row
    loaded = load_words(PORTAL / "policy_words.toml")
    listed = {
        resource: list(terms) for resource, terms in getattr(loaded, kind).items()
    }
    assert {r: names for r, names in listed.items() if names} == _in_order(kind)
    assert loaded.declared("LIST_ROLES") == 3
    assert loaded.declared("EXPORT") == len(loaded.permissions[ORGANIZATION])


def test_words_in_a_sentence() -> None:
    loaded = load_words(PORTAL / "policy_words.toml")
    assert loaded.a_role("OWNER") == "an Owner"
    assert loaded.a_role("BILLING") == "a Billing manager"
    assert loaded.role_name("MEMBER") == "Member"
    assert loaded.permission("LIST_ROLES").in_a_sentence == "see who is here"
    assert loaded.role("BILLING").sentence == (
        "A Billing manager sees the billing details, nothing of the code."
    )
    assert (
        loaded.role_names(ROLE_NAMES, last="or") == "Owner, Member or Billing manager"
    )


def test_words_article_given_or_by_the_first_letter(tmp_path: Path) -> None:
    path = tmp_path / "words.toml"
    path.write_text(
        '[Organization.roles.A]\nname = "Heir"\ndescription = "Inherits."\n'
        'article = "an"\n'
        '[Organization.roles.B]\nname = "Auditor"\ndescription = "Reads."\n'
        '[Organization.permissions.C]\nname = "SSH keys"\ndescription = "Keys."\n'
    )
    loaded = load_words(path)
    assert loaded.role("A").a_name == "an Heir"
    assert loaded.role("B").a_name == "an Auditor"
    assert loaded.permission("C").in_a_sentence == "SSH keys"  # an acronym stays
    path.write_text(
        '[Organization.roles.A]\nname = "X"\ndescription = "Y."\narticle = "the"\n'
    )
    with pytest.raises(ValueError, match="article"):
        load_words(path)


def test_words_name_the_domains_roles() -> None:
    """Words is a RoleNames: the domain's refusals and changes are worded with
    it on pages, with the codes on the command line."""
    loaded: roles.RoleNames = load_words(PORTAL / "policy_words.toml")
    paul = User(email="paul@beatles.com")
    refusal = roles.AlreadyHasRole(paul, OrganizationRole(user=paul, name="MEMBER"))
    assert refusal.say(loaded) == "paul@beatles.com is already a Member here."
    assert refusal.say(roles.CODES) == "paul@beatles.com is already MEMBER here."
