"""The benchmark scripts still run (a smoke test: no timings are asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.routes import pages

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pages.py"


def test_bench_pages_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_pages", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--requests", "3", "--repos", "2"])
    out = capsys.readouterr().out
    assert "/orgs/1/repos" in out and "oso q" in out
    assert all(f"\n{page.path} " in out for page in pages()), out
