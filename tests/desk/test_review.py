"""Review: posts planned for a channel that requires it are drafts until a
person approves them, in `scheduler review` (keys on stdin) or with
`queue approve|reject`; the daemon never sends a draft."""

from __future__ import annotations

import json

from tests.desk.conftest import Desk


def test_a_review_channel_gets_drafts_and_a_plain_one_queued_posts(desk: Desk) -> None:
    created = desk.setup("--review")
    assert created and {p["status"] for p in created} == {"draft"}
    desk("channels", "add", "plain", "--platform", "outbox", "-o", "path=plain.jsonl")
    plain = desk("plan", "latest", "-c", "plain", "--json").json()["created"]
    assert {p["status"] for p in plain} == {"queued"}
    listed = desk("queue", "list", "--status", "draft", "--json").json()["posts"]
    assert [p["id"] for p in listed] == [p["id"] for p in created]
    rows = {c["name"]: c for c in desk("channels", "list", "--json").json()}
    assert rows["club"]["needs_review"] is True and rows["club"]["drafts"] == len(created)
    assert rows["plain"]["needs_review"] is False


def test_the_database_wide_setting_and_the_channel_override(desk: Desk) -> None:
    (desk.cwd / "scheduler.toml").write_text("review = true\n", encoding="utf-8")
    created = desk.setup()
    assert {p["status"] for p in created} == {"draft"}
    desk("channels", "add", "own", "--platform", "outbox", "-o", "path=o.jsonl", "--no-review")
    own = desk("plan", "latest", "-c", "own", "--json").json()["created"]
    assert {p["status"] for p in own} == {"queued"}
    # Turned on later for one channel: what it plans next is a draft.
    desk("channels", "edit", "own", "--review")
    link = desk("plan", "latest", "-c", "own", "--kinds", "link", "--json").json()["created"]
    assert [p["status"] for p in link] == ["draft"]


def test_review_walks_the_drafts_with_keys_on_stdin(desk: Desk, editor) -> None:  # type: ignore[no-untyped-def]
    drafts = desk.setup("--review")
    assert len(drafts) == 4
    first, second, third, fourth = (p["id"] for p in drafts)
    # A bad key is asked again; e edits (a quote no longer verbatim: confirmed),
    # a approves; s skips; r rejects; q quits before the fourth.
    keys = "x\ne\ny\na\ns\nr\nq\n"
    ran = desk.process("review", stdin=keys, env=editor("I run better", "I always run better"))
    assert ran.code == 0, ran.err
    out = ran.out
    assert f"draft 1 of 4: post {first} on club" in out
    assert "/500 graphemes ok" in out  # the counted length against the limit
    assert "said after the race" in out  # the source sentence
    assert "due 2026-" in out or "due 20" in out
    assert "approved 1, edited 1, rejected 1, skipped 1; 2 drafts left" in out
    assert "not in the source sentence" in ran.err
    by_id = {p["id"]: p for p in desk.posts()}
    assert by_id[first]["status"] == "queued"
    assert "I always run better" in by_id[first]["text"]
    assert by_id[first]["idempotency_key"] != drafts[0]["idempotency_key"]
    assert (by_id[second]["status"], by_id[third]["status"]) == ("draft", "rejected")
    assert by_id[fourth]["status"] == "draft"
    shown = desk("queue", "show", str(first), "--json").json()
    assert shown["source_detail"]["verbatim"] is False


def test_review_ends_cleanly_when_stdin_runs_out(desk: Desk) -> None:
    desk.setup("--review")
    ran = desk("review", stdin="s\n")
    assert "skipped 1; 4 drafts left" in ran.out


def test_approve_and_reject_from_scripts(desk: Desk) -> None:
    drafts = [p["id"] for p in desk.setup("--review")]
    done = desk("queue", "approve", str(drafts[0]), str(drafts[1]), "--json").json()
    assert [d["id"] for d in done["approved"]] == drafts[:2]
    assert all(d["moved_from_local"] is None for d in done["approved"])
    desk("queue", "reject", str(drafts[2]))
    statuses = {p["id"]: p["status"] for p in desk.posts()}
    assert [statuses[i] for i in drafts] == ["queued", "queued", "rejected", "draft"]
    # Bad input: one line, and nothing changes (the good id in the batch neither).
    assert "no post with id 999" in desk.fail("queue", "approve", str(drafts[3]), "999")
    assert "only drafts are approved" in desk.fail("queue", "approve", str(drafts[0]))
    assert "only drafts are rejected" in desk.fail("queue", "reject", str(drafts[2]))
    assert desk("queue", "show", str(drafts[3]), "--json").json()["status"] == "draft"


