"""The benchmark scripts still run (a smoke test: no timings are asserted)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.routes import pages

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"
LOGIN_BURST = BENCH.with_name("login_burst.py")


def test_bench_run_quick_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: `make bench` takes minutes; the quick mode runs every measurement
    # (pages and controls, many rows, gunicorn + wrk) on tiny data, no budgets.
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    assert spec is not None and spec.loader is not None, BENCH
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert module.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "quick run: no budgets checked" in out, out
    for size in ("demo", "scale"):
        table = out.split(f"## Pages at {size} size")[1].split("##")[0]
        assert all(f"\n{page.path} " in table for page in pages()), table
    assert "control HTML differs" not in out and "no control" not in out
    assert "decision, user with many roles vs one" in out


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
