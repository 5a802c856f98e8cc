"""Many channels and long runs: a global bound on sends in flight, channels
taking turns under it, and no per-post state kept once a post is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import httpx
import pytest

from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.lanes import CONNECTIONS as POOL_CONNECTIONS
from scheduler.delivery.lanes import LANE_CONNECTIONS, Lanes, make_client, make_lanes
from scheduler.previews.simulation import simulate
from scheduler.storage import database

from . import harness
from .sink import Sink
from .test_dispatch import posts, settings


def _pump_all(url: str, cfg, observe, lanes: bool = False) -> Dispatcher:  # type: ignore[no-untyped-def]
    """Pump until everything is sent, through one client given to the
    dispatcher, or (`lanes`) through the daemon's several small pools."""

    async def go() -> Dispatcher:
        engine = database.make_engine(url)
        async with contextlib.AsyncExitStack() as stack:
            if lanes:
                wire = await stack.enter_async_context(make_lanes(cfg.request_timeout_seconds))
                d = Dispatcher(engine, cfg, lanes=wire)
            else:
                client = await stack.enter_async_context(make_client(cfg.request_timeout_seconds))
                d = Dispatcher(engine, cfg, client=client)
            for _ in range(10_000):
                started = await d.pump()
                observe(d, started)
                if not started and not d.in_flight and not d._done:
                    break
                await asyncio.sleep(0)
                if d._tasks:
                    await asyncio.wait(set(d._tasks), return_when=asyncio.FIRST_COMPLETED)
            await d.drain(timeout=10)
        engine.dispose()
        return d

    return asyncio.run(go())


def test_many_channels_share_a_global_bound_and_all_get_through(sqlite_url: str, sink: Sink):
    channels = harness.add_channels(sqlite_url, {f"c{i}": f"{sink.base}/ok" for i in range(150)})
    harness.add_posts(sqlite_url, list(channels.values()), 450)
    cfg = settings(sqlite_url, max_in_flight=12, channel_concurrency=4)
    peak = 0
    first_pass_channels: set[int] = set()

    def observe(d: Dispatcher, started: int) -> None:
        nonlocal peak
        peak = max(peak, d.in_flight)
        if not first_pass_channels:
            first_pass_channels.update(f.channel_id for f in d._flights.values())

    d = _pump_all(sqlite_url, cfg, observe)
    assert peak <= 12
    assert [p.status for p in posts(sqlite_url)].count("sent") == 450
    assert sorted(sink.snapshot().requests.values()) == [1] * 450
    # With a budget of 12 and 4 a channel, the first pass still reaches several
    # channels, and nothing per post is left once everything is recorded.
    assert len(first_pass_channels) >= 3
    assert d.in_flight == 0 and not d._done and d._events is None
    assert sum(d._busy.values()) == 0


@pytest.mark.parametrize("lanes", [False, True], ids=["one-client", "lanes"])
def test_sends_on_the_wire_are_bounded_by_the_pool_and_connections_are_kept(
    sqlite_url: str, lanes: bool
):
    """100 sends in flight over many channels, against a receiver slow enough
    for them to pile up: at most the client's pool size are answered at once,
    no more connections are open at once than the pool holds, and they are
    reused rather than opened per post. Before the bound, sends past the pool waited
    inside httpcore's pool and kept-alive slots were fewer than connections,
    so nearly every post opened a new connection."""
    server = Sink(ok_delay=0.05)
    server.start()
    try:
        channels = harness.add_channels(
            sqlite_url, {f"c{i}": f"{server.base}/ok" for i in range(60)}
        )
        harness.add_posts(sqlite_url, list(channels.values()), 360)
        cfg = settings(sqlite_url, max_in_flight=100, channel_concurrency=4)
        peak = 0

        def observe(d: Dispatcher, started: int) -> None:
            nonlocal peak
            peak = max(peak, d.in_flight)

        _pump_all(sqlite_url, cfg, observe, lanes=lanes)
        stats = server.snapshot()
    finally:
        server.stop()
    assert [p.status for p in posts(sqlite_url)].count("sent") == 360
    assert sorted(stats.requests.values()) == [1] * 360
    # More sends were in flight than the pool holds, so the bound was tested.
    assert peak > POOL_CONNECTIONS
    assert 1 <= stats.peak_busy <= POOL_CONNECTIONS
    assert stats.peak_open <= POOL_CONNECTIONS
    # Kept alive: connections are reused, not one a post. (A count, not the
    # pool size: on a busy machine an idle connection may outlive its
    # keep-alive and be reopened now and then.)
    assert stats.connections <= 360 // 4


