"""`scheduler queue import`: all or nothing, one line per failure, no duplicates."""

from __future__ import annotations

from pathlib import Path

from .conftest import add_outbox


def test_good_file_imports_every_row(cli, seeded, tmp_path: Path) -> None:
    add_outbox(cli, "club", tz="America/Winnipeg")
    path = tmp_path / "posts.csv"
    path.write_text(
        "\ufeffChannel,Text,At,Link,Expires\n"
        'club,"Line one\nline two, with a comma",2030-06-01T09:00,https://example.org/a,+1d\n'
        "club,Plain post,2030-06-02 10:30,,\n",
        encoding="utf-8",
    )
    out = cli.json("queue", "import", str(path))
    assert [p["text"] for p in out["created"]] == ["Line one\nline two, with a comma", "Plain post"]
    first, second = out["created"]
    assert first["due_local"] == "2030-06-01 09:00 CDT"
    assert first["expires_at"] == "2030-06-02T14:00:00+00:00"
    assert second["due_at"] == "2030-06-02T15:30:00+00:00"
    assert out["duplicate_lines"] == []
    # The same file again: every row is already queued, nothing doubles.
    again = cli.json("queue", "import", str(path))
    assert again["created"] == []
    assert again["duplicate_lines"] == [2, 4]  # where each row starts (row one spans two)
    assert len(cli.json("queue", "list")["posts"]) == 2


def test_a_row_cancelled_by_hand_is_not_imported_again_unless_asked(
    cli, seeded, tmp_path: Path
) -> None:
    add_outbox(cli, "club")
    path = tmp_path / "posts.csv"
    path.write_text(
        "channel,text,at\nclub,Keep me,2030-06-01T09:00\nclub,Not this one,2030-06-02T09:00\n",
        encoding="utf-8",
    )
    first = cli.json("queue", "import", str(path))
    dropped = next(p["id"] for p in first["created"] if p["text"] == "Not this one")
    cli.run("queue", "cancel", str(dropped))
    again = cli.json("queue", "import", str(path))
    assert again["created"] == [] and again["duplicate_lines"] == [2]
    assert again["removed_lines"] == [3]
    said = cli.run("queue", "import", str(path))
    assert "lines 3 cancelled or rejected by hand, skipped (--again imports them)" in said.stdout
    # Asked for: the row comes back as a new post; the cancelled one stays cancelled.
    forced = cli.json("queue", "import", str(path), "--again")
    assert [p["text"] for p in forced["created"]] == ["Not this one"]
    assert [p["text"] for p in cli.json("queue", "list", "--status", "queued")["posts"]] == [
        "Keep me",
        "Not this one",
    ]
    assert [p["id"] for p in cli.json("queue", "list", "--status", "cancelled")["posts"]] == [
        dropped
    ]


def test_bad_rows_import_nothing_and_say_which(cli, seeded, tmp_path: Path) -> None:
    add_outbox(cli, "club")
    path = tmp_path / "bad.csv"
    path.write_text(
        "channel,text,at\n"
        "club,Fine post,2030-06-01T09:00\n"
        "nowhere,Wrong channel,2030-06-01T09:00\n"
        "club,,2030-06-01T09:00\n"
        "club,Bad time,next tuesday-ish\n",
        encoding="utf-8",
    )
    proc = cli.run("queue", "import", str(path), ok=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: 3 bad row(s) in bad.csv, nothing imported")
    assert "line 3: no channel named 'nowhere'" in line
    assert "line 4: empty text" in line
    assert "line 5: bad date 'next tuesday-ish'" in line
    assert cli.json("queue", "list")["posts"] == []


def test_bad_files_are_one_line(cli, seeded, tmp_path: Path) -> None:
    add_outbox(cli, "club")
    cases = {
        "missing.csv": None,
        "header.csv": "who,what\nclub,hello\n",
        "empty.csv": "",
        "latin1.csv": "channel,text,at\nclub,caf\xe9,now\n".encode("latin-1"),
        "extra.csv": "channel,text,at\nclub,hello,now,surplus\n",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content, encoding="utf-8")
        proc = cli.run("queue", "import", str(path), ok=False)
        assert proc.returncode == 1, name
        assert len(proc.stderr.strip().splitlines()) == 1, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert cli.json("queue", "list")["posts"] == []
