"""The README's roles x permissions table, made from the policy.

    .venv/bin/python scripts/permission_table.py           # print it
    .venv/bin/python scripts/permission_table.py --write   # put it in README.md

The table is what ``portal.authz.explain.access_model`` answers for the loaded
policy (the same answers as the roles page's "What each role can do"), so the
README cannot claim a permission the policy does not grant: tests/test_readme.py
fails while README.md's table differs from this one. Only the one-line
descriptions are written here; a permission without one is an error, so a new
permission in the policy gets described before the README can pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.authz.explain import AccessModel, access_model
from portal.authz.policy import PortalOso, build_oso
from portal.domain.models import Organization

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
POLICY = ROOT / "portal" / "policy.polar"
BEGIN = (
    "<!-- permission table: made from portal/policy.polar by"
    " scripts/permission_table.py; tests/test_readme.py checks it -->"
)
END = "<!-- end of permission table -->"

#: What each permission on an organization lets a person do, for readers.
DESCRIPTIONS = {
    "READ": "see the organization, open its overview",
    "LIST_REPOS": "see its repositories",
    "LIST_ROLES": "see its members and their roles",
    "READ_BILLING": "see the billing address",
    "CREATE_ROLE": "give someone a role",
    "UPDATE_ROLE": "change someone's role",
    "DELETE_ROLE": "take someone's role away",
    "READ_AUDIT": "read the audit log",
}


class UndescribedPermission(ValueError):
    """The policy has a permission DESCRIPTIONS does not describe."""


def render(model: AccessModel) -> str:
    """The table (Markdown) and which role includes which, between the markers."""
    lines = [
        BEGIN,
        "",
        "| on an organization | " + " | ".join(model.roles) + " |",
        "|---" * (len(model.roles) + 1) + "|",
    ]
    for permission in model.permissions:
        if permission not in DESCRIPTIONS:
            raise UndescribedPermission(
                f"{permission} is in the policy but not described: add it to"
                f" DESCRIPTIONS in {Path(__file__).name}"
            )
        cells = [
            "yes" if model.allows(role, permission) else "" for role in model.roles
        ]
        lines.append(
            f"| `{permission}`: {DESCRIPTIONS[permission]} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    for role in model.roles:
        included = model.includes(role)
        if included:
            lines.append(f"{role} includes {' and '.join(included)}.")
    lines += ["", END]
    return "\n".join(lines)


def table(oso: PortalOso) -> str:
    """The table for the policy oso has loaded."""
    # A transient organization: the policy reads none of it (as at start-up).
    return render(access_model(oso, Organization()))


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
