"""Unknown outcomes are settled by asking the platform (here the outbox file)."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlmodel import Session

from scheduler import migrations, store
from scheduler.models import Channel, Post
from scheduler.planning import new_post
from scheduler.reconcile import reconcile


def test_reconcile_unknown_posts(db_url, tmp_path):
    engine = store.make_engine(db_url)
    migrations.upgrade(engine)
    outbox = tmp_path / "out.jsonl"
    now = dt.datetime.now(dt.UTC)
    with store.session_scope(engine) as session:
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
