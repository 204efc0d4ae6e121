"""The README's roles x permissions table, made from the policy.

    .venv/bin/python scripts/permission_table.py           # print it
    .venv/bin/python scripts/permission_table.py --write   # put it in README.md

The table is what ``portal.authz.explain.access_model`` answers for the loaded
policy (the same answers as the roles page's "What each role can do"), so the
README cannot claim a permission the policy does not grant: tests/test_readme.py
fails while README.md's table differs from this one. The names are the product's
own (portal/policy_words.toml, beside the policy); a permission without words is
an error, so a new permission in the policy gets named before the README can pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.authz.explain import AccessModel, access_model
from portal.authz.policy import PortalOso, build_oso
from portal.authz.repository_explain import (
    BASE_VALUES,
    REPOSITORY,
    RepositoryAccess,
    learn_repository_access,
)
from portal.authz.words import ORGANIZATION, Words, load_words
from portal.domain.models import ROLE_NAMES, Organization

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
POLICY = ROOT / "portal" / "policy.polar"
WORDS = ROOT / "portal" / "policy_words.toml"
BEGIN = (
    "<!-- permission table: made from portal/policy.polar by"
    " scripts/permission_table.py; tests/test_readme.py checks it -->"
)
END = "<!-- end of permission table -->"


class UndescribedPermission(ValueError):
    """The policy has a permission portal/policy_words.toml does not name."""


def render(model: AccessModel, repositories: RepositoryAccess) -> str:
    """The tables (Markdown) and which role includes which, between the markers:
    each role and permission by its code and its name; then the repository
    roles' table, and the repository role each organization role gives under
    each base repository role."""
    said = model.words
    lines = [
        BEGIN,
        "",
        "| on an organization | "
        + " | ".join(f"{said.role(role).name} (`{role}`)" for role in model.roles)
        + " |",
        "|---" * (len(model.roles) + 1) + "|",
    ]
    for permission in model.permissions:
        if permission not in said.permissions[ORGANIZATION]:
            raise UndescribedPermission(
                f"{permission} is in the policy but has no words: add them to"
                f" {WORDS.relative_to(ROOT)}"
            )
        cells = [
            "yes" if model.allows(role, permission) else "" for role in model.roles
        ]
        lines.append(
            f"| `{permission}`: {said.permission(permission).name} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    for role in model.roles:
        also = model.also(role)
        if also:
            lines.append(also)
    lines += ["", *_repository_lines(repositories), "", END]
    return "\n".join(lines)


def _repository_lines(access: RepositoryAccess) -> list[str]:
    """The repository roles x permissions, then what each organization role
    gives on every repository of its organization, by base repository role."""
    said = access.words
    roles = list(reversed(access.roles))  # weakest first, as the page's table
    lines = [
        "| on a repository | "
        + " | ".join(f"{said.role(r, REPOSITORY).name} (`{r}`)" for r in roles)
        + " |",
        "|---" * (len(roles) + 1) + "|",
    ]
    for permission in access.permissions:
        if permission not in said.permissions.get(REPOSITORY, {}):
            raise UndescribedPermission(
                f"{permission} is in the policy but has no words: add them to"
                f" {WORDS.relative_to(ROOT)}"
            )
        cells = ["yes" if access.allows(r, permission) else "" for r in roles]
        name = said.permission(permission, REPOSITORY).name
        lines.append(f"| `{permission}`: {name} | " + " | ".join(cells) + " |")
    lines.append("")
    for role in access.roles:
        also = access.also(role)
        if also:
            lines.append(also)
    # Weakest first, as the settings page offers them.
    values = [None, *reversed([b for b in BASE_VALUES if b is not None])]
    bases = [
        "No access" if b is None else said.role(b, REPOSITORY).name for b in values
    ]
    lines += [
        "",
        "| on every repository, by the organization's base repository role | "
        + " | ".join(bases)
        + " |",
        "|---" * (len(bases) + 1) + "|",
    ]
    for org_role in ROLE_NAMES:
        cells = []
        for base in values:
            strongest = access.strongest(access.given[(org_role, base)])
            cells.append(
                "" if strongest is None else said.role(strongest, REPOSITORY).name
            )
        lines.append(
            f"| {said.role(org_role).a_name} (`{org_role}`) is | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def table(oso: PortalOso, words: Words | None = None) -> str:
    """The table for the policy oso has loaded, in words (portal/policy_words.toml
    unless given)."""
    # A transient organization: the policy reads none of it (as at start-up).
    said = words or load_words(WORDS)
    grants = oso.role_grants(ROLE_NAMES, Organization())
    return render(
        access_model(oso, Organization(), said),
        learn_repository_access(oso, grants, said),
    )


def in_readme(text: str) -> str:
    """The table in text, markers included; ValueError if there is none."""
    start = text.index(BEGIN)
    end = text.index(END, start) + len(END)
    return text[start:end]


def main(argv: list[str] | None = None) -> int:
    """Print the table for portal/policy.polar, or write it into README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="replace the table in README.md"
    )
    args = parser.parse_args(argv)
    current = table(build_oso(POLICY, cache_size=0))
    if not args.write:
        print(current)
        return 0
    text = README.read_text()
    README.write_text(text.replace(in_readme(text), current))
    print(f"{README.name}: permission table written.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
