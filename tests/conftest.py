"""Fixtures shared by every test folder: a real SQLite database file and a way to
run the real `scheduler` command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


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
    """Run `python -m scheduler ARGS` in a temp folder against the test database."""

    def run(
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
        environ.update({"SCHEDULER_DB": db_url, "NO_COLOR": "1", "COLUMNS": "200"})
        environ.update(env or {})
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            cwd=tmp_path,
            input=data,
            capture_output=True,
            env=environ,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

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
