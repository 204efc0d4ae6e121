"""Blueprints are peers: none imports another (what two share lives in a shared
or domain module); they commit only through db.transaction."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from flask import Flask


def _imported_modules(path: Path) -> set[str]:
    """The portal modules path imports, by dotted name (``from portal import x``
    counts as portal.x)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("portal")}


def test_blueprints_never_import_each_other(app: Flask) -> None:
    modules = {bp.import_name for bp in app.blueprints.values()}
    for module in modules:
        source = importlib.import_module(module).__file__
        assert source is not None
        others = _imported_modules(Path(source)) & (modules - {module})
        assert not others, f"{module} imports the blueprint(s) {sorted(others)}"


def _commit_calls(path: Path) -> list[int]:
    """Lines of path that call .commit() on anything."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_blueprints_and_web_commit_only_through_the_transaction_helper(
    app: Flask,
) -> None:
    # why: the login path committed in mid-request by hand; one helper
    # (portal.infra.db.transaction) commits or rolls back every change, so a change
    # and what is recorded with it land together or not at all
    modules = {bp.import_name for bp in app.blueprints.values()}
    paths = [Path(str(importlib.import_module(m).__file__)) for m in modules]
    paths += sorted((Path(__file__).parents[1] / "portal" / "web").glob("*.py"))
    calls = {str(path): lines for path in paths if (lines := _commit_calls(path))}
    assert calls == {}
