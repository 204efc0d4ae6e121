"""Access explained from the loaded policy: what each role grants, and why.

Nothing here states a rule. ``access_model(organization)`` asks the app's Oso what
a holder of each role may do there and which roles each role includes
(``PortalOso.role_grants``), and derives from those answers alone:

- the roles x permissions table of the roles page, its rows from what every
  role may do to what one role alone may do, ties in the order the policy
  declares them;
- where a person's permission comes from: the roles the policy grants it to
  directly (a role that has it only through a role it includes is not one), and
  which of those the person's role includes ("Given to every Billing manager;
  an Owner is also a Billing manager.");
- what a role change gains and loses.

Load a different policy and all three follow (tests/test_explain.py does). The
sentences are in the plain words of portal/policy_words.toml (``Words``); the
codes stay in the data (``Permission.code``, the model's tuples) for JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from portal.authz.policy import PortalOso, RoleGrant
from portal.authz.words import Term, Words, joined
from portal.domain.models import ROLE_NAMES, Organization


@dataclass(frozen=True)
class Permission:
    """One permission a role holds, and where it comes from."""

    code: str  # the policy's name: "READ_BILLING"
    role: str  # the role that holds it
    granted_to: tuple[str, ...]  # the roles the policy grants it to directly
    through: str | None  # the granted role the holder's role includes, if not itself
    words: Words = field(repr=False, compare=False)

    @property
    def term(self) -> Term:
        """The permission in plain words (its name and description)."""
        return self.words.permission(self.code)

    @property
    def name(self) -> str:
        """The permission's name: "See the billing details"."""
        return self.term.name

    @property
    def reason(self) -> str:
        """Where it comes from, in words: "Given to every Billing manager; an
        Owner is also a Billing manager."."""
        granted = f"Given to every {self.words.role_names(self.granted_to)}"
        if self.through is None:
            return f"{granted}."
        role, through = self.words.role(self.role), self.words.role(self.through)
        return f"{granted}; {role.a_name} is also {through.a_name}."

    def __str__(self) -> str:
        """The permission and its reason: "See the billing details: Given to ..."."""
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class AccessModel:
    """The organization roles and what the loaded policy grants each of them."""

    roles: tuple[str, ...]  # strongest first (ROLE_NAMES' order)
    permissions: tuple[str, ...]  # most widely granted first, then as declared
    grants: dict[str, RoleGrant]
    words: Words = field(repr=False, compare=False)

    def allows(self, role: str | None, permission: str) -> bool:
        """Whether a holder of role has permission (no role: nothing)."""
        return role is not None and permission in self.grants[role].actions

    def permissions_of(self, role: str | None) -> tuple[str, ...]:
        """role's permissions, in the table's order."""
        return tuple(name for name in self.permissions if self.allows(role, name))

    def granted_to(self, permission: str) -> tuple[str, ...]:
        """The roles the policy grants permission to directly: those that hold it
        and include no other role that holds it."""
        holders = [role for role in self.roles if self.allows(role, permission)]
        return tuple(
            role
            for role in holders
            if not any(
                other != role and other in self.grants[role].includes
                for other in holders
            )
        )

    def explain(self, role: str) -> list[Permission]:
        """Each permission of role with where it comes from."""
        explained = []
        for name in self.permissions_of(role):
            direct = self.granted_to(name)
            through = None
            if role not in direct:
                through = next(
                    granted
                    for granted in direct
                    if granted in self.grants[role].includes
                )
            explained.append(Permission(name, role, direct, through, self.words))
        return explained

    def why(self, role: str, permission: str) -> str:
        """Where role's permission comes from, as one sentence."""
        for explained in self.explain(role):
            if explained.code == permission:
                return explained.reason
        raise ValueError(f"{role} does not have {permission}")

    def also(self, role: str) -> str | None:
        """What else a holder of role is, as a sentence ("An Owner is also a
        Member and a Billing manager."), or None if role includes no other."""
        included = self.includes(role)
        if not included:
            return None
        a_name = self.words.role(role).a_name
        others = joined([self.words.role(other).a_name for other in included])
        return f"{a_name[:1].upper()}{a_name[1:]} is also {others}."

    def includes(self, role: str) -> tuple[str, ...]:
        """The other roles role includes, in the table's order."""
        return tuple(
            other
            for other in self.roles
            if other != role and other in self.grants[role].includes
        )

    def change(
        self, old: str | None, new: str | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(gained, lost): the permissions a move from role old to role new adds
        and takes away (None: no role)."""
        before, after = set(self.permissions_of(old)), set(self.permissions_of(new))
        return (
            tuple(name for name in self.permissions if name in after - before),
            tuple(name for name in self.permissions if name in before - after),
        )


def access_model(
    oso: PortalOso, organization: Organization, words: Words
) -> AccessModel:
    """What the loaded policy grants each organization role in organization,
    said in words."""
    grants = oso.role_grants(ROLE_NAMES, organization)
    return AccessModel(
        roles=ROLE_NAMES,
        permissions=_ordered(grants.values(), words),
        grants=grants,
        words=words,
    )


def _ordered(grants: Iterable[RoleGrant], words: Words) -> tuple[str, ...]:
    """Every permission some role holds, the most widely held first (READ, which
    every role has, leads; what only owners do comes last), ties in the order the
    policy declares them (what to see before what to change), never by the
    alphabet of the codes."""
    held: dict[str, int] = {}
    for grant in grants:
        for action in grant.actions:
            held[action] = held.get(action, 0) + 1
    return tuple(
        sorted(held, key=lambda name: (-held[name], words.declared(name), name))
    )
