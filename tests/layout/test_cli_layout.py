"""The CLI's layout holds: each module of scheduler/cli/ registers only the
commands of its own group, `scheduler --help` lists every group, and the
command modules import nothing heavy before a command runs."""

from __future__ import annotations

import ast
import inspect
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
import typer.main

from scheduler.cli import app

CLI = Path(__file__).resolve().parents[2] / "scheduler" / "cli"

# Which module owns each name `scheduler --help` lists.
OWNER = {
    "init": "database",
    "demo": "database",
    "ingest": "ingest",
    "quotes": "ingest",
    "milestones": "ingest",
    "channels": "channels",
    "plan": "plan",
    "queue": "queue",
    "preview": "previews",
    "simulate": "previews",
    "explain": "previews",
    "daemon": "daemon",
    "status": "daemon",
    "review": "review",
    "feeds": "feeds",
}
SHARED = {"__init__", "common"}
# Importable at the top of a command module without slowing `--help`.
LIGHT = {"__future__", "typer", "scheduler.cli.common", "scheduler.output"}
HEAVY = ("sqlalchemy", "sqlmodel", "apscheduler", "httpx", "jinja2", "trafilatura", "alembic")


def _leaves(command: Any, path: str) -> list[tuple[str, Any]]:
    # Typer ships its own copy of click: tell groups by their sub-commands.
    if hasattr(command, "commands"):
        return [
            leaf
            for name, sub in command.commands.items()
            for leaf in _leaves(sub, f"{path} {name}".strip())
        ]
    return [(path, command)]


def _modules_by_command() -> dict[str, str]:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    found = {}
    for path, command in _leaves(root, ""):
        assert command.callback is not None, path
        found[path] = inspect.unwrap(command.callback).__module__
    return found


def test_each_command_module_registers_only_its_group() -> None:
    found = _modules_by_command()
    wrong = {
        path: module
        for path, module in found.items()
        if module != f"scheduler.cli.{OWNER.get(path.split()[0], '?')}"
    }
    assert wrong == {}
    assert {p.split()[0] for p in found} == set(OWNER)


def test_every_command_module_owns_a_group() -> None:
    modules = {p.stem for p in CLI.glob("*.py")} - SHARED
    assert modules == set(OWNER.values())


def test_the_owner_check_catches_a_command_in_the_wrong_module() -> None:
    stray = typer.Typer()
    try:
        app.add_typer(stray, name="queue-stray")

        @stray.command("oops")
        def oops() -> None:
            """Registered here, in a test module, under a name no module owns."""

        found = _modules_by_command()
        assert found["queue-stray oops"] == __name__
    finally:
        app.registered_groups.pop()


def test_help_lists_every_group_and_command() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "scheduler", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = {
        line.split()[0]
        for line in shown.split("Commands:", 1)[1].splitlines()
        if line.startswith("  ") and line.split()
    }
    assert listed == set(OWNER)


def test_command_modules_import_nothing_heavy_at_module_level() -> None:
    heavy = {}
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                stdlib = name.split(".")[0] in sys.stdlib_module_names
                if (
                    not stdlib
                    and name not in LIGHT
                    and not (path.stem == "__init__" and name.startswith("scheduler.cli"))
                    and name not in {"scheduler", "scheduler.errors"}
                ):
                    heavy.setdefault(path.name, []).append(name)
    assert heavy == {}


def _loaded(argv: list[str], modules: Sequence[str]) -> list[str]:
    """Which of `modules` a fresh interpreter has imported once the CLI has run
    `argv` (and exited 0)."""
    code = (
        "import json, sys\n"
        "from scheduler.cli import main\n"
        f"try:\n    main({argv!r})\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(json.dumps(sorted(m for m in {list(modules)!r} if sys.modules.get(m))),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, (argv, done.stderr)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_help_loads_no_heavy_module() -> None:
    assert _loaded(["--help"], HEAVY) == []


def test_listings_load_neither_the_extraction_nor_the_planner(
    tmp_path: Path, migrated: Path
) -> None:
    # `quotes list` once imported trafilatura and every extraction rule, and
    # `queue list` the planner's templates and media (0.9 s and 0.2 s of start).
    shutil.copyfile(migrated, tmp_path / "lists.db")
    url = f"sqlite:///{tmp_path / 'lists.db'}"
    unwanted = ["trafilatura", "scheduler.ingest.extraction", "scheduler.planning.plan", "jinja2"]
    for command in (["quotes", "list"], ["milestones", "list"], ["queue", "list"]):
        assert _loaded(["--db", url, *command, "--json"], unwanted) == [], command


def test_the_daemon_loads_neither_httpx_command_line_nor_pygments(
    tmp_path: Path, migrated: Path
) -> None:
    # Every daemon start paid for httpx's own command line (click, Pygments,
    # Rich's progress and syntax) and for the previews' JSON highlighting:
    # about 50 ms of CPU at each start, for nothing it prints.
    shutil.copyfile(migrated, tmp_path / "daemon.db")
    url = f"sqlite:///{tmp_path / 'daemon.db'}"
    unwanted = ["httpx._main", "pygments", "rich.syntax"]
    assert _loaded(["--db", url, "daemon", "--once"], ["httpx", *unwanted]) == ["httpx"]