def test_lanes_let_through_at_most_their_connections_each_and_all_get_a_turn():
    """20 sends at once over 3 lanes of 2: never more than 2 on one lane nor 6
    in all, every lane used, and the sink never sees more connections open at
    once than the lanes hold (each pool opens at most its 2)."""
    server = Sink(ok_delay=0.02)
    server.start()
    busy: dict[int, int] = {}
    peak: dict[int, int] = {}
    peak_total = 0

    async def one(lanes: Lanes, n: int) -> int:
        nonlocal peak_total
        async with lanes.lane() as client:
            k = id(client)
            busy[k] = busy.get(k, 0) + 1
            peak[k] = max(peak.get(k, 0), busy[k])
            peak_total = max(peak_total, sum(busy.values()))
            try:
                resp = await client.post(f"{server.base}/ok", headers={"Idempotency-Key": f"k{n}"})
                return resp.status_code
            finally:
                busy[k] -= 1

    async def go() -> list[int]:
        clients = [make_client(5.0, 2) for _ in range(3)]
        async with Lanes(clients, 2) as lanes:
            assert lanes.size == 6
            return await asyncio.gather(*(one(lanes, n) for n in range(20)))

    try:
        codes = asyncio.run(go())
        stats = server.snapshot()
    finally:
        server.stop()
    assert codes == [200] * 20
    assert sorted(stats.requests.values()) == [1] * 20
    assert len(peak) == 3 and max(peak.values()) <= 2
    assert peak_total == 6  # the gate let as many through as there is room for
    assert stats.peak_open <= 6


def test_the_daemon_lanes_keep_the_per_host_total():
    """Ten pools of two: the same 20 connections in all as one pool held."""
    lanes = make_lanes()
    assert lanes.size == POOL_CONNECTIONS == len(lanes.clients) * LANE_CONNECTIONS
    for client in lanes.clients:
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == pool._max_keepalive_connections == LANE_CONNECTIONS
    with pytest.raises(ValueError):
        Lanes([], 4)
    with pytest.raises(ValueError):
        Lanes([httpx.AsyncClient()], 0)
    asyncio.run(lanes.aclose())


def test_what_is_not_a_send_goes_over_a_client_apart():
    """The lanes' client apart has a pool of its own, is made once, and is
    closed with them; lanes of one given client share that one."""
    lanes = make_lanes()
    apart = lanes.apart()
    assert apart is lanes.apart() and all(apart is not c for c in lanes.clients)
    asyncio.run(lanes.aclose())
    assert apart.is_closed and all(c.is_closed for c in lanes.clients)
    only = httpx.AsyncClient()
    assert Lanes([only], 4).apart() is only
    asyncio.run(only.aclose())


def test_channels_take_turns_under_the_bound(sqlite_url: str, sink: Sink):
    """The first channels' backlogs never starve the last channel."""
    channels = harness.add_channels(sqlite_url, {f"c{i}": f"{sink.base}/ok" for i in range(10)})
    ids = list(channels.values())
    harness.add_posts(sqlite_url, ids, 200)
    cfg = settings(sqlite_url, max_in_flight=4, channel_concurrency=4)
    seen_last_at: list[int] = []
    passes = 0

    def observe(d: Dispatcher, started: int) -> None:
        nonlocal passes
        passes += 1
        if not seen_last_at and any(f.channel_id == ids[-1] for f in d._flights.values()):
            seen_last_at.append(passes)

    _pump_all(sqlite_url, cfg, observe)
    # 10 channels, 4 sends a pass: the last channel's turn comes within a few
    # passes, not after the other nine have emptied their 180 posts.
    assert seen_last_at and seen_last_at[0] <= 12, seen_last_at


def test_simulate_reads_each_post_once(sqlite_url: str, sink: Sink, monkeypatch):
    channels = harness.add_channels(sqlite_url, {f"c{i}": f"{sink.base}/ok" for i in range(5)})
    harness.add_posts(sqlite_url, list(channels.values()), 200, spread_seconds=86400)
    read = 0
    real = Dispatcher.__init__

    def counting_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real(self, *args, **kwargs)
        due = self.exchange.due_posts

        def counted(*a, **k):  # type: ignore[no-untyped-def]
            nonlocal read
            rows = due(*a, **k)
            read += len(rows)
            return rows

        self.exchange.due_posts = counted

    monkeypatch.setattr(Dispatcher, "__init__", counting_init)
    engine = database.make_engine(sqlite_url)
    steps = simulate(
        engine,
        settings(sqlite_url),
        dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
    )
    engine.dispose()
    assert len(steps) == 200
    assert read == 200  # once each, not once per moment walked


