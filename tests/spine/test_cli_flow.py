"""The whole path through the real `scheduler` entry point on a real SQLite file,
publishing to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import sqlite3

from standardwebhooks import Webhook

from tests.spine.sink import Reply, Sink

ARTICLE = """Rowan Achterberg Keeps Climbing

Rowan Achterberg, the youngest woman to lead the Dutch bouldering rankings, spoke to a
student newspaper after the national final.

In 2021, the Utrecht climber made history by winning the national title on her first attempt.
"The wall does not care how old you are," she explained. "It only cares whether you let go."
"""

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()


def _posts(db_url: str) -> list[tuple]:
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "select id, status, attempts, remote_id, last_error from posts order by id"
        ).fetchall()


def test_article_to_published_post(ready_cli, db_url, tmp_path):
    (tmp_path / "article.txt").write_text(ARTICLE, encoding="utf-8")
    with Sink() as sink:
        ingest = ready_cli("ingest", "article.txt", "--json")
        assert ingest.code == 0, ingest.stderr
        summary = ingest.json()
        assert summary["created"] is True
        assert summary["quotes"] >= 2
        assert summary["milestones"] >= 1

        again = ready_cli("ingest", "article.txt", "--json")
        assert again.json()["created"] is False
        assert again.json()["article_id"] == summary["article_id"]

        added = ready_cli(
            "channels",
            "add",
            "club",
            "--platform",
            "webhook",
            "--option",
            f"url={sink.url}/hook",
            "--secret-env",
            "CLUB_HOOK_SECRET",
            "--timezone",
            "Europe/Amsterdam",
            "--slots",
            "mon-sun 09:00,18:00",
        )
        assert added.code == 0, added.stderr

        planned = ready_cli(
            "plan",
            str(summary["article_id"]),
            "--channel",
            "club",
            "--kinds",
            "milestone,link",
            "--json",
        )
        assert planned.code == 0, planned.stderr
        created = planned.json()["created"]
        assert len(created) >= 2
        local_times = {p["due_local"][11:16] for p in created}
        assert local_times <= {"09:00", "18:00"}

        # Planning the same article again adds nothing.
        replan = ready_cli(
            "plan",
            str(summary["article_id"]),
            "--channel",
            "club",
            "--kinds",
            "milestone,link",
            "--json",
        )
        assert replan.json()["created"] == []

        listing = ready_cli("queue", "list", "--json")
        assert [p["id"] for p in listing.json()["posts"]] == [p["id"] for p in created]

        # Preview shows the exact request with the secret's signature redacted.
        first = created[0]["id"]
        preview = ready_cli("preview", str(first), "--json")
        assert preview.code == 0, preview.stderr
        (item,) = preview.json()
        request = item["requests"][0]
        assert request["method"] == "POST"
        assert request["url"] == f"{sink.url}/hook"
        assert request["headers"]["webhook-signature"] == "v1,***"
        assert request["json"]["text"] == created[0]["text"]
        assert item["lengths"][0]["ok"] is True

        # Move the first post to now and publish what is due.
        moved = ready_cli("queue", "move", str(first), "--at", "now")
        assert moved.code == 0, moved.stderr
        run = ready_cli("daemon", "--once", "--json", env={"CLUB_HOOK_SECRET": SECRET})
        assert run.code == 0, run.stderr
        events = run.json()
        assert [(e["post_id"], e["status"]) for e in events] == [(first, "sent")]

        assert len(sink.received) == 1
        got = sink.received[0]
        key = created[0]["idempotency_key"]
        assert got.headers["Idempotency-Key"] == key
        assert got.headers["webhook-id"] == key
        # The receiver can verify the signature with the reference library.
        payload = Webhook(SECRET).verify(got.body, got.headers)
        assert payload["text"] == created[0]["text"]
        assert SECRET not in run.stdout + run.stderr
        # One line per send is the scheduler's own; httpx's request log is off.
        assert "HTTP Request" not in run.stderr

        rows = {r[0]: r for r in _posts(db_url)}
        assert rows[first][1] == "sent"
        assert rows[first][3] == "remote-1"
        assert all(r[1] == "queued" for i, r in rows.items() if i != first)

        # Nothing else is due: a second pass sends nothing.
        assert ready_cli("daemon", "--once", "--json").json() == []
        assert len(sink.received) == 1


def test_retry_then_fail_and_manual_retry(ready_cli, db_url):
    with Sink() as sink:
        sink.default = Reply(status=503, body='{"error": "down for maintenance"}')
        ready_cli(
            "channels", "add", "hook", "--platform", "webhook", "--option", f"url={sink.url}/x"
        )
        post = ready_cli("queue", "add", "hook", "Hello from the test", "--at", "now", "--json")
        assert post.code == 0, post.stderr
        post_id = post.json()["id"]
        env = {"SCHEDULER_MAX_ATTEMPTS": "2", "SCHEDULER_RETRY_BASE_SECONDS": "0"}

        # With no backoff the retry is due at once, so one pass tries twice.
        first = ready_cli("daemon", "--once", "--json", env=env).json()
        assert [e["status"] for e in first] == ["retry", "failed"]
        assert "down for maintenance" in first[0]["error"]
        assert ready_cli("daemon", "--once", "--json", env=env).json() == []

        shown = ready_cli("queue", "show", str(post_id), "--json").json()
        assert shown["status"] == "failed"
        assert "503" in shown["last_error"]
        assert len(shown["attempts_detail"]) == 2
        # Both attempts carried the same key, so a receiver could dedupe them.
        keys = {r.headers["Idempotency-Key"] for r in sink.received}
        assert keys == {shown["idempotency_key"]}

        sink.default = Reply(status=200)
        assert ready_cli("queue", "retry", str(post_id)).code == 0
        third = ready_cli("daemon", "--once", "--json", env=env).json()
        assert [e["status"] for e in third] == ["sent"]


def test_permanent_error_is_not_retried(ready_cli):
    with Sink() as sink:
        sink.default = Reply(status=410, body="gone")
        ready_cli(
            "channels", "add", "hook", "--platform", "webhook", "--option", f"url={sink.url}/x"
        )
        ready_cli("queue", "add", "hook", "Once only", "--at", "now")
        events = ready_cli("daemon", "--once", "--json").json()
        assert [e["status"] for e in events] == ["failed"]
        assert ready_cli("daemon", "--once", "--json").json() == []
        assert len(sink.received) == 1


def test_paused_channel_holds_its_posts(ready_cli):
    with Sink() as sink:
        ready_cli(
            "channels", "add", "hook", "--platform", "webhook", "--option", f"url={sink.url}/x"
        )
        ready_cli("queue", "add", "hook", "Wait for it", "--at", "now")
        assert ready_cli("channels", "pause", "hook").code == 0
        assert ready_cli("daemon", "--once", "--json").json() == []
        assert ready_cli("channels", "resume", "hook").code == 0
        assert [e["status"] for e in ready_cli("daemon", "--once", "--json").json()] == ["sent"]
        assert len(sink.received) == 1


def test_dry_run_sends_nothing_and_changes_nothing(ready_cli, db_url):
    with Sink() as sink:
        ready_cli(
            "channels", "add", "hook", "--platform", "webhook", "--option", f"url={sink.url}/x"
        )
        ready_cli("queue", "add", "hook", "Just looking", "--at", "now")
        before = _posts(db_url)
        events = ready_cli("daemon", "--once", "--dry-run", "--json").json()
        assert [e["status"] for e in events] == ["dry-run"]
        assert events[0]["requests"][0]["json"]["text"] == "Just looking"
        assert sink.received == []
        assert _posts(db_url) == before


def test_cancel_and_listing_filters(ready_cli):
    ready_cli("channels", "add", "box", "--platform", "outbox")
    ids = [
        ready_cli("queue", "add", "box", f"post {i}", "--at", f"+{i + 1}h", "--json").json()["id"]
        for i in range(3)
    ]
    assert ready_cli("queue", "cancel", str(ids[1])).code == 0
    queued = ready_cli("queue", "list", "--status", "queued", "--json").json()["posts"]
    assert [p["id"] for p in queued] == [ids[0], ids[2]]
    page = ready_cli("queue", "list", "--limit", "2", "--json").json()
    assert len(page["posts"]) == 2 and page["next"]
    rest = ready_cli("queue", "list", "--limit", "2", "--after", page["next"], "--json").json()
    assert [p["id"] for p in rest["posts"]] == [ids[2]]
    assert rest["next"] is None


def test_demo_runs_offline(cli, tmp_path):
    result = cli("demo")
    assert result.code == 0, result.stderr
    assert "nothing was sent" in result.stdout
    assert "dry-run" in result.stdout
    assert not (tmp_path / "scheduler-demo-outbox.jsonl").exists()
    # The desk step: drafts on a review channel, one approved, one edited.
    assert "the desk" in result.stdout and "approved for" in result.stdout
    assert "quote still verbatim, new idempotency key" in result.stdout
    assert not (tmp_path / "scheduler-demo-desk.jsonl").exists()
    # The feed step: a feed on 127.0.0.1, its entry ingested once and planned as
    # drafts on the review channel; the second poll is a conditional 304.
    assert "1 new entry, 1 article ingested, 3 drafts planned on desk" in result.stdout
    assert "polled again: unchanged (304), 0 new" in result.stdout
