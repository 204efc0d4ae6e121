"""Plain words for the policy: every role and permission the policy declares has a
name and a one-sentence description in portal/policy_words.toml, and the app
refuses to start on a policy that gains one without words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from portal.authz import words
from portal.authz.explain import access_model
from portal.authz.policy import build_oso
from portal.authz.words import (
    ORGANIZATION,
    MissingWords,
    Words,
    check_covers,
    joined,
    load_words,
)
from portal.domain.models import Organization

PORTAL = Path(__file__).resolve().parents[1] / "portal"
POLICY = (PORTAL / "policy.polar").read_text()
BLOCK_RE = re.compile(r"^resource (\w+) \{(.*?)^\}", re.MULTILINE | re.DOTALL)


def _declared(kind: str) -> dict[str, set[str]]:
    """What each resource block of the policy declares as its roles or
    permissions, read from the policy's text (independently of Oso)."""
    declared = {}
    for resource, body in BLOCK_RE.findall(POLICY):
        found = re.search(rf"\b{kind}\s*=\s*\[(.*?)\]", body, re.DOTALL)
        if found:
            declared[resource] = set(re.findall(r'"(\w+)"', found.group(1)))
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
        POLICY.replace(
            '"READ_AUDIT"\n  ];', '"READ_AUDIT",\n    "EXPORT"\n  ];'
        ).replace(
            '"READ_AUDIT" if "OWNER";',
            '"READ_AUDIT" if "OWNER";\n  "EXPORT" if "OWNER";',
        )
    )
    oso = build_oso(policy, cache_size=0)
    grants = access_model(oso, Organization()).grants
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
    assert isinstance(load_words(PORTAL / "policy_words.toml"), Words)
