"""On-this-day, throwback and countdown posts, their expiry, and the 29 February
policy, through `channels calendar` and `plan --recurring`."""

from __future__ import annotations

import datetime as dt

from scheduler.planning.anniversaries import anniversary

from .conftest import add_outbox


def test_anniversary_of_29_february() -> None:
    leap = dt.date(2024, 2, 29)
    assert anniversary(leap, 2028) == dt.date(2028, 2, 29)
    assert anniversary(leap, 2025) == dt.date(2025, 2, 28)
    assert anniversary(leap, 2025, "mar1") == dt.date(2025, 3, 1)
    assert anniversary(leap, 2025, "skip") is None
    assert anniversary(dt.date(2019, 6, 3), 2025) == dt.date(2025, 6, 3)


def _recurring(cli, start: str, until: str) -> dict:
    return cli.json("plan", "--recurring", "--start", start, "--until", until)


def test_on_this_day_uses_the_channels_calendar_date(cli, seeded) -> None:
    # 07:00 on 28 Feb in Auckland is still 27 Feb in UTC: the local date counts.
    add_outbox(cli, "nz", tz="Pacific/Auckland", slots="mon-sun 07:00")
    cli.run("channels", "calendar", "nz")
    out = _recurring(cli, "2025-01-01T00:00Z", "2025-12-31T00:00Z")
    posts = [p for p in out["created"] if p["template"] == "on_this_day"]
    assert len(posts) == 1
    post = posts[0]
    assert post["due_at"] == "2025-02-27T18:00:00+00:00"
    assert post["due_local"] == "2025-02-28 07:00 NZDT"
    # It expires when that local day ends, never sent a day late.
    assert post["expires_at"] == "2025-02-28T11:00:00+00:00"
    # The sentence names its date, so the header does not say it again.
    assert post["text"].startswith("On this day, 1 year ago: She won the national single sculls")
    assert "leap-day policy feb28" in post["reason"]
    # Planning the same window again adds nothing.
    again = _recurring(cli, "2025-01-01T00:00Z", "2025-12-31T00:00Z")
    assert again["created"] == []
    assert again["skipped"] >= 1


def test_leap_day_policies(cli, seeded) -> None:
    add_outbox(cli, "march", tz="UTC", slots="mon-sun 10:00")
    cli.run("channels", "calendar", "march", "--leap-day", "mar1")
    out = _recurring(cli, "2025-01-01T00:00Z", "2025-12-31T00:00Z")
    (post,) = [p for p in out["created"] if p["template"] == "on_this_day"]
    assert post["due_at"] == "2025-03-01T10:00:00+00:00"

    add_outbox(cli, "never", tz="UTC", slots="mon-sun 10:00")
    cli.run("channels", "calendar", "never", "--leap-day", "skip")
    out = cli.json(
        "plan",
        "--recurring",
        "-c",
        "never",
        "--start",
        "2026-01-01T00:00Z",
        "--until",
        "2026-12-31T00:00Z",
    )
    assert [p for p in out["created"] if p["template"] == "on_this_day"] == []
    assert any("leap-day policy skip" in n for n in out["notes"])
    # In a leap year the day itself is used whatever the policy.
    out = cli.json(
        "plan",
        "--recurring",
        "-c",
        "never",
        "--start",
        "2028-01-01T00:00Z",
        "--until",
        "2028-12-31T00:00Z",
    )
    (post,) = [p for p in out["created"] if p["template"] == "on_this_day"]
    assert post["due_at"].startswith("2028-02-29")
    assert "4 years ago" in post["text"]


def test_bad_leap_day_policy_is_one_line(cli, seeded) -> None:
    add_outbox(cli)
    proc = cli.run("channels", "calendar", "club", "--leap-day", "feb30", ok=False)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "feb28" in proc.stderr


def test_countdown_and_throwback(cli, seeded) -> None:
    add_outbox(cli, "club", tz="America/Winnipeg", slots="mon-sun 18:00")
    cli.run(
        "channels",
        "calendar",
        "club",
        "--no-on-this-day",
        "--countdown",
        "7,1,0",
        "--throwback",
        "thu 12:00",
    )
    out = _recurring(cli, "2027-03-01T00:00Z", "2027-03-20T00:00Z")
    countdown = [p for p in out["created"] if p["template"] == "countdown"]
    assert [p["due_local"] for p in countdown] == [
        "2027-03-07 18:00 CST",
        "2027-03-13 18:00 CST",
        "2027-03-14 18:00 CDT",  # DST starts that morning in Winnipeg
    ]
    assert countdown[0]["text"].startswith("7 days to go: She races")
    assert countdown[1]["text"].startswith("Tomorrow: ")
    assert countdown[2]["text"].startswith("Today: ")
    for p in countdown:
        assert p["expires_at"] is not None
    throwbacks = [p for p in out["created"] if p["template"] == "throwback"]
    assert len(throwbacks) == 1  # the 1998 founding: known only to the year
    assert throwbacks[0]["due_local"] == "2027-03-04 12:00 CST"  # first Thursday
    assert throwbacks[0]["text"].startswith(
        "Throwback: Her club, the Red River Oars, was founded in 1998"
    )
    assert "#Throwback" in throwbacks[0]["text"]
    # A second run over a later window does not throw the same milestone back again.
    later = _recurring(cli, "2027-03-20T00:00Z", "2027-05-01T00:00Z")
    assert [p for p in later["created"] if p["template"] == "throwback"] == []


def test_announcing_a_planned_milestone_expires_after_it(cli, seeded) -> None:
    add_outbox(cli)
    out = cli.json("plan", str(seeded["article"]), "-c", "club", "--kinds", "milestone,quote")
    by_source = {p["source"]: p for p in out["created"]}
    planned = by_source[f"milestone:{seeded['milestones'][2]}"]
    # 14 March 2027 ends at midnight Winnipeg time (CDT, UTC-5).
    assert planned["expires_at"] == "2027-03-15T05:00:00+00:00"
    past = by_source[f"milestone:{seeded['milestones'][0]}"]
    assert past["expires_at"] is None
    assert "next free slot" in past["reason"]
    # --expires-after gives every planned post a lifetime.
    add_outbox(cli, "short")
    out = cli.json(
        "plan", str(seeded["article"]), "-c", "short", "--kinds", "quote", "--expires-after", "6h"
    )
    for p in out["created"]:
        due = dt.datetime.fromisoformat(p["due_at"])
        assert dt.datetime.fromisoformat(p["expires_at"]) - due == dt.timedelta(hours=6)
