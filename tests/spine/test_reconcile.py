"""Unknown outcomes are settled by asking the platform (here the outbox file)."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlmodel import Session

from scheduler.delivery.reconcile import reconcile
from scheduler.planning.plan import new_post
from scheduler.storage import database, migrations
from scheduler.storage.models import Channel, Post


def test_reconcile_unknown_posts(db_url, tmp_path):
    engine = database.make_engine(db_url)
    migrations.upgrade(engine)
    outbox = tmp_path / "out.jsonl"
    now = dt.datetime.now(dt.UTC)
    with database.session_scope(engine) as session:
        channel = Channel(name="box", platform="outbox", options={"path": str(outbox)})
        session.add(channel)
        session.flush()
        landed, lost, fine = (new_post(channel, t, now) for t in ("landed", "lost", "fine"))
        session.add_all([landed, lost, fine])
        session.flush()
        for post in (landed, lost):
            session.execute(sa.update(Post).where(Post.id == post.id).values(status="unknown"))
    outbox.write_text(json.dumps({"key": landed.idempotency_key, "text": "landed"}) + "\n")

    results = {r.post_id: r.result for r in reconcile(engine)}

    assert results == {landed.id: "sent", lost.id: "queued"}
    with Session(engine) as session:
        assert session.get(Post, landed.id).status == "sent"
        assert session.get(Post, landed.id).remote_id == landed.idempotency_key
        assert session.get(Post, lost.id).status == "queued"
        assert session.get(Post, fine.id).status == "queued"
    assert reconcile(engine) == []


def test_queue_reconcile_command(ready_cli, db_url, tmp_path):
    import sqlite3

    outbox = tmp_path / "out.jsonl"
    ready_cli("channels", "add", "box", "--platform", "outbox", "-o", f"path={outbox}")
    post = ready_cli("queue", "add", "box", "did it land?", "--at", "now", "--json").json()
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("update posts set status = 'unknown' where id = ?", (post["id"],))
    result = ready_cli("queue", "reconcile", "--json")
    assert result.code == 0, result.stderr
    assert [(r["post_id"], r["result"]) for r in result.json()] == [(post["id"], "queued")]
    assert ready_cli("queue", "reconcile", "--json").json() == []


def test_ingest_reads_tense_from_the_published_date(ready_cli, tmp_path):
    text = (
        "Pia Lindqvist Eyes the Title\n\n"
        "The Swedish rider is now set to chase the 2024 national championship in June.\n"
    )
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    assert ready_cli("ingest", "a.txt", "--published", "2024-01-15").code == 0
    (milestone,) = ready_cli("milestones", "list", "--json").json()
    assert milestone["tense"] == "planned"
    assert milestone["wording"] == ""  # "now" goes stale: no post is proposed from it
    bad = ready_cli("ingest", "a.txt", "--published", "15/01/2024")
    assert bad.code != 0 and "bad --published date" in bad.stderr