def _looks(engine):  # type: ignore[no-untyped-def]
    """Records each pass's looks for due channels: 'all' when one read every
    channel (an open-ended id range), else 'known'."""
    import sqlalchemy as sa

    seen: list[str] = []

    def record(conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        looks_at_channels = "FROM channels" in statement and "channels.id >" in statement
        if statement.lstrip().startswith("SELECT") and looks_at_channels:
            seen.append("known" if "channels.id <=" in statement else "all")

    sa.event.listen(engine, "before_cursor_execute", record)
    return seen


def test_a_busy_channel_beside_idle_ones_does_not_look_at_them_every_pass(db_url: str) -> None:
    """One channel with a backlog, 300 with nothing due until later: after one
    complete look, passes look only at the busy channel, until a post of
    another channel falls due, until the daemon is told of new posts
    (`forget_due`, as on a NOTIFY), or until the look is a second old.
    Virtual time: each pass is given its `now`."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange
    from scheduler.storage.models import utcnow

    t0 = utcnow()
    busy = harness.add_channels(db_url, {"busy": "http://127.0.0.1:9/b"})["busy"]
    idle = harness.add_channels(db_url, {f"c{i}": "http://127.0.0.1:9/x" for i in range(300)})
    harness.add_posts(db_url, [busy], 40, due=t0 - dt.timedelta(minutes=1))
    later = idle["c150"]
    harness.add_posts(db_url, [later], 1, due=t0 + dt.timedelta(seconds=0.5))
    harness.add_posts(db_url, list(idle.values()), 300, due=t0 + dt.timedelta(days=1))
    engine = database.make_engine(db_url)
    exchange = Exchange(engine, load_settings(db=db_url), "me")
    looks = _looks(engine)

    def one_pass(at: float) -> list[int]:
        looks.clear()
        result = exchange.run([], t0 + dt.timedelta(seconds=at), lambda _c: 2, 100)
        return [f.channel_id for f in result.started]

    assert one_pass(0.0) == [busy, busy] and looks == ["all"]
    assert one_pass(0.1) == [busy, busy] and set(looks) == {"known"}
    assert one_pass(0.2) == [busy, busy] and set(looks) == {"known"}
    # c150's post falls due at 0.5 s: the look is over.
    assert sorted(one_pass(0.6)) == [busy, busy, later] and "all" in looks
    assert one_pass(0.7) == [busy, busy] and set(looks) == {"known"}
    exchange.forget_due()
    assert one_pass(0.8) == [busy, busy] and "all" in looks
    assert one_pass(0.9) == [busy, busy] and set(looks) == {"known"}
    assert one_pass(2.0) == [busy, busy] and "all" in looks
    engine.dispose()


def test_a_look_that_stopped_at_the_budget_is_not_kept(sqlite_url: str) -> None:
    """With more due channels than the pass may start sends on, the look
    stops early and says nothing of the channels it did not reach: the
    next pass reads on from there."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange
    from scheduler.storage.models import utcnow

    t0 = utcnow()
    ids = harness.add_channels(sqlite_url, {f"c{i}": "http://127.0.0.1:9/x" for i in range(30)})
    harness.add_posts(sqlite_url, list(ids.values()), 60, due=t0 - dt.timedelta(minutes=1))
    engine = database.make_engine(sqlite_url)
    exchange = Exchange(engine, load_settings(db=sqlite_url), "me")
    looks = _looks(engine)
    taken: list[int] = []
    for i in range(6):
        looks.clear()
        result = exchange.run([], t0 + dt.timedelta(seconds=i / 100), lambda _c: 1, 10)
        taken += [f.channel_id for f in result.started]
        assert "known" not in looks
    # Every channel got its turn, each once, in two rounds of 30.
    assert sorted(taken[:30]) == sorted(ids.values())
    assert sorted(taken[30:]) == sorted(ids.values())[:30]
    engine.dispose()


def test_a_kept_look_at_many_channels_still_finds_each_of_them(sqlite_url: str) -> None:
    """A kept look at more than a few channels reads their id range at once;
    every one of them that still has a post due comes back, whatever else in
    the range fell due meanwhile."""
    from scheduler.delivery import claims
    from scheduler.storage.models import utcnow

    now = utcnow()
    ids = list(
        harness.add_channels(
            sqlite_url, {f"c{i}": "http://127.0.0.1:9/x" for i in range(1000)}
        ).values()
    )
    harness.add_posts(sqlite_url, ids, 1000, due=now - dt.timedelta(minutes=1))
    engine = database.make_engine(sqlite_url)
    known = ids[::111]  # 10 of them, spread, with 990 others due in between
    with engine.connect() as conn:
        found = [row[0] for row in claims.due_channel_rows_among(conn, now, known)]
    assert set(known) <= set(found)
    engine.dispose()
