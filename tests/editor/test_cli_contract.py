"""The CLI contract for the editor commands: `--json` prints only JSON, errors are
one line, completion works, the help is there, and 0001 databases migrate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import ARTICLE, Cli, add_outbox


def test_json_everywhere(cli, seeded, tmp_path: Path) -> None:
    add_outbox(cli, "club")
    quote = str(seeded["quotes"][0])
    commands = [
        ("init",),
        ("quotes", "list"),
        ("quotes", "tag", quote, "--category", "grit"),
        ("milestones", "list"),
        ("channels", "list"),
        ("channels", "evergreen", "club", "--category", "grit", "--every", "fri 08:00"),
        ("channels", "calendar", "club", "--countdown", "3"),
        ("channels", "pause", "club"),
        ("channels", "resume", "club"),
        ("plan", str(seeded["article"]), "-c", "club"),
        ("plan", "--recurring", "--until", "+14d"),
        ("queue", "list"),
        ("queue", "show", "1"),
        ("queue", "move", "1", "--at", "+3d"),
        ("queue", "cancel", "1"),
        ("queue", "retry", "1"),
        ("preview",),
        ("preview", "1", "--html", str(tmp_path / "one.html")),
        ("explain", "1"),
        ("simulate", "--until", "+7d"),
    ]
    for args in commands:
        proc = cli.run(*args, "--json")
        try:
            json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(f"{args}: not JSON: {proc.stdout[:200]!r}") from exc
        assert proc.stderr == "", (args, proc.stderr)
    assert (tmp_path / "one.html").exists()


def test_errors_are_one_line(cli, seeded) -> None:
    add_outbox(cli, "club")
    bad = [
        ("plan",),
        ("plan", "1", "--recurring"),
        ("plan", "--recurring", "--until", "whenever"),
        ("plan", "1", "-c", "club", "--expires-after", "soon"),
        ("quotes", "tag", "999", "--category", "x"),
        ("quotes", "tag", "1"),
        ("channels", "calendar", "nowhere"),
        ("channels", "calendar", "club", "--countdown", "a,b"),
        ("channels", "calendar", "club", "--at", "25:00"),
        ("channels", "calendar", "club", "--throwback", "someday"),
        ("explain", "abc"),
        ("preview", "--html", "/no/such/folder/page.html"),
        ("queue", "import", "nothing-here.csv"),
    ]
    for args in bad:
        proc = cli.run(*args, ok=False)
        assert proc.returncode != 0, args
        assert proc.stdout == "", (args, proc.stdout)
        assert len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_help_lists_the_commands_and_completion_is_available(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("preview", "simulate", "explain", "plan", "queue", "--install-completion"):
        assert name in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler", "queue", "--help"], capture_output=True, text=True
    )
    assert "import" in proc.stdout
    # The bash script itself, asked for by name: `--show-completion` guesses the
    # shell from the parent processes, which under a test runner may be none.
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler"],
        capture_output=True,
        text=True,
        env=os.environ | {"_SCHEDULER_COMPLETE": "source_bash"},
    )
    assert "_scheduler_completion" in proc.stdout


def test_channel_names_complete_from_the_database(cli, seeded) -> None:
    add_outbox(cli, "club")
    add_outbox(cli, "clubhouse")
    add_outbox(cli, "other")
    proc = subprocess.run(
        [sys.executable, "-m", "scheduler"],
        env={
            "_SCHEDULER_COMPLETE": "complete_bash",
            "COMP_WORDS": f"scheduler --db {cli.url} channels pause clu",
            "COMP_CWORD": "5",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
    )
    assert proc.stdout.split() == ["club", "clubhouse"]


def test_ingest_folder_prints_only_json(cli, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    for i in range(3):
        (folder / f"a{i}.txt").write_text(f"Report number {i}.\n\n{ARTICLE}", encoding="utf-8")
    out = cli.json("ingest", str(folder))
    assert [r["created"] for r in out] == [True, True, True]


def test_a_0001_database_migrates(tmp_path: Path) -> None:
    from alembic import command

    from scheduler.storage import database, migrations

    c = Cli(tmp_path / "old.db", tmp_path)
    engine = database.make_engine(c.url)
    cfg = migrations.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    head = migrations.head_revision(engine)
    engine.dispose()
    proc = c.run("init")
    assert head != "0001"
    assert f"migrated (revision {head})" in proc.stdout
    add_outbox(c, "club")
    c.run("queue", "add", "club", "Still here after the upgrade.", "--at", "+1d")
    (post,) = c.json("preview")
    assert post["expires_at"] is None and post["expired"] is False
