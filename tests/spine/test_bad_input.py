"""Bad input gets one clear line on stderr, a non-zero exit, and changes nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

# The suite's root conftest (tests/ is on sys.path, as pytest puts it there).
from conftest import scheduler_run

ARTICLE = 'Ines Okafor Wins Again\n\n"I train for the hard days," Okafor said.\nIn 2020, Okafor won gold.\n'


def _db_digest(db_url: str) -> str:
    import sqlite3

    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = []
        for table in ("articles", "quotes", "milestones", "channels", "posts", "attempts"):
            rows.append(repr(conn.execute(f"select * from {table} order by id").fetchall()))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _assert_one_line_error(result, *words: str) -> None:
    assert result.code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> Path:
    """One seeded database for the module; each test works on its own copy."""
    folder = tmp_path_factory.mktemp("seed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env["SCHEDULER_DB"] = f"sqlite:///{folder / 'seed.db'}"
    (folder / "a.txt").write_text(ARTICLE, encoding="utf-8")
    for args in (
        ["init"],
        ["ingest", "a.txt"],
        ["channels", "add", "box", "--platform", "outbox"],
        ["queue", "add", "box", "kept", "--at", "+1d"],
    ):
        code, _out, err = scheduler_run(args, cwd=folder, env=env)
        assert code == 0, (args, err.decode())
    return folder / "seed.db"


@pytest.fixture
def seeded(cli, db_url, seeded_db, tmp_path: Path):
    shutil.copy(seeded_db, db_url.removeprefix("sqlite:///"))
    shutil.copy(seeded_db.parent / "a.txt", tmp_path / "a.txt")
    return cli


CASES = [
    (("queue", "add", "nope", "hi", "--at", "now"), ["no channel named 'nope'"]),
    (("queue", "add", "box", "hi", "--at", "next tuesday-ish"), ["bad date"]),
    (("queue", "add", "box", "hi", "--at", "2026-13-45T09:00"), ["bad date"]),
    (("queue", "add", "box", "   ", "--at", "now"), ["needs some text"]),
    (("queue", "move", "999", "--at", "now"), ["no post with id 999"]),
    (("queue", "cancel", "999"), ["no post with id 999"]),
    (("plan", "1", "--channel", "nope"), ["no channel named"]),
    (("plan", "42", "--channel", "box"), ["no article with id 42"]),
    (("plan", "1", "--channel", "box", "--kinds", "gossip"), ["unknown kind"]),
    (("plan", "1", "--channel", "box", "--template", "quote=missing"), ["no template named"]),
    (("channels", "add", "x", "--platform", "myspace"), ["unknown platform"]),
    (("channels", "add", "box", "--platform", "outbox"), ["already exists"]),
    (("channels", "add", "y", "--platform", "outbox", "--timezone", "Mars/Olympus"), ["time zone"]),
    (("channels", "add", "y", "--platform", "outbox", "--slots", "someday 25:00"), ["bad"]),
    (("channels", "add", "y", "--platform", "webhook", "-o", "url=ftp://x"), ["url"]),
    (("channels", "add", "y", "--platform", "webhook", "-o", "nourl"), ["key=value"]),
    (("channels", "test", "nope"), ["no channel named"]),
    (("ingest", "missing.txt"), ["no such file"]),
    (("queue", "list", "--status", "lost"), ["unknown status"]),
    (("queue", "list", "--after", "yesterday"), ["bad cursor"]),
    (("preview", "999"), ["no post with id 999"]),
    (("simulate", "--until", "soon"), ["bad date"]),
    (("queue", "add", "box", "hi", "--at", "+999999999d"), ["bad date", "9000"]),
    (("queue", "add", "box", "hi", "--at", "+999999999999d"), ["bad date", "9000"]),
    (("queue", "add", "box", "hi", "--at", "9999-12-31T23:59:59-14:00"), ["bad date"]),
    (("queue", "add", "box", "hi", "--at", "2026-02-30"), ["February 2026 has 28 days"]),
    (("simulate", "--until", "+999999999d"), ["bad date"]),
    (("queue", "show", "9223372036854775808"), ["no post with id 9223372036854775808"]),
    (("queue", "cancel", "--", "-9223372036854775809"), ["no post with id"]),
    (("queue", "add", "box[red]", "hi", "--at", "+1d"), ["no channel named 'box[red]'"]),
    (("ingest", "notes[final].txt"), ["notes[final].txt"]),
    (
        ("channels", "add", "y", "--platform", "outbox", "--timezone", "europe/paris"),
        ["did you mean Europe/Paris"],
    ),
    (
        (
            "channels",
            "add",
            "y",
            "--platform",
            "webhook",
            "-o",
            "url=https://x.org/" + "a" * 100_000,
        ),
        ["url"],
    ),
    (("--templates", "nodir", "plan", "1", "--channel", "box"), ["no templates folder at nodir"]),
]


@pytest.mark.parametrize(("args", "words"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(seeded, db_url, args, words):
    before = _db_digest(db_url)
    result = seeded(*args)
    _assert_one_line_error(result, *words)
    assert _db_digest(db_url) == before


def test_empty_and_binary_articles(seeded, db_url, tmp_path):
    before = _db_digest(db_url)
    (tmp_path / "empty.txt").write_text("   \n\n", encoding="utf-8")
    (tmp_path / "blob.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    _assert_one_line_error(seeded("ingest", "empty.txt"), "empty")
    _assert_one_line_error(seeded("ingest", "blob.txt"))
    _assert_one_line_error(seeded("ingest", "-", input=b""), "empty")
    assert _db_digest(db_url) == before


def test_broken_template_names_file_and_line(seeded, db_url, tmp_path):
    folder = tmp_path / "mytemplates"
    folder.mkdir()
    (folder / "quote.j2").write_text("{{ quote.text }}\n{{ quote.speakr }}\n", encoding="utf-8")
    (folder / "milestone.j2").write_text("{% if %}\n", encoding="utf-8")
    (folder / "link.j2").write_text("{{ ''.__class__.__mro__ }}\n", encoding="utf-8")
    before = _db_digest(db_url)
    undefined = seeded(
        "--templates", str(folder), "plan", "1", "--channel", "box", "--kinds", "quote"
    )
    _assert_one_line_error(undefined, "quote.j2", "line 2", "speakr")
    syntax = seeded(
        "--templates", str(folder), "plan", "1", "--channel", "box", "--kinds", "milestone"
    )
    _assert_one_line_error(syntax, "milestone.j2", "line 1")
    hostile = seeded("--templates", str(folder), "plan", "1", "--channel", "box", "--kinds", "link")
    _assert_one_line_error(hostile, "link.j2")
    assert _db_digest(db_url) == before


def test_uninitialised_database_is_named_and_not_created(cli, tmp_path):
    result = cli("queue", "list")
    _assert_one_line_error(result, "scheduler init")
    assert not (tmp_path / "test.db").exists()


def test_unknown_command_and_option(cli):
    _assert_one_line_error(cli("queue", "explode"))
    _assert_one_line_error(cli("queue", "list", "--colour"))


def test_secret_value_instead_of_variable_name_is_refused(ready_cli):
    result = ready_cli(
        "channels",
        "add",
        "w",
        "--platform",
        "webhook",
        "-o",
        "url=http://127.0.0.1:1/x",
        "--secret-env",
        "whsec_abc/def+ghi==",
    )
    _assert_one_line_error(result, "NAME of an environment variable")
    assert "abc/def" not in result.stderr


def test_ids_past_64_bits_in_listings_are_no_rows(seeded, db_url):
    before = _db_digest(db_url)
    result = seeded("milestones", "list", "--article", "-9223372036854775809", "--json")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert _db_digest(db_url) == before


@pytest.mark.parametrize("command", [("init",), ("queue", "list")])
def test_a_file_that_is_not_a_database(cli, tmp_path, command):
    (tmp_path / "notes.db").write_text("these are my notes, not a database\n", encoding="utf-8")
    result = cli("--db", "sqlite:///notes.db", *command)
    _assert_one_line_error(result, "file is not a database")
    assert (tmp_path / "notes.db").read_text(encoding="utf-8").startswith("these are my notes")


def test_a_folder_with_bad_files_reports_each_and_ingests_the_rest(seeded, db_url, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a_empty.txt").write_text("  \n", encoding="utf-8")
    (folder / "b_good.txt").write_text(
        'Rowers Win\n\n"We rowed as one," Maya Obi said.\n', encoding="utf-8"
    )
    (folder / "c_blob.txt").write_bytes(b"\x00\x01\x02\xff" * 64)
    result = seeded("ingest", "news")
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error:") for line in lines), result.stderr
    assert "a_empty.txt" in lines[0] and "c_blob.txt" in lines[1]
    assert "b_good.txt" in result.stdout
    as_json = seeded("ingest", "news", "--json")
    assert as_json.code == 1
    assert '"error"' in as_json.stdout and '"article_id"' in as_json.stdout


def test_published_on_a_stored_article_updates_it(seeded, tmp_path):
    result = seeded("ingest", "a.txt", "--published", "2019-06-01")
    assert result.code == 0, result.stderr
    assert "date and milestones updated" in " ".join(result.stdout.split())
    listing = seeded("milestones", "list", "--json")
    assert '"tense": "planned"' in listing.stdout  # 2020 is after the new date


def test_a_time_in_the_past_is_queued_with_a_warning(seeded):
    result = seeded("queue", "add", "box", "late", "--at", "2020-01-01T09:00")
    assert result.code == 0
    assert result.stderr.startswith("warning: post") and "ago" in result.stderr


def test_queue_import_from_stdin_takes_any_line_endings_and_refuses_bad_utf8(seeded, db_url):
    ok = seeded("queue", "import", "-", input=b"channel,text,at\rbox,hello,+1d\r")
    assert ok.code == 0, ok.stderr
    assert "1 posts imported" in ok.stdout
    before = _db_digest(db_url)
    bad = seeded("queue", "import", "-", input=b"channel,text,at\nbox,h\xffllo,+1d\n")
    _assert_one_line_error(bad, "not UTF-8")
    assert _db_digest(db_url) == before


def test_a_nul_in_post_text_is_refused_on_every_database(seeded, db_url):
    before = _db_digest(db_url)
    result = seeded("queue", "import", "-", input=b"channel,text,at\nbox,a\x00b,+1d\n")
    _assert_one_line_error(result, "NUL")
    assert _db_digest(db_url) == before
