"""`scheduler demo`: the whole path on a bundled sample, offline, in seconds.

It ingests a sample article (a fictional cyclist, written for this project),
adds two channels, plans posts over their slots, shows the editor's desk (a
channel whose posts wait for review: drafts listed, one approved, one edited),
previews two of them, then runs
the dispatcher in dry-run mode on a virtual clock that jumps from one due time
to the next, so two weeks of posting plays out at once. Nothing leaves the
machine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from scheduler.accounts import channels
from scheduler.compose.length import truncate_graphemes
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.ingest import extract, load_article
from scheduler.ingest.articles import store_article
from scheduler.output import console, gist, lit
from scheduler.planning.expiry import source_expiry
from scheduler.planning.plan import plan_article
from scheduler.previews.preview import preview_posts
from scheduler.previews.simulation import due_times
from scheduler.previews.terminal import print_event, print_previews
from scheduler.publishers.split import threads_allowed
from scheduler.storage import database, migrations

SAMPLE = Path(__file__).parent / "samples" / "ice_and_iron.txt"
DEMO_DB = "scheduler-demo.db"
TIMEZONE = "America/Winnipeg"


def run_demo(state: Any, *, keep: bool = True) -> None:
    started = time.perf_counter()
    work = Path.cwd()
    if not os.access(work, os.W_OK):
        # A read-only folder (a mounted checkout, a container): the demo's
        # database and outbox go to a fresh temporary folder instead.
        work = Path(tempfile.mkdtemp(prefix="scheduler-demo-"))
        console.print(f"this folder is read-only; the demo works in {work}", markup=False)
    db_file = str(work / DEMO_DB)
    url = state.db or f"sqlite:///{db_file}"
    if state.db is None:
        for suffix in ("", "-wal", "-shm"):
            Path(db_file + suffix).unlink(missing_ok=True)
    engine = database.make_engine(url)
    migrations.upgrade(engine)
    console.rule("1. ingest")
    loaded = load_article(str(SAMPLE))
    extraction = extract(loaded.text, published=loaded.published)
    with database.session_scope(engine) as session:
        stored = store_article(session, loaded, extraction)
        article_id = stored.article.id
    console.print(f"{SAMPLE.name}: {stored.quotes} quotes, {stored.milestones} milestones")
    for q in extraction.quotes:
        console.print(
            f"  [cyan]{lit(q.speaker or '?')}[/]: “{lit(truncate_graphemes(q.text, 70))}”",
            highlight=False,
        )
    for m in extraction.milestones:
        console.print(
            f"  [magenta]{m.date.isoformat()} ({m.precision}, {m.tense})[/] {lit(m.text[:60])}…"
        )

    console.rule("2. channels and plan")
    start = dt.datetime.now(dt.UTC)
    with database.session_scope(engine) as session:
        made = []
        for name, platform, options, secret, slots in (
            (
                "team-hook",
                "webhook",
                {"url": "http://127.0.0.1:8787/hooks/posts"},
                "SCHEDULER_DEMO_HOOK_SECRET",
                "mon-fri 09:00,13:00",
            ),
            (
                "outbox",
                "outbox",
                {"path": str(work / "scheduler-demo-outbox.jsonl")},
                None,
                "mon-sun 18:30",
            ),
        ):
            existing = [c for c in channels.list_channels(session) if c.name == name]
            chan = (
                existing[0]
                if existing
                else channels.add_channel(
                    session,
                    name,
                    platform,
                    options=options,
                    secret_env=secret,
                    timezone=TIMEZONE,
                    slots=slots,
                )
            )
            made.append(chan)
        env = state.template_env()
        for chan in made:
            assert article_id is not None
            publisher = channels.publisher_for(chan, reveal=False)
            result = plan_article(
                session,
                env,
                article_id,
                chan,
                kinds=("quote", "milestone"),
                start=start,
                fits=publisher.fits,
                thread=threads_allowed(publisher),
                expires=lambda source, chan=chan: source_expiry(
                    session, source.kind, source.id, chan
                ),
            )
            console.print(
                f"{chan.name} ({chan.platform}, {chan.slots} {TIMEZONE}): "
                f"{len(result.created)} posts queued"
            )
            for note in result.notes:
                console.print(f"  note: {note}", markup=False)

    assert article_id is not None
    desk_step(engine, state.template_env(), article_id, start, work)
    feed_step(engine, state.settings, state.template_env)

    console.rule("3. preview (what would be sent)")
    with database.session_scope(engine) as session:
        print_previews(preview_posts(session, limit=2))

    console.rule("4. daemon, dry run, fast clock")
    until = start + dt.timedelta(days=14)
    dispatcher = Dispatcher(engine, state.settings, dry_run=True)

    async def play() -> int:
        count = 0
        for moment in due_times(engine, start, until):
            for event in await dispatcher.run_due(now=moment):
                print_event(event)
                count += 1
        return count

    shown = asyncio.run(play())
    took = time.perf_counter() - started
    console.rule("done")
    console.print(
        f"{shown} posts over two weeks would go out; nothing was sent. ({took:.1f}s)\n"
        f"Explore: scheduler --db {url} queue list   |   scheduler --db {url} preview 1"
    )
    if not keep and state.db is None:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(db_file + suffix).unlink(missing_ok=True)


def desk_step(engine: Any, env: Any, article_id: int, start: dt.datetime, work: Path) -> None:
    """A channel that requires review: its planned posts are drafts; one is
    approved as it stands, one is edited (counted again, its quote checked
    against the source, a new key) and approved."""
    from scheduler.desk.editing import edit_post
    from scheduler.desk.review import approve, card, draft_ids

    console.rule("2b. the desk: review before anything is queued")
    with database.session_scope(engine) as session:
        existing = [c for c in channels.list_channels(session) if c.name == "desk"]
        chan = (
            existing[0]
            if existing
            else channels.add_channel(
                session,
                "desk",
                "outbox",
                options={"path": str(work / "scheduler-demo-desk.jsonl")},
                secret_env=None,
                timezone=TIMEZONE,
                slots="mon-fri 12:00",
                review=True,
            )
        )
        plan_article(session, env, article_id, chan, kinds=("quote",), start=start, limit=3)
        ids = draft_ids(session, "desk")
        for post_id in ids:
            c = card(session, post_id)
            m = c["lengths"][0]
            console.print(
                f"  draft {post_id}, {c['due_local']}, {m['count']}/{m['limit']} {m['unit']}: "
                f"{lit(truncate_graphemes(gist(c['text']), 60))}",
                highlight=False,
            )
    if len(ids) < 2:
        console.print("  (fewer than two drafts: nothing more to show)")
        return
    with database.session_scope(engine) as session:
        console.print(f"  approve: {lit(approve(session, ids[0])['message'])}")
    with database.session_scope(engine) as session:
        before = card(session, ids[1])
        done = edit_post(session, ids[1], text=before["text"].rstrip() + "\n#IceAndIron")
        m = done["lengths"][0]
        checked = "quote still verbatim" if done["verbatim"] is not False else "NOT verbatim"
        key = "new" if done["idempotency_key"] != before["idempotency_key"] else "same"
        console.print(
            f"  edit: post {ids[1]} now {m['count']}/{m['limit']} {m['unit']}, {checked}, "
            f"{key} idempotency key"
        )
        console.print(f"  approve: {lit(approve(session, ids[1])['message'])}")
    console.print(
        f"  {len(ids) - 2} draft(s) left for `scheduler review`; the daemon never sends a draft"
    )


RINK = Path(__file__).parent / "samples" / "rink_news.html"


def feed_step(engine: Any, settings: Any, env: Any) -> None:
    """A feed served on 127.0.0.1: `feeds add` and one poll ingest its new
    entry's article once and plan it for the review channel, as drafts."""
    import threading
    from functools import partial

    from scheduler.feeds.service import add_feed, poll_now

    console.rule("2c. a feed: new articles arrive by themselves")
    site = Path(tempfile.mkdtemp(prefix="scheduler-demo-feed-"))
    (site / "rink.html").write_bytes(RINK.read_bytes())
    handler = partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    (site / "feed.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Northgate news</title>'
        f"<link>{base}/</link><item><title>A new outdoor oval</title>"
        f"<link>{base}/rink.html</link><guid>{base}/rink.html</guid>"
        "<pubDate>Sat, 28 Nov 2026 14:00:00 GMT</pubDate></item></channel></rss>",
        encoding="utf-8",
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with database.session_scope(engine) as session:
            # A local address: the demo says so, as a user of an intranet feed would.
            add_feed(session, f"{base}/feed.xml", ["desk"], allow_private=True)
        for polled in poll_now(engine, settings, env):
            console.print(
                f"  {polled['url']}: {polled['new_entries']} new entry, "
                f"{polled['articles']} article ingested, {polled['posts']} drafts planned on desk",
                highlight=False,
            )
        again = poll_now(engine, settings, env)[0]
        unchanged = "unchanged (304)" if str(again["status"]) == "304" else again["status"]
        console.print(f"  polled again: {unchanged}, {again['new_entries']} new", highlight=False)
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the feed's folder without a log line per request in the demo."""

    def log_message(self, format: str, *args: Any) -> None:
        pass
