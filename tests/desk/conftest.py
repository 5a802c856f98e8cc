"""Fixtures for the desk tests: the real `scheduler` command line (in this
process, through the same `run` that `main` uses, or in a subprocess where a
terminal or the daemon is involved) on real SQLite files.

The article is ours: a fictional sprinter and her coach.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The suite's root conftest (tests/ is on sys.path, as pytest puts it there).
from conftest import scheduler_run

ARTICLE = """Lena Brandt Wins in the Rain

Lena Brandt, the Hamburg sprinter, won the city mile on Saturday in heavy rain.

"I run better when the weather is against me," Brandt said after the race. "Rain keeps the crowd honest and the track quiet."

Her coach, Jonas Feld, praised her patience. "She waited until the last bend, which is the hardest thing to learn," Feld said.

Feld was asked about the wet track. "Nobody in the field slipped, and that says a lot about them," Feld said.

Brandt will defend her title on 14 June 2027.
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.out)


class Desk:
    """`scheduler ARGS` against one database, in this process or in a subprocess."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.url, self.cwd = url, cwd

    def __call__(self, *args: str, ok: bool = True, stdin: str = "") -> Ran:
        """In this process (`scheduler_run`), in the environment the test set."""
        environ = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        code, out, err = scheduler_run(
            ["--db", self.url, *args], cwd=self.cwd, env=environ, stdin=stdin.encode()
        )
        ran = Ran(code, out.decode(), err.decode())
        if ok:
            assert code == 0, (args, ran.err)
        return ran

    def fail(self, *args: str) -> str:
        """Run a command that must be refused: exit 1, one line on stderr, no traceback."""
        ran = self(*args, ok=False)
        assert ran.code == 1, (args, ran)
        lines = ran.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), ran.err
        return lines[0]

    def process(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Ran:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
        environ.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", **(env or {})})
        code, out, err = scheduler_run(
            ["--db", self.url, *args],
            cwd=self.cwd,
            env=environ,
            stdin=stdin.encode(),
            timeout=60,
            process=True,
        )
        return Ran(code, out.decode(), err.decode())

    def posts(self, status: str | None = None) -> list[dict]:  # type: ignore[type-arg]
        args = ["queue", "list", "--json", "--limit", "1000"]
        rows = self(*args).json()["posts"]
        return [r for r in rows if status is None or r["status"] == status]

    def setup(self, *channel_args: str, name: str = "club") -> list[dict]:  # type: ignore[type-arg]
        """Ingest the article, add an outbox channel, plan; the planned rows."""
        (self.cwd / "art.txt").write_text(ARTICLE, encoding="utf-8")
        self("ingest", "art.txt", "--published", "2026-11-20")
        self(
            "channels", "add", name, "--platform", "outbox",
            "-o", f"path={self.cwd / 'out.jsonl'}",
            "--timezone", "Europe/Berlin", "--slots", "mon-sun 09:00,18:00",
            *channel_args,
        )  # fmt: skip
        return self("plan", "latest", "-c", name, "--json").json()["created"]


@pytest.fixture
def desk(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    migrated: Path,
) -> Iterator[Desk]:
    for key in [k for k in os.environ if k.startswith("SCHEDULER_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # scheduler.toml is read from here
    shutil.copyfile(migrated, tmp_path / "desk.db")
    yield Desk(f"sqlite:///{tmp_path / 'desk.db'}", tmp_path)


@pytest.fixture
def editor(tmp_path: Path) -> Callable[[str, str], dict[str, str]]:
    """An $EDITOR (a real program) that replaces OLD by NEW in the file it is given."""

    def make(old: str, new: str) -> dict[str, str]:
        script = tmp_path / "ed.py"
        script.write_text(
            "import pathlib, sys\n"
            "p = pathlib.Path(sys.argv[1])\n"
            f"p.write_text(p.read_text(encoding='utf-8').replace({old!r}, {new!r}), "
            "encoding='utf-8')\n",
            encoding="utf-8",
        )
        return {"EDITOR": f'"{sys.executable}" "{script}"', "VISUAL": ""}

    return make
