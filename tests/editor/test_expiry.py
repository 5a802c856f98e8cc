"""`expiry.expire_due`, the sweep the dispatcher runs before claiming: expired
queued posts become missed with the reason; others are left alone."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from scheduler.planning.expiry import expire_due, period_end
from scheduler.storage.models import Post

from .conftest import add_outbox


def test_expire_due_marks_only_expired_queued_posts(cli, seeded) -> None:
    add_outbox(cli, "club", tz="UTC")
    csv = (
        "channel,text,at,expires\n"
        "club,Old news.,2030-01-01T09:00,2030-01-01T10:00\n"
        "club,No expiry.,2030-01-01T09:00,\n"
        "club,Still fresh.,2030-01-01T09:00,2030-01-02T09:00\n"
    )
    cli.run("queue", "import", "-", stdin=csv)
    cli.run("queue", "cancel", "3")
    now = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)
    with cli.session() as session:
        assert expire_due(session, now) == [1]
    with cli.session() as session:
        posts = {p.text: p for p in session.exec(select(Post))}
    assert posts["Old news."].status == "missed"
    assert posts["Old news."].last_error.startswith("expired")
    assert posts["No expiry."].status == "queued"
    assert posts["Still fresh."].status == "cancelled"  # not queued: untouched
    with cli.session() as session:
        assert expire_due(session, now) == []  # nothing twice


def test_period_end_follows_precision() -> None:
    day = dt.date(2027, 3, 14)
    assert period_end(day, "day", "UTC") == dt.datetime(2027, 3, 15, tzinfo=dt.UTC)
    assert period_end(day, "month", "UTC") == dt.datetime(2027, 4, 1, tzinfo=dt.UTC)
    assert period_end(dt.date(2027, 12, 5), "month", "UTC") == dt.datetime(
        2028, 1, 1, tzinfo=dt.UTC
    )
    assert period_end(day, "year", "Asia/Tokyo") == dt.datetime(2027, 12, 31, 15, tzinfo=dt.UTC)
