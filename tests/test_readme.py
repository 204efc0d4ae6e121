"""The README tells the truth: its permission table is the loaded policy's, and
every picture it shows is one `make screenshots` takes."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask

from portal.authz import get_oso
from portal.authz.policy import PortalOso, build_oso

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
POLICY = (ROOT / "portal" / "policy.polar").read_text()
PICTURE_RE = re.compile(r"!\[[^\]]*\]\((docs/screenshots/[^)\s]+\.png)\)")


def _script(name: str) -> ModuleType:
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


permission_table = _script("permission_table")


def _oso(tmp_path: Path, policy: str) -> PortalOso:
    """An Oso with policy loaded instead of portal/policy.polar."""
    path = tmp_path / "policy.polar"
    path.write_text(policy)
    return build_oso(path, cache_size=0)


def _changed(old: str, new: str) -> str:
    """The policy with one line replaced (the line must be there)."""
    assert old in POLICY, old
    return POLICY.replace(old, new)


def test_readme_permission_table_is_the_loaded_policys(app: Flask) -> None:
    oso = get_oso(app)
    assert permission_table.in_readme(README) == permission_table.table(oso), (
        "README.md's permission table is stale: run"
        " `.venv/bin/python scripts/permission_table.py --write`"
    )


def test_readme_permission_table_follows_a_changed_policy(tmp_path: Path) -> None:
    # why: the check above is only worth something if the table is read from the
    # policy; a billing contact who may also list repositories changes a cell.
    changed = _changed('"LIST_REPOS" if "MEMBER";', '"LIST_REPOS" if "BILLING";')
    table = permission_table.table(_oso(tmp_path, changed))
    assert "| `LIST_REPOS`: See the repositories | yes |  | yes |" in table
    assert table != permission_table.in_readme(README)


def test_readme_permission_table_refuses_an_undescribed_permission(
    tmp_path: Path,
) -> None:
    # An owners-only EXPORT: the README may not list it without saying what it is.
    declared = _changed('"READ_AUDIT"\n  ];', '"READ_AUDIT",\n    "EXPORT"\n  ];')
    granted = declared.replace(
        '"READ_AUDIT" if "OWNER";', '"READ_AUDIT" if "OWNER";\n  "EXPORT" if "OWNER";'
    )
    with pytest.raises(permission_table.UndescribedPermission, match="EXPORT"):
        permission_table.table(_oso(tmp_path, granted))


def test_readme_shows_every_screenshot_and_only_those() -> None:
    shown = PICTURE_RE.findall(README)
    taken = [f"docs/screenshots/{name}.png" for name in _script("screenshots").SHOTS]
    assert sorted(set(shown)) == sorted(taken)
    for path in shown:
        assert (ROOT / path).is_file(), f"{path} is not committed: make screenshots"


# --- the Layout section -----------------------------------------------------

LAYOUT_ENTRY = re.compile(r"^(?P<indent> {0,2})(?P<path>[\w./-]+)(?:\s{2,}|$)")


def _layout_paths() -> set[str]:
    """The files and folders the README's Layout block names, as paths from the
    root: a line at the left margin names a path, a line indented by two names
    a file of the folder above it; deeper lines continue a description."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    paths: set[str] = set()
    folder = ""
    for line in block.splitlines():
        match = LAYOUT_ENTRY.match(line)
        if match is None or not line.strip():
            continue
        path = match["path"]
        if match["indent"]:
            paths.add(folder + path)
        else:
            paths.add(path)
            folder = path if path.endswith("/") else ""
    return paths


def test_readme_layout_names_every_module_and_only_what_exists() -> None:
    # why: the Layout drifted from the tree once (three modules under the wrong
    # heading); it is now checked against the tree both ways
    named = _layout_paths()
    missing = [path for path in named if not (ROOT / path).exists()]
    assert not missing, f"the README's Layout names what is not there: {missing}"
    modules = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "portal").rglob("*.py")
        if "migrations" not in path.parts
    }
    # A package's __init__.py is named by its folder's line.
    unnamed = sorted(
        module
        for module in modules - named
        if not (
            module.endswith("/__init__.py") and module[: -len("__init__.py")] in named
        )
    )
    assert not unnamed, f"modules missing from the README's Layout: {unnamed}"
