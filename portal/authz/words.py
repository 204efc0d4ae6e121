"""Plain words for the policy's roles and permissions.

portal/policy_words.toml, beside the policy, gives every role and permission of
every resource block a short name ("Billing manager", "See the repositories")
and a one-sentence description. Pages, flashes and confirmations say these; the
codes (OWNER, READ_BILLING) stay in the JSON API and in "technical details".

``check_covers`` runs at start-up against what the loaded policy answered
(``PortalOso.role_grants``): a role or permission without words stops the app.
tests/test_words.py also checks the words against every block the policy
declares, so a new resource block cannot go without them either.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ORGANIZATION = "Organization"


@dataclass(frozen=True)
class Term:
    """One role or permission in plain words."""

    code: str  # the policy's name: "BILLING", "READ_BILLING"
    name: str  # "Billing manager", "See the billing details"
    description: str  # one sentence
    article: str = ""  # "a" or "an" before the name; "": by its first letter

    def __str__(self) -> str:
        """The name, as pages say it."""
        return self.name

    @property
    def a(self) -> str:
        """The name's indefinite article: "an" (Owner), "a" (Billing manager)."""
        return self.article or ("an" if self.name[:1] in "AEIOUaeiou" else "a")

    @property
    def a_name(self) -> str:
        """The name after its indefinite article: "an Owner", "a Billing manager"."""
        return f"{self.a} {self.name}"

    @property
    def sentence(self) -> str:
        """A role's description said of its holder: "A Member works with the
        code: sees the repositories and who else is here, nothing of the
        billing." (descriptions of roles start with what the holder does)."""
        a_name = self.a_name
        described = self.description[:1].lower() + self.description[1:]
        return f"{a_name[:1].upper()}{a_name[1:]} {described}"

    @property
    def in_a_sentence(self) -> str:
        """The name inside a sentence: "see the billing details" ("They can now
        see the billing details"). A name that starts with an acronym keeps it."""
        if self.name[1:2].isupper():
            return self.name
        return self.name[:1].lower() + self.name[1:]


@dataclass(frozen=True)
class Words:
    """The words of every resource block's roles and permissions."""

    roles: Mapping[str, Mapping[str, Term]]  # resource -> code -> term
    permissions: Mapping[str, Mapping[str, Term]]

    def role(self, code: str, resource: str = ORGANIZATION) -> Term:
        """The words for role code of resource (KeyError: the policy has none)."""
        return self.roles[resource][code]

    def permission(self, code: str, resource: str = ORGANIZATION) -> Term:
        """The words for permission code of resource."""
        return self.permissions[resource][code]

    def role_names(
        self, codes: Iterable[str], resource: str = ORGANIZATION, last: str = "and"
    ) -> str:
        """Role names joined for a sentence: "Owner, Member and Billing manager"
        (last="or": "Owner, Member or Billing manager")."""
        return joined([self.role(code, resource).name for code in codes], last)

    # How a sentence names a role (portal.domain.roles.RoleNames: the domain's
    # refusals and changes are worded with these on pages, with codes elsewhere).

    def role_name(self, code: str) -> str:
        """An organization role's name: "Billing manager"."""
        return self.role(code).name

    def a_role(self, code: str) -> str:
        """An organization role's name after its article: "a Billing manager"."""
        return self.role(code).a_name

    def declared(self, permission: str, resource: str = ORGANIZATION) -> int:
        """Where the policy declares permission among resource's: 0 for the first
        (policy_words.toml lists them in the policy's order, tests/test_words.py
        checks); a permission without words comes after all the others."""
        order = list(self.permissions.get(resource, {}))
        return order.index(permission) if permission in order else len(order)

    def missing(
        self, resource: str, roles: Iterable[str], permissions: Iterable[str]
    ) -> list[str]:
        """The roles and permissions of resource that have no words."""
        have_roles = self.roles.get(resource, {})
        have_permissions = self.permissions.get(resource, {})
        return [
            f"{resource} role {code}" for code in roles if code not in have_roles
        ] + [
            f"{resource} permission {code}"
            for code in permissions
            if code not in have_permissions
        ]


def joined(names: list[str], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c" (last="or": "a, b or c")."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def load_words(path: Path) -> Words:
    """The words in path (a TOML file laid out as portal/policy_words.toml)."""
    with path.open("rb") as file:
        data = tomllib.load(file)
    return Words(
        roles={
            resource: _terms(block.get("roles", {})) for resource, block in data.items()
        },
        permissions={
            resource: _terms(block.get("permissions", {}))
            for resource, block in data.items()
        },
    )


def _terms(entries: Mapping[str, Mapping[str, str]]) -> dict[str, Term]:
    """Each entry as a Term; a missing or empty name or description is an error."""
    terms = {}
    for code, entry in entries.items():
        name, description = entry.get("name", ""), entry.get("description", "")
        if not name.strip() or not description.strip():
            raise ValueError(f"{code}: a name and a description are both required")
        article = entry.get("article", "")
        if article not in ("", "a", "an"):
            raise ValueError(f'{code}: the article is "a" or "an", or left out')
        terms[code] = Term(code, name, description, article)
    return terms


class MissingWords(RuntimeError):
    """The policy has a role or permission that policy_words.toml does not name."""


def check_covers(
    words: Words, resource: str, roles: Iterable[str], permissions: Iterable[str]
) -> None:
    """Raise MissingWords naming every role and permission of resource without
    words."""
    missing = words.missing(resource, roles, permissions)
    if missing:
        raise MissingWords(
            f"portal/policy_words.toml has no words for: {', '.join(missing)}"
        )
