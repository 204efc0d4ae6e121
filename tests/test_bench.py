"""The benchmark scripts still run (a smoke test: no timings are asserted)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.routes import pages

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pages.py"
LOGIN_BURST = BENCH.with_name("login_burst.py")


def test_bench_pages_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_pages", BENCH)
    assert spec is not None and spec.loader is not None, BENCH
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--requests", "3", "--repos", "2"])
    out = capsys.readouterr().out
    assert "/orgs/1/repos" in out and "oso q" in out
    assert all(f"\n{page.path} " in out for page in pages()), out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_bench_login_burst_runs() -> None:
    # A process of its own: the script starts the server as another process.
    result = subprocess.run(
        [sys.executable, str(LOGIN_BURST), "--logins", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "peak (VmHWM)" in result.stdout
    assert "4 logins in" in result.stdout and "4 x 302" in result.stdout
