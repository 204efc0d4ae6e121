"""Portal is an installable package that imports cleanly.

That every import sits at module top is ruff's rule PLC0415 (make lint).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_imports_cleanly_in_a_fresh_interpreter() -> None:
    code = (
        "import portal, portal.cli, portal.domain.demo, seed; print(portal.create_app)"
    )
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
