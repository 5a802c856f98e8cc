"""A media post's requests are built once per send: the daemon's claim checks
the post without reading its files (`delivery.outgoing.unread`), and the send
reads each file once, uploads it, and posts. Counted with an audit hook on the
real daemon pass in this process, against a loopback peer per platform; a file
changed or gone after it was queued still fails the post before anything
leaves."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from scheduler.config import load_settings
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.lanes import make_client
from scheduler.storage import database

from .conftest import Reply, Seen

#: Paths opened while counting (`_opened`), in this process.
_OPENS: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _OPENS is not None and isinstance(args[0], str | Path):
        _OPENS.append(str(args[0]))


sys.addaudithook(_audit)


def _answer(seen: Seen) -> Reply:
    """The few answers the three platforms' sends need."""
    if seen.path == "/hook":
        return Reply(200, {"id": "w1"})
    if seen.path.startswith("/api/webhooks/"):
        return Reply(200, {"id": "d1", "channel_id": "c1", "guild_id": "g1"})
    if seen.path == "/api/v2/instance":
        return Reply(200, {"configuration": {"statuses": {"max_characters": 500}}})
    if seen.path == "/api/v2/media":
        return Reply(200, {"id": "m1", "type": "image"})
    if seen.path == "/api/v1/statuses":
        return Reply(200, {"id": "s1", "url": "https://social.example/@a/s1"})
    return Reply(404, {"error": "no route"})


@pytest.fixture
def queue(tmp_path, monkeypatch, stub):
    """A database with a webhook, a Discord and a Mastodon channel, each with
    one photo post due now; their media folder in tmp_path."""
    from sqlmodel import Session

    from scheduler.accounts.channels import add_channel
    from scheduler.desk.posts import add_by_hand

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEDULER_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("DISCORD_HOOK", f"{stub.url}/api/webhooks/1/tok")
    monkeypatch.setenv("TOOT", "toot-token")
    stub.responder = _answer
    url = f"sqlite:///{tmp_path / 'test.db'}"
    engine = database.make_engine(url)
    database.init_database(engine)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (640, 360), (20, 90, 160)).save(photo, format="PNG")
    with Session(engine) as session:
        for name, platform, options, secret in (
            ("hook", "webhook", {"url": f"{stub.url}/hook"}, None),
            ("disc", "discord", {}, "DISCORD_HOOK"),
            ("toot", "mastodon", {"instance": stub.url}, "TOOT"),
        ):
            add_channel(
                session,
                name,
                platform,
                options=options,
                secret_env=secret,
                timezone="UTC",
                slots="mon-sun 09:00",
            )
        session.commit()
    with database.session_scope(engine) as session:
        for name in ("hook", "disc", "toot"):
            add_by_hand(session, name, f"Race day on {name}", "now", [str(photo)], ["Boats"])
    with engine.connect() as conn:
        (stored,) = {
            json.loads(m)[0]["path"] for (m,) in conn.execute(sa.text("SELECT media FROM posts"))
        }
    engine.dispose()
    return url, tmp_path / "media" / stored, photo.read_bytes()


def _run(url: str) -> list:
    async def go():
        engine = database.make_engine(url)
        settings = load_settings(db=url, grace_seconds=3600.0, request_timeout_seconds=5.0)
        async with make_client(5.0) as client:
            events = await Dispatcher(engine, settings, client=client).run_due()
        engine.dispose()
        return events

    return asyncio.run(go())


def _opened(url: str, path: Path) -> tuple[list, int]:
    global _OPENS
    _OPENS = []
    try:
        events = _run(url)
        return events, sum(Path(p).resolve() == path.resolve() for p in _OPENS)
    finally:
        _OPENS = None


def test_each_send_reads_its_file_once_and_uploads_those_bytes(queue, stub) -> None:
    url, stored, _ = queue
    events, opens = _opened(url, stored)
    assert sorted(e.status for e in events) == ["sent", "sent", "sent"]
    # Three sends of one stored file: one read each; the claim read none.
    assert opens == 3
    data = stored.read_bytes()
    by_path = {s.path: s for s in stub.requests}
    (inline,) = by_path["/hook"].json()["media"]
    assert base64.b64decode(inline["data"]) == data
    assert data in by_path["/api/webhooks/1/tok"].body
    assert data in by_path["/api/v2/media"].body
    assert hashlib.sha256(data).hexdigest() == stored.stem


@pytest.mark.parametrize("change", ["gone", "other-size"])
def test_a_file_gone_or_resized_fails_at_the_claim_and_nothing_leaves(queue, stub, change) -> None:
    url, stored, _ = queue
    if change == "gone":
        stored.unlink()
    else:
        stored.write_bytes(stored.read_bytes() + b"tail")
    events, opens = _opened(url, stored)
    assert [e.status for e in events] == ["failed"] * 3
    why = "cannot be read" if change == "gone" else "changed since it was queued"
    assert all("cannot prepare the post" in e.error and why in e.error for e in events)
    assert opens == 0
    assert stub.requests == []
    engine = database.make_engine(url)
    with engine.connect() as conn:
        tried = conn.execute(sa.text("SELECT attempts FROM posts")).scalars().all()
    engine.dispose()
    assert tried == [0, 0, 0]  # failed before the network: no attempt counted


def test_a_file_changed_in_place_is_refused_by_the_send_before_it_is_uploaded(queue, stub) -> None:
    url, stored, _ = queue
    data = bytearray(stored.read_bytes())
    data[-5] ^= 0xFF  # same size, other bytes: only the hash can tell
    stored.write_bytes(bytes(data))
    events, opens = _opened(url, stored)
    assert [e.status for e in events] == ["failed"] * 3
    assert all("changed since it was queued" in e.error for e in events)
    assert opens == 3
    # Mastodon read its instance limits; no upload and no post reached anyone.
    assert [s.path for s in stub.requests] == ["/api/v2/instance"]
