"""The `feeds` commands through the real CLI: a one-line error, JSON output,
a poll against a local server, the listing. (Each run of the CLI is a new
process; the rest of the behaviour is tested in-process next door.)"""

from __future__ import annotations

from .conftest import ARTICLES
from .server import rss


def test_feeds_commands(ready_cli, served) -> None:  # type: ignore[no-untyped-def]
    cli = ready_cli
    assert cli("channels", "add", "club", "--platform", "outbox").code == 0
    served.put("/a1", ARTICLES["a1"])
    served.put("/feed", rss([("g1", served.url("/a1"), "one"), ("g2", served.url("/nope"), "x")]))

    bad = cli("feeds", "add", served.url("/feed"), "--channel", "ghost")
    assert (
        bad.code == 1 and bad.stderr.count("\n") == 1 and "no channel named 'ghost'" in bad.stderr
    )
    added = cli(
        "feeds",
        "add",
        served.url("/feed"),
        "-c",
        "club",
        "--every",
        "30m",
        "--allow-private",
        "--json",
    )
    assert added.code == 0, added.stderr
    feed_id = added.json()["id"]
    assert added.json()["every_seconds"] == 1800

    polled = cli("feeds", "poll", str(feed_id), "--json")
    assert polled.code == 0, polled.stderr
    (row,) = polled.json()
    assert (row["status"], row["new_entries"], row["articles"]) == (200, 2, 1)
    assert row["posts"] >= 1 and len(row["entry_errors"]) == 1

    text = cli("feeds", "list")
    assert text.code == 0 and "/feed" in text.stdout and "1 failed" in text.stdout
    assert "entries not ingested" in text.stdout
