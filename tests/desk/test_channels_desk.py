"""Channels edited in place and removed (kept for their history), what
`channels list` says about each, and the small queue gaps: `queue add
--next-slot`, and no retry of a post that expired."""

from __future__ import annotations

import sqlite3

from tests.desk.conftest import Desk


def _sql(desk: Desk, statement: str, *args: object) -> None:
    with sqlite3.connect(desk.url.removeprefix("sqlite:///")) as conn:
        conn.execute(statement, args)


def test_edit_changes_what_is_given_and_checks_it(desk: Desk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    desk.setup()
    done = desk(
        "channels", "edit", "club", "--slots", "tue 07:15", "--timezone", "Asia/Tokyo",
        "-o", "max_length=280", "--secret-env", "CLUB_TOKEN", "--review", "--json",
    ).json()  # fmt: skip
    assert (done["slots"], done["timezone"], done["secret_env"]) == (
        "tue 07:15", "Asia/Tokyo", "CLUB_TOKEN"
    )  # fmt: skip
    assert done["options"]["max_length"] == 280 and done["options"]["path"].endswith("out.jsonl")
    assert done["review"] is True
    assert "unknown time zone" in desk.fail("channels", "edit", "club", "--timezone", "Mars/Base")
    assert "bad time" in desk.fail("channels", "edit", "club", "--slots", "tue 25:00")
    assert "max_length" in desk.fail("channels", "edit", "club", "-o", "max_length=lots")
    assert "no channel named 'nope'" in desk.fail("channels", "edit", "nope", "--review")
    assert "nothing to change" in desk.fail("channels", "edit", "club")
    row = desk("channels", "list", "--json").json()[0]
    assert (row["slots"], row["timezone"]) == ("tue 07:15", "Asia/Tokyo")
    next_slot = desk("queue", "add", "club", "by hand", "--next-slot", "--json").json()
    assert next_slot["due_local"][11:16] == "07:15" and "JST" in next_slot["due_local"]


def test_remove_is_refused_while_posts_wait_and_keeps_history(desk: Desk) -> None:
    created = desk.setup()
    sent_id = created[0]["id"]
    _sql(desk, "update posts set status='sent', sent_at=due_at where id=?", sent_id)
    _sql(
        desk,
        "insert into attempts (post_id, owner, started_at, outcome) values (?, 'd', ?, 'sent')",
        sent_id,
        "2026-01-01 00:00:00",
    )
    line = desk.fail("channels", "remove", "club")
    assert f"{len(created) - 1} queued or draft" in line and "--cancel-posts" in line
    done = desk("channels", "remove", "club", "--cancel-posts", "--json").json()
    assert done["cancelled"] == len(created) - 1
    assert desk("channels", "list", "--json").json() == []
    assert desk("channels", "list", "--removed", "--json").json()[0]["removed_at"]
    shown = desk("queue", "show", str(sent_id), "--json").json()
    assert shown["status"] == "sent" and len(shown["attempts_detail"]) == 1
    assert "was removed" in desk.fail("plan", "latest", "-c", "club")
    assert "was removed" in desk.fail("queue", "add", "club", "x", "--at", "+1h")
    # The name is free again; the old channel keeps its posts under another name.
    desk("channels", "add", "club", "--platform", "outbox", "-o", "path=new.jsonl")
    assert desk("queue", "show", str(sent_id), "--json").json()["channel"].startswith("club~")
    assert len(desk("plan", "latest", "-c", "club", "--json").json()["created"]) == len(created)


def test_list_shows_last_sent_last_error_and_next_due(desk: Desk) -> None:
    created = desk.setup()
    first, second = created[0]["id"], created[1]["id"]
    _sql(desk, "update posts set status='sent', sent_at='2026-03-01 08:00:00' where id=?", first)
    _sql(
        desk,
        "insert into attempts (post_id, owner, started_at, outcome, error) "
        "values (?, 'd', '2026-03-02 08:00:00', 'retry', 'HTTP 503 from outbox')",
        second,
    )
    row = desk("channels", "list", "--json").json()[0]
    assert row["last_sent"]["id"] == first and row["last_sent"]["at_local"].startswith(
        "2026-03-01 09:00"
    )
    assert row["last_error"] == row["last_error"] | {"id": second, "error": "HTTP 503 from outbox"}
    assert row["next_due"]["id"] == second
    table = desk("channels", "list").out
    assert "HTTP 503" in table and f"(post {first})" in table


def test_next_slot_and_at_are_one_or_the_other(desk: Desk) -> None:
    created = desk.setup()
    taken = {p["due_at"] for p in created}
    added = desk("queue", "add", "club", "by hand", "--next-slot", "--json").json()
    assert added["due_at"] not in taken and added["due_at"] > min(taken)
    assert "one of them" in desk.fail("queue", "add", "club", "x")
    assert "one of them" in desk.fail("queue", "add", "club", "x", "--at", "+1h", "--next-slot")
    assert "no channel named 'other'" in desk.fail("queue", "add", "other", "x", "--next-slot")


def test_a_post_missed_because_it_expired_is_not_retried(desk: Desk) -> None:
    created = desk.setup()
    post_id = created[0]["id"]
    _sql(
        desk,
        "update posts set status='missed', expires_at='2026-01-01 00:00:00', "
        "last_error='expired: not sent before its expiry time' where id=?",
        post_id,
    )
    line = desk.fail("queue", "retry", str(post_id))
    assert "expired at 2026-01-01" in line and "queue add" in line
    assert desk("queue", "show", str(post_id), "--json").json()["status"] == "missed"
    # Missed for lateness, not expiry: retry still works.
    _sql(desk, "update posts set expires_at=NULL where id=?", post_id)
    desk("queue", "retry", str(post_id))
    assert desk("queue", "show", str(post_id), "--json").json()["status"] == "queued"
