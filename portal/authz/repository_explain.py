"""Repository access explained from the loaded policy: who holds which
repository role, through what, in words.

Nothing here states a rule. ``learn_repository_access`` asks the policy, once at
start-up (``portal.authz.init_app``), two things about transient objects, so
that no request pays an Oso query for them:

- what each repository role grants (``PortalOso.role_grants``: its actions and
  the repository roles it includes);
- for each value of an organization's base repository role (none or one of the
  repository roles) and each organization role, the repository roles the
  policy gives its holder on a repository of that organization
  (``has_role(RoleHolder(org_role, "Organization"), name, Repository(...))``),
  and what each organization role lets its holder do on the repository
  without any repository role (seeing who has access, say: ``org_actions``).

``RepositoryAccess`` derives from these answers alone, for a person with an
organization role (or none), an organization's base role and a direct grant
(or none): their repository roles, the strongest, the reasons in words, and
what a change of the direct grant gains and loses. Which organization roles
bring a role whatever the base role is, and which one the base role comes
through (the organization roles whose answer changes with it), are read from
the answers too; load another policy and they follow
(tests/test_repository_access.py does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from oso import Oso, Variable

from portal.authz.actors import RoleHolder
from portal.authz.cache import LruCache
from portal.authz.policy import PortalOso, RoleGrant
from portal.authz.recording import recording_reads
from portal.authz.words import Term, Words, joined
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    Organization,
    Repository,
)

REPOSITORY = "Repository"

# The values an organization's base repository role may take (None: none).
BASE_VALUES: tuple[str | None, ...] = (None, *REPOSITORY_ROLE_NAMES)


@dataclass(frozen=True)
class Reason:
    """One way a person holds a repository role: the role, and why in words."""

    role: str  # the repository role it brings (the strongest it brings)
    kind: str  # "organization", "base" or "direct"
    text: str  # "Admin: every Owner of The Beatles is an Admin on its repositories"

    def __str__(self) -> str:
        """The reason as a page says it."""
        return self.text


@dataclass(frozen=True)
class PersonAccess:
    """One person's repository roles on one repository, and why."""

    roles: frozenset[str]  # every repository role they hold (included ones too)
    role: str | None  # the strongest (None: no role, no access)
    reasons: tuple[Reason, ...]  # the strongest role first
    # What they may do: their roles' permissions and their organization role's.
    actions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RepositoryAccess:
    """What the loaded policy grants through repository roles, learned once."""

    roles: tuple[str, ...]  # strongest first (REPOSITORY_ROLE_NAMES' order)
    permissions: tuple[str, ...]  # most widely granted first, then as declared
    grants: dict[str, RoleGrant]  # repository role -> what it grants
    organization_grants: dict[str, RoleGrant]  # organization role -> ... (includes)
    # (organization role, base role) -> the repository roles the policy gives
    given: dict[tuple[str, str | None], frozenset[str]]
    # organization role -> what it allows on a repository of an organization
    # with no base role (its fixed roles' permissions, and those the policy
    # grants "on "parent"" to no role: seeing who has access)
    org_actions: dict[str, frozenset[str]]
    words: Words = field(repr=False, compare=False)

    # --- the roles x permissions table ------------------------------------------

    def allows(self, role: str | None, permission: str) -> bool:
        """Whether a holder of repository role has permission (None: nothing)."""
        return role is not None and permission in self.grants[role].actions

    def permissions_of(self, role: str | None) -> tuple[str, ...]:
        """role's permissions, in the table's order."""
        return tuple(p for p in self.permissions if self.allows(role, p))

    def also(self, role: str) -> str | None:
        """ "An Admin is also a Writer and a Reader.", or None."""
        included = [
            other
            for other in self.roles
            if other != role and other in self.grants[role].includes
        ]
        if not included:
            return None
        a_name = self._role(role).a_name
        others = [self._role(other).a_name for other in included]
        return f"{a_name[:1].upper()}{a_name[1:]} is also {joined(others)}."

    # --- what the organization gives ---------------------------------------------

    def fixed(self, org_role: str) -> frozenset[str]:
        """The repository roles org_role brings whatever the base role is."""
        answers = [self.given[(org_role, base)] for base in BASE_VALUES]
        return frozenset.intersection(*answers)

    def base_through(self) -> tuple[str, ...]:
        """The organization roles the base role comes through: those whose answer
        changes with it, less those that include another such role (an Owner
        also gets it, as a Member)."""
        varying = [
            role
            for role in ROLE_NAMES
            if len({self.given[(role, base)] for base in BASE_VALUES}) > 1
        ]
        return tuple(
            role
            for role in varying
            if not any(
                other != role and other in self.organization_grants[role].includes
                for other in varying
            )
        )

    def giving_org_roles(self, base: str | None) -> tuple[str, ...]:
        """The organization roles that bring some repository role under base (a
        person holding another one has access only if granted it directly)."""
        return tuple(role for role in ROLE_NAMES if self.given[(role, base)])

    # --- one person --------------------------------------------------------------

    def person(
        self,
        org_role: str | None,
        base: str | None,
        direct: str | None,
        organization_name: str,
    ) -> PersonAccess:
        """The repository roles of someone holding org_role (None: none) in an
        organization whose base role is base, granted direct (None: nothing) on
        the repository; with the reasons, strongest first."""
        held: set[str] = set()
        reasons: list[Reason] = []
        actions: set[str] = set()
        if org_role is not None:
            actions |= self.org_actions[org_role]
            held |= self.given[(org_role, base)]
            reasons += self._organization_reasons(org_role, organization_name)
            reasons += self._base_reasons(org_role, base, organization_name)
        if direct is not None:
            held |= self.grants[direct].includes
            reasons.append(
                Reason(
                    direct,
                    "direct",
                    f"{self._role(direct).name}: granted on this repository directly",
                )
            )
        reasons.sort(key=lambda reason: self._rank(reason.role))
        for role in held:
            actions |= self.grants[role].actions
        return PersonAccess(
            frozenset(held), self.strongest(held), tuple(reasons), frozenset(actions)
        )

    def strongest(self, held: Iterable[str]) -> str | None:
        """The held role that includes every other held one (ties: the first in
        the roles' order), or None for none."""
        held = set(held)
        for role in self.roles:
            if role in held and held <= self.grants[role].includes:
                return role
        return next((role for role in self.roles if role in held), None)

    def change(
        self, before: PersonAccess, after: PersonAccess
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(gained, lost): the permissions a change from before to after adds and
        takes away."""
        old, new = before.actions, after.actions
        return (
            tuple(p for p in self.permissions if p in new - old),
            tuple(p for p in self.permissions if p in old - new),
        )

    # --- wording -----------------------------------------------------------------

    def _organization_reasons(
        self, org_role: str, organization_name: str
    ) -> list[Reason]:
        """Why org_role brings its fixed repository roles: the strongest each
        organization role that grants them brings, through the one org_role
        includes."""
        mine = self.fixed(org_role)
        if not mine:
            return []
        reasons = []
        for role in self._maximal(mine):
            granted = [
                holder
                for holder in ROLE_NAMES
                if role in self.fixed(holder)
                and holder in self.organization_grants[org_role].includes
            ]
            # The granted role that includes no other that also grants it.
            through = next(
                holder
                for holder in granted
                if not any(
                    other != holder
                    and other in self.organization_grants[holder].includes
                    for other in granted
                )
            )
            said = self._org_role(through)
            text = (
                f"{self._role(role).name}: every {said.name} of {organization_name}"
                f" is {self._role(role).a_name} on its repositories"
            )
            if through != org_role:
                text += f" ({self._also(org_role, through)})"
            reasons.append(Reason(role, "organization", text))
        return reasons

    def _base_reasons(
        self, org_role: str, base: str | None, organization_name: str
    ) -> list[Reason]:
        """Why the base role brings org_role's holder a repository role: through
        the organization role it comes through that org_role includes."""
        if base is None:
            return []
        for through in self.base_through():
            if through not in self.organization_grants[org_role].includes:
                continue
            brought = self.given[(through, base)] - self.fixed(through)
            if not brought:
                continue
            role = self.strongest(brought)
            assert role is not None
            text = (
                f"{self._role(role).name}: the base role of {organization_name},"
                f" which every {self._org_role(through).name} gets"
            )
            if through != org_role:
                text += f" ({self._also(org_role, through)})"
            return [Reason(role, "base", text)]
        return []

    def _also(self, role: str, through: str) -> str:
        """ "an Owner is also a Member" (organization roles)."""
        return f"{self._org_role(role).a_name} is also {self._org_role(through).a_name}"

    def _maximal(self, held: frozenset[str]) -> list[str]:
        """The held roles no other held role includes, strongest first."""
        return [
            role
            for role in self.roles
            if role in held
            and not any(
                other != role and role in self.grants[other].includes for other in held
            )
        ]

    def _rank(self, role: str) -> int:
        """Where role stands among the roles, strongest first."""
        return self.roles.index(role)

    def _role(self, code: str) -> Term:
        """A repository role's words."""
        return self.words.role(code, REPOSITORY)

    def _org_role(self, code: str) -> Term:
        """An organization role's words."""
        return self.words.role(code)


def learn_repository_access(
    oso: PortalOso, organization_grants: dict[str, RoleGrant], words: Words
) -> RepositoryAccess:
    """Ask the loaded policy what repository roles grant and what each
    organization role gives under each base role (see the module's docstring).
    Call it at start-up: its queries are no request's."""
    grants = oso.role_grants(REPOSITORY_ROLE_NAMES, Repository())
    given, org_actions = _given(oso)
    return RepositoryAccess(
        roles=REPOSITORY_ROLE_NAMES,
        permissions=_ordered(grants.values(), words),
        grants=grants,
        organization_grants=organization_grants,
        given=given,
        org_actions=org_actions,
        words=words,
    )


# What loaded policies give each organization role under each base role, shared
# by every app of the process under the policy's identity (PortalOso._policy, as
# role_grants' answers are): an app made again (each test's) asks nothing.
_GIVEN = LruCache(16)


Given = dict[tuple[str, str | None], frozenset[str]]


def _given(oso: PortalOso) -> tuple[Given, dict[str, frozenset[str]]]:
    """The repository roles the policy gives each organization role under each
    base role, and what each organization role allows on a repository of an
    organization with no base role: fifteen policy queries, once per loaded
    policy and process."""
    policy = oso._policy
    cached = _GIVEN.get(policy) if policy is not None else None
    if cached is not None:
        return dict(cached[0]), dict(cached[1])
    given: Given = {}
    org_actions: dict[str, frozenset[str]] = {}
    with recording_reads():  # answers a transient repository's organization
        for base in BASE_VALUES:
            repository = Repository(
                organization=Organization(base_repository_role=base)
            )
            for org_role in ROLE_NAMES:
                # Polar.query_rule: untyped (see "Untyped oso" in policy.py).
                results = oso.query_rule(  # type: ignore[no-untyped-call, unused-ignore]
                    "has_role",
                    RoleHolder(org_role, "Organization"),
                    Variable("name"),
                    repository,
                )
                given[(org_role, base)] = frozenset(
                    r["bindings"]["name"] for r in results
                )
                if base is None:
                    # Oso.authorized_actions: no request's memo (start-up).
                    org_actions[org_role] = frozenset(
                        Oso.authorized_actions(
                            oso, RoleHolder(org_role, "Organization"), repository
                        )
                    )
    if policy is not None:
        _GIVEN.put(policy, (given, org_actions))
    return given, org_actions


def _ordered(grants: Iterable[RoleGrant], words: Words) -> tuple[str, ...]:
    """Every permission some repository role holds, the most widely held first,
    ties in the order the policy declares them."""
    held: dict[str, int] = {}
    for grant in grants:
        for action in grant.actions:
            held[action] = held.get(action, 0) + 1
    return tuple(
        sorted(
            held,
            key=lambda name: (-held[name], words.declared(name, REPOSITORY), name),
        )
    )
