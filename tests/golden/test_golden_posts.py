"""Every post `plan` makes from two articles, rendered and compared with the
texts an editor read and accepted (`tests/golden/*.posts.txt`).

The articles: `late_model_feature.txt` (written for this test in the shape of
a motor-racing interview feature: a quote broken by its attribution, a long
quote, a quote nobody is credited with, sentences opening with their date or
with "Indeed,", an event already over) and the demo's bundled sample. Each is
planned on three channels: X with the credit, hashtags and link options (280
weighted characters, so long posts are shortened), Bluesky making threads, and
an outbox with calendar posts in the same slots as the article's posts.

When a change to the text is intended, regenerate with
`SCHEDULER_UPDATE_GOLDEN=1 pytest tests/golden`, read every post, and commit.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlmodel import select

from scheduler.accounts import channels
from scheduler.compose import make_environment
from scheduler.delivery.outgoing import outgoing
from scheduler.demo import SAMPLE
from scheduler.ingest import extract, load_article
from scheduler.ingest.articles import store_article
from scheduler.planning.rules import CalendarRule
from scheduler.planning.service import plan_from_article, plan_recurring_posts
from scheduler.storage import database, migrations
from scheduler.storage.models import Channel, Post
from scheduler.when import show

HERE = Path(__file__).parent
DEMO = SAMPLE
START = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
UPDATE = os.environ.get("SCHEDULER_UPDATE_GOLDEN") == "1"

ARTICLES = {
    "late_model_feature": (HERE / "late_model_feature.txt", dt.date(2023, 5, 10)),
    "demo": (DEMO, dt.date(2026, 11, 30)),
}

CHANNELS = (
    (
        "x-credit",
        "x",
        {
            "credit": "via Prairie Speed Weekly",
            "hashtags": "true",
            "link": "true",
        },
        "GOLDEN_X_KEYS",
        "mon-fri 09:00,13:00",
    ),
    ("sky-thread", "bluesky", {"thread": "true"}, "GOLDEN_SKY_PASSWORD", "mon-fri 10:00"),
    ("outbox", "outbox", {"path": "golden-outbox.jsonl"}, None, "mon-sun 09:00"),
)


def _plan_all(tmp_path: Path, name: str) -> str:
    path, published = ARTICLES[name]
    engine = database.make_engine(f"sqlite:///{tmp_path / 'golden.db'}")
    migrations.upgrade(engine)
    env = make_environment()
    loaded = load_article(str(path))
    extraction = extract(loaded.text, published=published)
    out: list[str] = []
    with database.session_scope(engine) as session:
        stored = store_article(session, loaded, extraction)
        article_id = str(stored.article.id)
        # The demo article has no address; give it one so the link option shows.
        stored.article.url = stored.article.url or f"https://example.org/news/{name}"
        session.add(stored.article)
        for chan, platform, options, secret, slots in CHANNELS:
            channels.add_channel(
                session,
                chan,
                platform,
                options=dict(options),
                secret_env=secret,
                timezone="America/Regina",
                slots=slots,
            )
        channels.set_calendar_rule(
            session, "outbox", CalendarRule(throwback="thu 09:00", countdown=[7, 0])
        )
        for chan, *_ in CHANNELS:
            kinds = ["quote", "milestone"] + (["link"] if chan == "x-credit" else [])
            planned = plan_from_article(
                session,
                env,
                article_id,
                chan,
                kinds=kinds,
                templates={},
                start=START.isoformat(),
            )
            out.append(f"=== plan {name} on {chan}: {len(planned.rows)} posts")
            out.extend(f"note: {n}" for n in planned.notes)
        recurring = plan_recurring_posts(
            session, env, START, START + dt.timedelta(days=400), channel="outbox"
        )
        out.append(f"=== plan --recurring on outbox: {len(recurring.rows)} posts")
        out.extend(f"note: {n}" for n in recurring.notes)
        by_id = {c.id: c for c in session.exec(select(Channel))}
        posts = session.exec(select(Post).order_by(Post.channel_id, Post.due_at, Post.id))
        for post in posts:
            chan = by_id[post.channel_id]
            publisher = channels.publisher_for(chan, reveal=False)
            parts = outgoing(post, publisher).texts
            fits = all(publisher.fits(p) for p in parts)
            out.append(
                f"--- {chan.name} · {post.template} · {show(post.due_at, chan.timezone)}"
                + ("" if fits else " · OVER LIMIT")
            )
            if len(parts) == 1:
                out.append(post.text)
            else:
                for i, part in enumerate(parts, 1):
                    out.append(f"[part {i}/{len(parts)}]")
                    out.append(part)
    engine.dispose()
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_planned_posts_match_the_accepted_texts(tmp_path: Path, name: str) -> None:
    rendered = _plan_all(tmp_path, name)
    golden = HERE / f"{name}.posts.txt"
    if UPDATE:
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"no {golden.name}; run with SCHEDULER_UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_accepted_texts_keep_the_rules(name: str) -> None:
    """What an editor rejects never appears in the accepted texts themselves."""
    text = (HERE / f"{name}.posts.txt").read_text(encoding="utf-8")
    posts = [p for p in text.split("\n--- ")[1:]]
    assert posts
    for post in posts:
        body = post.split("\n", 1)[1]
        first = body.lstrip().split("\n", 1)[0]
        assert "OVER LIMIT" not in post.split("\n", 1)[0]
        for word in ("Indeed", "However", "In fact", "Meanwhile", "And ", "But "):
            assert not first.split(": ", 1)[-1].startswith(word), post
        assert "(5 years ago): On" not in body and ": In 20" not in body, post
        # The ellipsis of a shortened quote stands outside its marks.
        assert "…”" not in body, post
