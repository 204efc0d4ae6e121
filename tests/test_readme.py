"""The README tells the truth: its permission table is the loaded policy's, and
every picture it shows is one `make screenshots` takes."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask

from portal.authz import get_oso
from portal.authz.policy import PortalOso, build_oso
from portal.authz.words import load_words

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


def test_readme_permission_table_speaks_the_products_words(
    app: Flask, tmp_path: Path
) -> None:
    # why: the table said only READ_BILLING where every page says "See the
    # billing details"; it reads the words the pages read, beside the codes
    words = (ROOT / "portal" / "policy_words.toml").read_text()
    renamed = tmp_path / "policy_words.toml"
    renamed.write_text(words.replace('"Billing manager"', '"Treasurer"'))
    table = permission_table.table(get_oso(app), load_words(renamed))
    assert "| Treasurer (`BILLING`) |" in table.splitlines()[2]
    assert "| `READ_BILLING`: See the billing details | yes |  | yes |" in table
    assert "An Owner is also a Member and a Treasurer." in table


def test_readme_permission_table_refuses_an_undescribed_permission(
    tmp_path: Path,
) -> None:
    # An owners-only EXPORT: the README may not list it without saying what it is.
    declared = _changed('"DELETE"\n  ];', '"DELETE",\n    "EXPORT"\n  ];')
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


# --- commands people copy -------------------------------------------------------

# Tools that live in the virtual environment: run as `flask ...`, they fail (or run
# another installation's) unless the environment is active.
VENV_TOOLS = {"flask", "python", "python3", "pip", "pytest", "gunicorn", "alembic"}
OPERATORS = {"|", "||", "&&", ";", "&", "<", ">", ">>"}
REFUSED_AS_SHOWN = "list-roles 2024 --name"  # the README says it is refused


def _section(title: str) -> str:
    """The text of the README's section `## title`, up to the next one."""
    assert f"\n## {title}\n" in README, f"README.md lost its {title} section"
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _command_lines(text: str) -> list[str]:
    """The commands of text's ```sh blocks: continued lines joined, comments and
    blank lines dropped."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


def _programs(command: str) -> list[tuple[str, bool]]:
    """Each program command runs, and whether its output is piped on."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    programs: list[tuple[str, bool]] = []
    expect_program = True
    for token in lexer:
        if token in OPERATORS:
            if token == "|" and programs:
                programs[-1] = (programs[-1][0], True)
            expect_program = token not in {"<", ">", ">>"}
        elif expect_program and not re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", token):
            programs.append((token, False))
            expect_program = False
    return programs


def test_readme_programs_are_read_the_way_a_shell_reads_them() -> None:
    # why: the checks below are only as good as this reading of a command line
    assert _programs("PORT=8000 make run") == [("make", False)]
    piped = "printf '%s\\n' \"$PW\" | .venv/bin/flask --app portal create-user a@b.c"
    assert _programs(piped) == [("printf", True), (".venv/bin/flask", False)]
    assert _programs("nginx -t && systemctl reload nginx") == [
        ("nginx", False),
        ("systemctl", False),
    ]
    assert _command_lines("```sh\nflask a \\\n  b  # c\n\n# d\n```\n") == ["flask a b"]


def test_readme_command_line_runs_as_written_from_a_fresh_clone() -> None:
    # why: the section said `flask --app portal ...`, which fails with "command
    # not found" (or runs another Flask) unless .venv is activated first
    commands = _command_lines(_section("Command line"))
    assert len(commands) >= 8
    assert commands[0] == "make migrate", "a fresh clone has no .venv yet"
    for command in commands:
        for program, piped in _programs(command):
            ours = program.startswith(".venv/bin/") or program == "make"
            assert ours or (program == "printf" and piped), command
    assert not re.search(r"(?<![/\w])flask --app", _section("Command line"))


def test_readme_runs_no_tool_from_outside_the_virtualenv() -> None:
    for command in _command_lines(README):
        for program, _piped in _programs(command):
            assert program not in VENV_TOOLS, f"use .venv/bin/{program}: {command}"
    for title in ("Command line", "Migrations", "Demo logins"):
        assert not re.search(r"`(flask|python3?|pip|pytest) ", _section(title)), title


def test_readme_make_migrate_makes_the_venv_then_upgrades() -> None:
    # why: the section's first line stands for what `make migrate` does on a
    # fresh clone; the test below runs its last step
    dry_run = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-B",
            "migrate",
            "VENV=.venv",
            "PYTHON=python3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert any("-m venv .venv" in line for line in dry_run), dry_run
    assert dry_run[-1] == ".venv/bin/flask --app portal db upgrade"


def test_readme_command_line_lines_succeed_on_a_new_database(tmp_path: Path) -> None:
    if not (ROOT / ".venv" / "bin" / "flask").exists():
        pytest.skip("no .venv in the checkout (make test makes it)")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
        "SECRET_KEY": "readme-secret-key",
        "PW": "a passphrase for the README",
    }
    commands = _command_lines(_section("Command line"))
    # make migrate's last step (above): .venv is there already.
    commands[0] = ".venv/bin/flask --app portal db upgrade"
    printed = {}
    for command in commands:
        run = subprocess.run(  # our own README's commands, in a temporary database
            ["/bin/bash", "-c", command],
            cwd=ROOT,
            env=env,
            input=f"{env['PW']}\n{env['PW']}\n",  # create-user asks twice
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if REFUSED_AS_SHOWN in command:
            assert run.returncode == 1, run
            assert run.stderr.startswith("Error: "), run.stderr
        else:
            assert run.returncode == 0, (command, run.stderr)
        printed[command] = run.stdout
    listed = printed[".venv/bin/flask --app portal list-roles 1"]
    assert "john@beatles.com" in listed and "ann@example.com" not in listed
    assert "The Beatles" in printed[".venv/bin/flask --app portal list-orgs"]
