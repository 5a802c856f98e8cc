"""Evergreen recycling: cadence, cooldown, never the same quote twice in a row."""

from __future__ import annotations

import datetime as dt
import itertools

from .conftest import add_outbox


def _plan(cli, channel: str, start: str, days: int) -> dict:
    return cli.json("plan", "--recurring", "-c", channel, "--start", start, "--until", f"+{days}d")


def test_recycles_least_recently_used_within_cooldown(cli, seeded) -> None:
    add_outbox(cli, "daily", tz="Europe/Berlin")
    cli.run(
        "channels",
        "evergreen",
        "daily",
        "--category",
        "grit",
        "--every",
        "mon-sun 12:00",
        "--cooldown",
        "2d",
    )
    out = _plan(cli, "daily", "2026-01-05T00:00Z", 9)
    posts = out["created"]
    assert len(posts) == 9
    assert all(p["due_local"].endswith("12:00 CET") for p in posts)
    sources = [p["source"] for p in posts]
    q1, q2, q3 = (f"quote:{i}" for i in seeded["quotes"])
    assert sources == [q1, q2, q3] * 3
    for p in posts:
        assert p["template"] == "evergreen"
        assert "Mira Kovalenko" in p["text"]
        assert "evergreen 'grit'" in p["reason"]
    # No quote twice within the cooldown, none twice in a row.
    seen: dict[str, dt.datetime] = {}
    for p in posts:
        due = dt.datetime.fromisoformat(p["due_at"])
        if p["source"] in seen:
            assert due - seen[p["source"]] >= dt.timedelta(days=2)
        seen[p["source"]] = due
    assert all(a != b for a, b in itertools.pairwise(sources))
    # Planning again over the same window adds nothing.
    assert _plan(cli, "daily", "2026-01-05T00:00Z", 9)["created"] == []


def test_cooldown_longer_than_the_category_leaves_slots_empty(cli, seeded) -> None:
    add_outbox(cli, "slow", tz="UTC")
    cli.run(
        "channels",
        "evergreen",
        "slow",
        "--category",
        "grit",
        "--every",
        "mon-sun 08:00",
        "--cooldown",
        "30d",
    )
    out = _plan(cli, "slow", "2026-03-01T00:00Z", 5)
    assert len(out["created"]) == 3  # three quotes, then the cooldown holds
    assert sum("cooldown" in n for n in out["notes"]) == 2


def test_a_single_quote_is_never_sent_twice_in_a_row(cli, seeded) -> None:
    add_outbox(cli, "solo", tz="UTC")
    cli.run("quotes", "tag", str(seeded["quotes"][2]), "--category", "promise")
    cli.run(
        "channels",
        "evergreen",
        "solo",
        "--category",
        "promise",
        "--every",
        "mon-sun 08:00",
        "--cooldown",
        "0d",
    )
    out = _plan(cli, "solo", "2026-03-01T00:00Z", 3)
    assert len(out["created"]) == 1
    assert any("neighbouring post" in n for n in out["notes"])
    # Another post in between makes the quote welcome again.
    cli.run("queue", "add", "solo", "Training camp starts today.", "--at", "2026-03-02T07:00")
    out = _plan(cli, "solo", "2026-03-01T00:00Z", 3)
    assert [p["due_at"] for p in out["created"]] == ["2026-03-02T08:00:00+00:00"]


def test_evergreen_settings_are_checked(cli, seeded) -> None:
    add_outbox(cli)
    bad = [
        ("--category", "grit"),  # no cadence
        ("--category", "grit", "--every", "someday 25:00"),
        ("--category", "grit", "--every", "wed 12:00", "--cooldown", "soon"),
        ("--category", "grit", "--every", "wed 12:00", "--template", "nope"),
    ]
    for args in bad:
        proc = cli.run("channels", "evergreen", "club", *args, ok=False)
        assert proc.returncode != 0, args
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
    cli.run("channels", "evergreen", "club", "--category", "grit", "--every", "wed 12:00")
    (channel,) = cli.json("channels", "list")
    assert channel["recurring"]["evergreen"][0]["category"] == "grit"
    cli.run("channels", "evergreen", "club", "--category", "grit", "--off")
    (channel,) = cli.json("channels", "list")
    assert channel["recurring"] is None
