"""Fixtures for the editor tests: the real CLI (in this process, or in a
subprocess where only one shows the behaviour: `scheduler_run`) on a real SQLite file.

Articles, quotes and milestones are written straight into the database so the
tests do not depend on what the extractor finds; everything else goes through
`python -m scheduler`. The sample text is ours (a fictional rower and her club).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The suite's root conftest (tests/ is on sys.path, as pytest puts it there).
from conftest import scheduler_run

ARTICLE = (
    "Mira Kovalenko rowed her first race on the Assiniboine at fourteen. "
    '"The river does not care how you feel in the morning," Kovalenko said. '
    "She won the national single sculls title on 29 February 2024 in a borrowed boat. "
    '"Borrowed boats are honest, they never flatter you," she added. '
    "Her club, the Red River Oars, was founded in 1998 by three retired firefighters. "
    '"Every stroke is a small promise you keep," Kovalenko said. '
    "She races at the world championships on 14 March 2027."
)


@dataclass
class Cli:
    db: Path
    cwd: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def run(
        self,
        *args: str,
        ok: bool = True,
        env: dict[str, str] | None = None,
        stdin: str = "",
        process: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """`scheduler --db URL ARGS` (in this process unless `process=True`:
        see `scheduler_run` in tests/conftest.py), its output read as text."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
        full_env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
        full_env.update(env or {})
        argv = ["--db", self.url, *args]
        code, out, err = scheduler_run(
            argv, cwd=self.cwd, env=full_env, stdin=stdin.encode(), process=process
        )
        proc = subprocess.CompletedProcess(argv, code, _text(out), _text(err))
        if ok and proc.returncode != 0:
            raise AssertionError(
                f"scheduler {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, **kw: Any) -> Any:
        proc = self.run(*args, "--json", **kw)
        return json.loads(proc.stdout)

    def session(self):  # type: ignore[no-untyped-def]

        from scheduler.storage import database

        return database.session_scope(database.make_engine(self.url))


def _text(data: bytes) -> str:
    # As `subprocess.run(text=True)` reads a pipe: UTF-8, universal newlines.
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


@pytest.fixture
def cli(tmp_path: Path, migrated: Path) -> Cli:
    """The CLI on a copy of the database `scheduler init` made (tests/conftest.py)."""
    c = Cli(tmp_path / "editor.db", tmp_path)
    shutil.copyfile(migrated, c.db)
    return c


@pytest.fixture
def seeded(cli: Cli) -> dict[str, Any]:
    """An article with three credited quotes (category `grit`) and four milestones:
    29 Feb 2024 (day, past), 1998 (year, past), 14 Mar 2027 (day, planned), and
    June 2019 (month, past)."""
    from scheduler.storage.models import Article, Milestone, Quote

    ids: dict[str, Any] = {}
    with cli.session() as session:
        article = Article(
            content_hash="editor-test-article",
            source="https://example.org/rowing/kovalenko",
            url="https://example.org/rowing/kovalenko",
            title="Mira Kovalenko keeps her promises",
            text=ARTICLE,
        )
        session.add(article)
        session.flush()
        quotes = []
        for words in (
            "The river does not care how you feel in the morning,",
            "Borrowed boats are honest, they never flatter you,",
            "Every stroke is a small promise you keep,",
        ):
            start = ARTICLE.index(words)
            quotes.append(
                Quote(
                    article_id=article.id,
                    text=words,
                    speaker="Mira Kovalenko",
                    cue="said",
                    start=start,
                    end=start + len(words),
                    category="grit",
                )
            )
        session.add_all(quotes)
        milestones = []
        for sentence, date, precision, tense in (
            (
                "She won the national single sculls title on 29 February 2024 in a borrowed boat.",
                dt.date(2024, 2, 29),
                "day",
                "past",
            ),
            (
                "Her club, the Red River Oars, was founded in 1998 by three retired firefighters.",
                dt.date(1998, 1, 1),
                "year",
                "past",
            ),
            (
                "She races at the world championships on 14 March 2027.",
                dt.date(2027, 3, 14),
                "day",
                "planned",
            ),
        ):
            start = ARTICLE.index(sentence)
            milestones.append(
                Milestone(
                    article_id=article.id,
                    text=sentence,
                    start=start,
                    end=start + len(sentence),
                    date=date,
                    precision=precision,
                    tense=tense,
                    person="Mira Kovalenko",
                )
            )
        session.add_all(milestones)
        session.flush()
        ids["article"] = article.id
        ids["quotes"] = [q.id for q in quotes]
        ids["milestones"] = [m.id for m in milestones]
    return ids


def add_outbox(
    cli: Cli, name: str = "club", tz: str = "America/Winnipeg", slots: str = "mon-sun 18:00"
) -> None:
    cli.run(
        "channels",
        "add",
        name,
        "--platform",
        "outbox",
        "-o",
        f"path={cli.cwd / (name + '.jsonl')}",
        "-o",
        "max_length=280",
        "--timezone",
        tz,
        "--slots",
        slots,
    )


def add_webhook(cli: Cli, name: str = "hook", tz: str = "Europe/Paris") -> None:
    cli.run(
        "channels",
        "add",
        name,
        "--platform",
        "webhook",
        "-o",
        "url=http://127.0.0.1:9/hooks",
        "--secret-env",
        "EDITOR_TEST_HOOK_SECRET",
        "--timezone",
        tz,
        "--slots",
        "mon-fri 09:00",
    )
