"""Editing a post before it goes out: new words or a new time (`queue edit`,
the `e` key of `scheduler review`).

New words are held to what planning held them to: counted again the
platform's way (over the limit is refused), and on a quote post every quoted
passage must still be word for word in the source sentence, unless the person
says it no longer is (`not_verbatim`), which the post then records. New words
get a new idempotency key, because they are a new post to the platform; once a
send has begun the words and key are frozen, since the platform may already
hold the post under that key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex
from sqlmodel import Session

from scheduler.errors import NotVerbatimError, PlanningError
from scheduler.planning.held import UNKNOWN_SPEAKER, is_held
from scheduler.storage.models import PENDING, Article, Channel, Post, PostStatus, Quote, utcnow

# Text between quotation marks, curly or straight, in the languages posts use.
_QUOTED = regex.compile(r"[“\"«„]([^”\"»“]+)[”\"»“]")
_ELLIPSIS = regex.compile(r"…|\.\.\.")
_EDGE = " \t\n,.;:!?-–—'’"


@dataclass(frozen=True)
class Counted:
    """The length of a text as its channel's platform counts it."""

    lengths: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(m["ok"] for m in self.lengths)

    def worst(self) -> dict[str, Any]:
        over = [m for m in self.lengths if not m["ok"]]
        return (over or self.lengths)[0]


def count(post: Post, channel: Channel, text: str | None = None) -> Counted:
    """Count `text` (default: the post's) for the channel's platform, in thread
    parts when the channel splits long posts, exactly as a send would."""
    from scheduler.accounts.channels import publisher_for
    from scheduler.delivery.outgoing import outgoing

    publisher = publisher_for(channel, reveal=False)
    probe = Post.model_validate(post.model_dump() | {"text": post.text if text is None else text})
    parts = outgoing(probe, publisher).texts
    return Counted(
        [
            {"unit": m.unit, "count": m.count, "limit": m.limit, "ok": m.ok, "part": i}
            for i, part in enumerate(parts, 1)
            for m in publisher.measure(part)
        ]
    )


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").split())


def quoted_passages(text: str) -> list[str]:
    return [m.group(1) for m in _QUOTED.finditer(text)]


def unquoted_words(text: str, sources: list[str]) -> list[str]:
    """The passages quoted in `text` (split at an ellipsis) that none of
    `sources` holds word for word; every passage is checked, so an edit cannot
    slip a new sentence inside the marks."""
    haystacks = [_norm(s) for s in sources]
    bad = []
    for passage in quoted_passages(text):
        for piece in _ELLIPSIS.split(passage):
            words = _norm(piece).strip(_EDGE)
            if words and not any(words in h for h in haystacks):
                bad.append(words)
    return bad


def quote_sources(session: Session, post: Post) -> list[str] | None:
    """What a quote post may quote: the quote as stored (joined with its other
    parts when an attribution broke it) and its source sentences (None when the
    post is not from a stored quote)."""
    from scheduler.ingest.articles import sentence_around

    if post.source_kind != "quote" or post.source_id is None:
        return None
    quote = session.get(Quote, post.source_id)
    article = session.get(Article, quote.article_id) if quote else None
    if quote is None or article is None:
        return None
    from scheduler.planning.whole_quotes import whole_quote_of

    # A quote broken by its attribution is posted whole (`whole_quotes`): its
    # joined words and every part's sentence may be quoted.
    whole = whole_quote_of(session, quote)
    parts = whole.parts if whole is not None else (quote,)
    sources = [whole.text] if whole is not None else []
    for part in parts:
        sources += [part.text, sentence_around(article.text, part.start, part.end)]
    return sources


def check_verbatim(session: Session, post: Post, text: str, *, not_verbatim: bool) -> bool | None:
    """The post's `verbatim` mark after an edit to `text`; refuses an edit that
    breaks the quote unless `not_verbatim`."""
    sources = quote_sources(session, post)
    if sources is None or post.verbatim is False:
        return post.verbatim  # not a quote, or already marked as not verbatim
    passages = quoted_passages(text)
    bad = unquoted_words(text, sources)
    if passages and not bad:
        return post.verbatim
    if not not_verbatim:
        what = (
            f"“{bad[0][:60]}” is not in the source sentence"
            if bad
            else "the text no longer quotes its source in quotation marks"
        )
        raise NotVerbatimError(
            f"post {post.id} is a quote post and {what}; fix the words, or pass "
            "--not-verbatim to post it marked as not verbatim"
        )
    return False


def editable(post: Post, *, text_changes: bool) -> None:
    """Refuse editing a post whose send has begun (or that is over)."""
    status = PostStatus(post.status)
    if status in (PostStatus.sending, PostStatus.sent, PostStatus.unknown):
        raise PlanningError(
            f"post {post.id} is {status.value}: a send has begun, so it can no longer be edited"
        )
    if status not in PENDING:
        raise PlanningError(
            f"post {post.id} is {status.value}; only drafts and queued posts are edited"
            + (" (`queue retry` it first)" if status != PostStatus.rejected else "")
        )
    if text_changes and post.attempts:
        # A failed try may still have reached the platform under this key.
        raise PlanningError(
            f"post {post.id} has been tried {post.attempts} time(s); its words and key "
            "stay as sent, so a retry cannot post two versions (move it with --at instead)"
        )


def clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise PlanningError("a post needs some text")
    if "\x00" in text:
        raise PlanningError("post text contains a NUL character (U+0000); remove it")
    return text


#: A quote post's attribution line ("— Lena Varga"), and a line opening
#: the quote (`templates/posts/quote.j2`).
_ATTRIBUTION = regex.compile(r"^[ \t]*[—–][ \t]*(?P<name>\S.*?)[ \t]*$", regex.M)
_OPENS_QUOTE = regex.compile(r"^[ \t]*“", regex.M)
#: The quote's words, its marks around them, and the ellipsis a cut leaves outside.
_QUOTE_BLOCK = regex.compile(r"“(?P<words>.+)”[ \t]*…?", regex.S)


def _quote_words(text: str) -> str | None:
    """The words of the quote that ends `text` (above its attribution line):
    from the last line opening a quote, so a headline above it is left out."""
    opens = [m.start() for m in _OPENS_QUOTE.finditer(text)]
    if not opens:
        return None
    block = _QUOTE_BLOCK.fullmatch(text[opens[-1] :].strip())
    return block["words"].strip() if block else None


def redrawn_card(
    session: Session, post: Post, channel: Channel, text: str, templates: Sequence[Path] = ()
) -> list[dict[str, Any]] | None:
    """A quote post's card drawn again for its edited `text`, on a channel with
    cards: the words the text now quotes and the name on its attribution line.
    None when the card stays as it is: no cards here, or no name to draw (the
    line missing, or still `[speaker unknown]`: a card never names nobody)."""
    if post.source_kind != "quote" or post.source_id is None:
        return None
    from scheduler.accounts.channels import publisher_for
    from scheduler.media.attach import cards_on, quote_card
    from scheduler.resources import templates_dir

    publisher = publisher_for(channel, reveal=False)
    if not cards_on(publisher):
        return None
    names = list(_ATTRIBUTION.finditer(text))
    if not names or UNKNOWN_SPEAKER in names[-1]["name"]:
        return None
    quote = session.get(Quote, post.source_id)
    article = session.get(Article, post.article_id) if post.article_id else None
    if quote is None or article is None:
        return None
    words = _quote_words(text[: names[-1].start()])
    folders = [*map(Path, templates), templates_dir()]
    card = quote_card(
        session, publisher, folders, article, quote, text=words, speaker=names[-1]["name"]
    )
    return [card]


def edit_post(
    session: Session,
    post_id: int,
    *,
    text: str | None = None,
    at: str | None = None,
    not_verbatim: bool = False,
    now: dt.datetime | None = None,
    templates: Sequence[Path] = (),
) -> dict[str, Any]:
    """Give a draft or queued post new words, a new time (`at`, read in its
    channel's zone), or both; nothing is written unless every check passes.
    A quote post's card is drawn again from the new words (`redrawn_card`;
    `templates`: the folders a user's card layout may be in)."""
    import sqlalchemy as sa

    from scheduler.desk.posts import get_post, post_dict
    from scheduler.when import parse_when

    if text is None and at is None:
        raise PlanningError("give --text, --at, or neither to edit the text in $EDITOR")
    now = now or utcnow()
    post = get_post(session, post_id)
    channel = session.get(Channel, post.channel_id)
    assert channel is not None
    new_text = clean_text(text) if text is not None else post.text
    changed = new_text != post.text
    editable(post, text_changes=changed)
    values: dict[str, Any] = {}
    card: list[dict[str, Any]] | None = None
    counted = count(post, channel, new_text)
    if changed:
        if not counted.ok:
            m = counted.worst()
            raise PlanningError(
                f"post {post_id} would be {m['count']} {m['unit']}, over {channel.platform}'s "
                f"limit of {m['limit']}; shorten it"
            )
        values |= {
            "text": new_text,
            "verbatim": check_verbatim(session, post, new_text, not_verbatim=not_verbatim),
            "idempotency_key": uuid.uuid4().hex,
        }
        if is_held(post.reason):
            # A person has put in what was missing: the draft may be approved.
            values["reason"] = "edited after it was " + post.reason
        card = redrawn_card(session, post, channel, new_text, templates)
        if card is not None:
            values["media"] = card
    if at is not None:
        values |= {"due_at": parse_when(at, channel.timezone), "next_attempt_at": None}
    if values:
        values["updated_at"] = utcnow()
        done = session.execute(
            sa.update(Post)
            .where(
                Post.id == post.id,
                Post.status == post.status,
                Post.idempotency_key == post.idempotency_key,
            )
            .values(**values)
        )
        if done.rowcount != 1:
            raise PlanningError(f"post {post_id} changed meanwhile; look again with `queue show`")
        session.flush()
        session.refresh(post)
    late = (now - post.due_at).total_seconds() if at is not None else 0
    return post_dict(post, channel) | {
        "text_changed": changed,
        "card_redrawn": card is not None,
        "moved": at is not None,
        "verbatim": post.verbatim,
        "lengths": counted.lengths,
        "late_seconds": round(late) if late > 60 else 0,
    }