def test_approving_a_draft_whose_slot_passed_takes_the_next_free_slot(desk: Desk) -> None:
    drafts = desk.setup("--review")
    late = drafts[-1]
    desk("queue", "edit", str(late["id"]), "--at", "2020-01-06 09:00")
    ran = desk("queue", "approve", str(late["id"]))
    assert "had passed" in ran.out and "next free slot" in ran.out
    moved = desk("queue", "show", str(late["id"]), "--json").json()
    taken = {p["due_at"] for p in drafts[:-1]}
    assert moved["status"] == "queued"
    assert moved["due_at"] > "2026" and moved["due_at"] not in taken
    assert moved["due_local"][11:16] in ("09:00", "18:00")


def test_an_over_limit_draft_is_not_approved(desk: Desk) -> None:
    drafts = desk.setup("--review", "-o", "max_length=40")
    line = desk.fail("queue", "approve", str(drafts[0]["id"]))
    assert "over outbox's limit of 40" in line and "queue edit" in line


def test_the_daemon_never_sends_a_draft(desk: Desk) -> None:
    # The claim paths themselves, on both databases: tests/reliability/test_drafts_unsent.py.
    drafts = desk.setup("--review", name="club")
    desk("queue", "approve", str(drafts[0]["id"]))
    for p in drafts:  # every post due now: one approved, the rest drafts
        desk("queue", "edit", str(p["id"]), "--at", "now")
    ran = desk.process("daemon", "--once", "--json")
    assert ran.code == 0, ran.err
    sent = [json.loads(line) for line in (desk.cwd / "out.jsonl").read_text().splitlines()]
    assert len(sent) == 1 and sent[0]["text"] == drafts[0]["text"]
    statuses = {p["id"]: p["status"] for p in desk.posts()}
    assert statuses[drafts[0]["id"]] == "sent"
    assert all(statuses[p["id"]] == "draft" for p in drafts[1:])


HELD_ARTICLE = """Rain Again at the City Mile

Lena Brandt won the city mile on Saturday. "I run better when the weather is against me," Brandt said.

The crowd stayed until the last runner came in.

"Nobody remembers a dry race."
"""


def test_a_quote_nobody_is_known_to_have_said_is_held_for_a_person(desk: Desk) -> None:
    (desk.cwd / "held.txt").write_text(HELD_ARTICLE, encoding="utf-8")
    desk("ingest", "held.txt", "--published", "2026-11-20")
    desk("channels", "add", "club", "--platform", "outbox", "-o", "path=o.jsonl",
         "--timezone", "Europe/Berlin", "--slots", "mon-sun 09:00")  # fmt: skip
    planned = desk("plan", "latest", "-c", "club")
    assert "1 held for review" in planned.out + planned.err
    posts = desk.posts()
    (held,) = [p for p in posts if "Nobody remembers" in p["text"]]
    # Shown, on a channel with no review, but never as if someone had said it,
    # and after the post that can go.
    assert held["status"] == "draft" and "— [speaker unknown]" in held["text"]
    assert [p["status"] for p in posts if p is not held] == ["queued"]
    assert held["due_at"] > max(p["due_at"] for p in posts if p is not held)
    shown = desk.process("review", stdin="q\n")
    assert "held for review: speaker unknown" in shown.out, shown.out
    assert "held for review: speaker unknown" in desk("queue", "show", str(held["id"])).out
    assert "held for review (speaker unknown)" in desk.fail("queue", "approve", str(held["id"]))
    desk("queue", "edit", str(held["id"]), "--text",
         "“Nobody remembers a dry race.”\n— a banner at the city mile")  # fmt: skip
    desk("queue", "approve", str(held["id"]))
    assert {p["id"]: p["status"] for p in desk.posts()}[held["id"]] == "queued"
