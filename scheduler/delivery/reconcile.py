"""Settling posts whose outcome is `unknown` (a timeout after the request left,
a daemon killed mid-send): ask the platform whether the post landed.

Landed -> `sent` with its remote id. Did not land -> back to `queued`, since a
resend cannot duplicate it. The platform cannot tell -> left `unknown`, for a
person to check and then `queue retry` or `queue cancel`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scheduler.accounts.channels import publisher_for
from scheduler.delivery.lanes import make_client
from scheduler.delivery.outgoing import outgoing
from scheduler.errors import SchedulerError
from scheduler.storage.models import Channel, Post, PostStatus, utcnow


@dataclass(frozen=True)
class Settled:
    post_id: int
    channel: str
    result: str  # sent | queued | unknown
    detail: str = ""


def reconcile(engine: Engine, ids: Sequence[int] = ()) -> list[Settled]:
    return asyncio.run(_reconcile(engine, ids))


async def _reconcile(engine: Engine, ids: Sequence[int]) -> list[Settled]:
    with Session(engine, expire_on_commit=False) as session:
        stmt = (
            select(Post, Channel)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Post.status == PostStatus.unknown.value)
        )
        if ids:
            stmt = stmt.where(Post.id.in_(list(ids)))
        rows = session.exec(stmt.order_by(Post.id)).all()
    settled: list[Settled] = []
    async with make_client() as client:
        for post, channel in rows:
            assert post.id is not None
            try:
                publisher = publisher_for(channel, reveal=True, engine=engine)
                found = await publisher.reconcile(client, outgoing(post, publisher))
            except SchedulerError as exc:
                settled.append(Settled(post.id, channel.name, "unknown", str(exc)))
                continue
            if found is not None:
                values = {
                    "status": PostStatus.sent.value,
                    "remote_id": found.remote_id,
                    "remote_url": found.remote_url,
                    "sent_at": utcnow(),
                    "last_error": None,
                }
                outcome = Settled(post.id, channel.name, "sent", found.remote_url or "")
            else:
                values = {"status": PostStatus.queued.value, "next_attempt_at": None}
                outcome = Settled(post.id, channel.name, "queued", "not on the platform")
            with Session(engine) as session:
                changed = session.execute(
                    sa.update(Post)
                    .where(Post.id == post.id, Post.status == PostStatus.unknown.value)
                    .values(updated_at=utcnow(), **values)
                ).rowcount
                session.commit()
            settled.append(
                outcome
                if changed
                else Settled(post.id, channel.name, "unknown", "changed meanwhile")
            )
    return settled
