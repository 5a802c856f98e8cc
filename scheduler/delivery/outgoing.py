"""A stored post as its adapter gets it (the client it goes through is in
`delivery.lanes`).

Previews, the dry run, reconcile and real sends all build the adapter's input
here, so none of them can see different text or thread parts than another.

`unread` is the same post for the claim's check (`delivery.exchange`): the
claim builds a post's requests to fail, before anything leaves, a post that
cannot be sent, and the send builds them again with what the platform answers
(tokens, upload ids). Building them with the media's bytes at the claim read,
hashed and encoded every file twice per send (and a pass claims many posts at
once), so the check gets files that are only looked at, and each file is read
once, by the send that uploads it.
"""

from __future__ import annotations

import dataclasses
import os

from scheduler.delivery.attempts import Claimed
from scheduler.errors import PermanentError
from scheduler.media.store import items, link_card, stored_json
from scheduler.publishers import OutgoingPost, Publisher
from scheduler.publishers.base import MediaItem
from scheduler.publishers.split import split_thread
from scheduler.storage.models import Post


def outgoing(post: Post | Claimed, publisher: Publisher | None = None) -> OutgoingPost:
    """The post as its adapter gets it. On a channel with the `thread` option, a
    text too long for the platform is split into numbered parts; the split is
    deterministic, so a retry or a reconcile sees the same parts."""
    assert post.id is not None
    parts: tuple[str, ...] = ()
    # Asked through model_fields: pydantic's path for a missing attribute is slow.
    options = publisher.options if publisher is not None else None
    if publisher is not None and "thread" in type(options).model_fields and options.thread:  # type: ignore[union-attr]
        pieces = split_thread(post.text, publisher)
        if len(pieces) > 1:
            parts = tuple(pieces)
    media = stored_json(post.media) if post.media else None
    card = stored_json(post.link_card) if post.link_card else None
    return OutgoingPost(
        post_id=post.id,
        idempotency_key=post.idempotency_key,
        text=post.text,
        due_at=post.due_at,
        attempt=max(post.attempts, 1),
        parts=parts,
        link=post.link,
        # Posts without media (most) never read the settings for the folder.
        media=items(media, base_url=getattr(options, "media_base_url", None)) if media else (),
        card=link_card(card) if card else None,
    )


@dataclasses.dataclass(frozen=True)
class UnreadMedia(MediaItem):
    """A file as the claim's check sees it: there, and of the size it was
    queued with, but not read (the send reads it, and checks its hash)."""

    def read(self) -> bytes:
        try:
            size = os.stat(self.path).st_size
        except OSError as exc:
            raise PermanentError(f"media file {self.path} cannot be read: {exc.strerror}") from None
        if size != self.size:
            raise PermanentError(f"media file {self.path} changed since it was queued")
        return b""


def unread(post: OutgoingPost) -> OutgoingPost:
    """`post` with every file (and the link card's thumbnail) a stand-in that
    is not read; the same post when it carries none."""
    card = post.card
    if not post.media and (card is None or card.thumb is None):
        return post
    media = tuple(UnreadMedia(**dataclasses.asdict(m)) for m in post.media)
    if card is not None and card.thumb is not None:
        card = dataclasses.replace(card, thumb=UnreadMedia(**dataclasses.asdict(card.thumb)))
    return dataclasses.replace(post, media=media, card=card)
