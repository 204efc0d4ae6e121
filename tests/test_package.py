"""Portal is an installable package whose imports all sit at module top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _function_level_imports(path: Path) -> list[int]:
    """Line numbers of import statements inside functions or classes."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            lines.extend(
                inner.lineno
                for inner in ast.walk(node)
                if isinstance(inner, ast.Import | ast.ImportFrom)
            )
    return lines


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "portal").rglob("*.py"), ROOT / "seed.py"]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_package_imports_are_at_module_top(path: Path) -> None:
    # why: a function-level import is how the old import cycle was dodged
    assert _function_level_imports(path) == []


def test_package_imports_cleanly_in_a_fresh_interpreter() -> None:
    code = "import portal, portal.cli, portal.demo, seed; print(portal.create_app)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_package_wheel_builds_and_serves_from_its_install(tmp_path: Path) -> None:
    # why: a production image installs the wheel; templates, CSS, the policy and
    # the migrations must travel with it, and nothing may depend on the source tree
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, ROOT],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("portal-*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "-t", site, wheel],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    code = (
        "import portal, sys;"
        "assert portal.__file__.startswith(sys.argv[1]), portal.__file__;"
        "app = portal.create_app({'SECRET_KEY': 'k', 'HTTPS': False,"
        " 'DATABASE_URL': 'sqlite://'});"
        "page = app.test_client().get('/login');"
        "assert page.status_code == 200 and b'Log in to Portal' in page.data;"
        "css = app.test_client().get('/static/portal.css');"
        "assert css.status_code == 200; css.close();"
        # The migrations ship too: an installed copy can create its schema.
        "up = app.test_cli_runner().invoke(args=['db', 'upgrade']);"
        "assert up.exit_code == 0 and 'Database at revision' in up.output, up.output"
    )
    served = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=tmp_path,  # not the source tree: only the installed copy is importable
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert served.returncode == 0, served.stderr
