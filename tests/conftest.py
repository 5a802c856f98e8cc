"""Fixtures shared by every test folder: a real SQLite database file and a way to
run the real `scheduler` command line.

`scheduler_run` runs the command line as `python -m scheduler` would, and by
default in this process: a new interpreter costs 1.5 to 2 s of CPU on a 2-core
machine (the imports of SQLAlchemy, SQLModel and pydantic), which made CLI
starts most of the suite's time. In this process it runs through the same
`run` that `main` calls, with the environment, working folder, standard streams
and logging that a new process would have, all put back afterwards. What only
a new process shows (colour forced on, another time zone, shell completion, a
command run inside an event loop) still gets one, and `TEST_CLI_IN_PROCESSES=1`
runs every command in its own process, as the suite did before.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Variables read once, when a process starts (Rich's colour, the C library's
#: time zone, Typer's completion): a command that sets one gets its own process.
_PROCESS_ONLY = ("FORCE_COLOR", "TZ", "_SCHEDULER_COMPLETE", "PYTHONIOENCODING")
#: Loggers whose level the daemon sets (`output.configure_logging`).
_LOGGERS = ("httpx", "httpcore", "apscheduler")


def scheduler_run(
    args: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes | None = None,
    timeout: float = 120,
    process: bool = False,
) -> tuple[int, bytes, bytes]:
    """`python -m scheduler ARGS` in `cwd` with exactly the environment `env`:
    (exit code, stdout, stderr)."""
    if process or _needs_process(env):
        proc = subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=dict(env),
            timeout=timeout,
        )
        return proc.returncode, proc.stdout, proc.stderr
    return _in_process(args, cwd, env, stdin)


def _needs_process(env: Mapping[str, str]) -> bool:
    if os.environ.get("TEST_CLI_IN_PROCESSES") == "1":
        return True
    if any(env.get(k) != os.environ.get(k) for k in _PROCESS_ONLY):
        return True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True  # `asyncio.run` inside a running loop fails; a process does not care


def _sized_as_new(env: Mapping[str, str]) -> list[tuple[object, tuple[int | None, int | None]]]:
    """Give the CLI's Rich consoles the size a new process would read from
    COLUMNS and LINES (Rich reads them when a console is made, at import, and
    pytest-xdist's workers have 80 x 24); returns what to put back."""
    from scheduler.output import console, err_console

    def number(name: str) -> int | None:
        value = env.get(name, "")
        return int(value) if value.isdigit() else None

    saved = []
    for c in (console, err_console):
        saved.append((c, (c._width, c._height)))
        c.width, c.height = number("COLUMNS"), number("LINES")  # type: ignore[assignment]
    return saved


def _in_process(
    args: list[str], cwd: Path, env: Mapping[str, str], stdin: bytes | None
) -> tuple[int, bytes, bytes]:
    from scheduler.cli import app
    from scheduler.cli.common import run
    from scheduler.storage import database

    # A process that exits closes its database connections (on SQLite the
    # last close moves the WAL into the file, which a test may then copy):
    # every engine the command makes is disposed of when it returns.
    engines: list[Any] = []
    make_engine = database.make_engine

    def recorded_engine(*a: Any, **kw: Any) -> Any:
        engines.append(make_engine(*a, **kw))
        return engines[-1]

    database.make_engine = recorded_engine  # type: ignore[assignment]
    out, err = io.BytesIO(), io.BytesIO()
    streams = sys.stdin, sys.stdout, sys.stderr
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_root = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    # What a new process has: no handler, so `logging.lastResort` prints
    # warnings and worse, the bare message, on stderr.
    last_resort = logging.StreamHandler(sys.stderr)
    last_resort.setLevel(logging.WARNING)
    root.handlers[:] = [last_resort]
    root.setLevel(logging.WARNING)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    consoles = _sized_as_new(env)
    try:
        code = run(app, list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except Exception:
        # What the interpreter does with an uncaught exception.
        traceback.print_exc(file=sys.stderr)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Read before the wrappers go: dropping one closes the buffer under it.
        captured = out.getvalue(), err.getvalue()
        sys.stdin, sys.stdout, sys.stderr = streams
        root.handlers[:] = saved_root[0]
        root.setLevel(saved_root[1])
        for name, value in saved_levels.items():
            logging.getLogger(name).setLevel(value)
        database.make_engine = make_engine  # type: ignore[assignment]
        for engine in engines:
            engine.dispose()
        for console, size in consoles:
            console.width, console.height = size
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        # `scheduler daemon` freezes what start-up made, as a process would
        # once; here the "start-up" is every test so far, given back to the
        # collector so that their cycles are still freed.
        gc.unfreeze()
    return code, *captured


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.stdout)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Callable[..., Result]:
    """Run `python -m scheduler ARGS` in a temp folder against the test database
    (in this process unless `process=True`: see `scheduler_run`)."""

    def run(
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        process: bool = False,
    ) -> Result:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
        environ.update({"SCHEDULER_DB": db_url, "NO_COLOR": "1", "COLUMNS": "200"})
        environ.update(env or {})
        data = input.encode() if isinstance(input, str) else input
        code, out, err = scheduler_run(
            list(args), cwd=tmp_path, env=environ, stdin=data, timeout=timeout, process=process
        )
        return Result(code, out.decode(), err.decode())

    return run


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database that `scheduler init` made, once a session; tests take
    a copy (an `init` is about 2 s of CPU, and the suite needs one per test
    otherwise). `scheduler init` itself is tested where it is the subject."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--db", f"sqlite:///{path}", "init"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def ready_cli(cli: Callable[..., Result], db_url: str, migrated: Path) -> Callable[..., Result]:
    """The CLI on a database that `scheduler init` has prepared."""
    shutil.copyfile(migrated, db_url.removeprefix("sqlite:///"))
    return cli
