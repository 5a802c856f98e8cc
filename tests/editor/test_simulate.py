"""`scheduler simulate`: the daemon's dry-run dispatcher on a virtual clock, with
recurring posts planned by the real planner in a transaction that is rolled back."""

from __future__ import annotations

from .conftest import add_outbox, add_webhook

WINDOW = ("--start", "2027-03-01T00:00Z", "--until", "2027-03-20T00:00Z")


def _setup(cli, seeded) -> None:
    add_outbox(cli, "club", slots="mon-sun 18:00")
    add_webhook(cli, "hook")
    cli.run(
        "plan",
        str(seeded["article"]),
        "-c",
        "hook",
        "--kinds",
        "quote",
        "--start",
        "2027-03-01T00:00Z",
    )
    cli.run("channels", "calendar", "club", "--no-on-this-day", "--countdown", "1")
    cli.run(
        "channels",
        "evergreen",
        "club",
        "--category",
        "grit",
        "--every",
        "wed 12:00",
        "--cooldown",
        "7d",
    )


def _key(step: dict) -> tuple:
    return (step["due_at"], step["channel"], step["text"])


def test_simulate_plans_recurring_posts_without_writing(cli, seeded) -> None:
    _setup(cli, seeded)
    before = cli.json("queue", "list", "--limit", "1000")["posts"]
    steps = cli.json("simulate", *WINDOW)
    after = cli.json("queue", "list", "--limit", "1000")["posts"]
    assert before == after  # nothing written
    assert not list(cli.cwd.glob("club.jsonl"))  # nothing sent

    what = [s["what"] for s in steps]
    assert what.count("quote") == 3
    assert what.count("evergreen") == 3  # Wednesdays 3, 10 and 17 March
    assert what.count("countdown") == 1
    assert all(s["outcome"] == "dry-run" for s in steps)
    assert [s["planned"] for s in steps if s["what"] == "quote"] == [False] * 3
    assert all(s["planned"] for s in steps if s["what"] != "quote")
    assert [s["at"] for s in steps] == sorted(s["at"] for s in steps)
    for s in steps:
        (request,) = s["requests"]  # built by the adapter, as a real send would be
        body = request["json"]
        assert body["text"] == s["text"]
    countdown = next(s for s in steps if s["what"] == "countdown")
    assert countdown["when_local"] == "2027-03-13 18:00 CST"
    assert countdown["text"].startswith("Tomorrow: She races")

    # What simulate showed is what planning then queues.
    cli.run("plan", "--recurring", *WINDOW)
    queued = cli.json("simulate", *WINDOW, "--queued-only")
    assert [_key(s) for s in queued] == [_key(s) for s in steps]
    assert not any(s["planned"] for s in queued)


def test_simulate_marks_expired_and_missed(cli, seeded) -> None:
    add_outbox(cli, "club", tz="UTC")
    csv = (
        "channel,text,at,expires\n"
        "club,Results are in: gold for the coxless four.,2030-01-01T09:00,+2h\n"
        "club,Training diary: week one.,2030-01-01T09:30,\n"
        "club,Next regatta is on Saturday.,2030-01-02T09:00,\n"
    )
    cli.run("queue", "import", "-", stdin=csv)
    steps = cli.json("simulate", "--start", "2030-01-01T12:00Z", "--until", "+2d", "--queued-only")
    outcome = {s["text"]: s["outcome"] for s in steps}
    assert outcome == {
        "Results are in: gold for the coxless four.": "expired",
        "Training diary: week one.": "missed",  # 2.5h late, beyond the 1h grace
        "Next regatta is on Saturday.": "dry-run",
    }
    out = cli.run(
        "simulate", "--start", "2030-01-01T12:00Z", "--until", "+2d", "--queued-only"
    ).stdout
    assert "EXPIRED" in out and "1 posts would go out" in out


def test_simulate_bad_input_is_one_line(cli, seeded) -> None:
    for args in (
        ("--until", "yesterday"),
        ("--start", "2030-01-02T00:00Z", "--until", "2030-01-01T00:00Z"),
    ):
        proc = cli.run("simulate", *args, ok=False)
        assert proc.returncode == 1
        assert len(proc.stderr.strip().splitlines()) == 1
        assert proc.stdout == ""
