"""Blueprints are peers: none imports another (what two share lives in a shared
or domain module)."""

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
