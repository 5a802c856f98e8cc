"""Shared by the fault suite and benchmarks/chaos.py: channels and thousands of
posts written straight to the database, real `scheduler daemon` processes, and
the final accounting of what reached the sink."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from scheduler.storage import database
from scheduler.storage.models import Channel, Post, PostStatus, utcnow

from .sink import SinkStats

ROOT = Path(__file__).resolve().parents[2]
#: Holds the `plainhook` adapter (a platform that does not dedupe) and its entry point.
PLUGIN = Path(__file__).resolve().parent / "plugin"


def add_channels(
    url: str, endpoints: dict[str, str], platform: str = "webhook", **fields: object
) -> dict[str, int]:
    """Webhook channels name -> URL; returns name -> id. `plainhook` is the
    same adapter for a platform that does not dedupe (see plugin/)."""
    engine = database.make_engine(url)
    ids = {}
    with database.session_scope(engine) as session:
        for name, endpoint in endpoints.items():
            channel = Channel(name=name, platform=platform, options={"url": endpoint}, **fields)
            session.add(channel)
            session.flush()
            assert channel.id is not None
            ids[name] = channel.id
    engine.dispose()
    return ids


def add_posts(
    url: str,
    channel_ids: list[int],
    count: int,
    *,
    due: dt.datetime | None = None,
    spread_seconds: float = 0.0,
) -> None:
    """`count` queued posts spread round-robin over the channels, in one bulk insert."""
    engine = database.make_engine(url)
    due = due or utcnow()
    now = utcnow()
    rows = [
        {
            "channel_id": channel_ids[i % len(channel_ids)],
            "status": PostStatus.queued.value,
            "text": f"post number {i}",
            "source_kind": "manual",
            "due_at": due + dt.timedelta(seconds=spread_seconds * i / max(count, 1)),
            "idempotency_key": uuid.uuid4().hex,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with database.session_scope(engine) as session:
        for i in range(0, len(rows), 1000):
            session.execute(sa.insert(Post), rows[i : i + 1000])
    engine.dispose()


def status_counts(url: str) -> Counter[str]:
    engine = database.make_engine(url)
    with Session(engine) as session:
        rows = session.execute(sa.select(Post.status, sa.func.count()).group_by(Post.status))
        counts = Counter({status: n for status, n in rows})
    engine.dispose()
    return counts


def posts_by_key(url: str) -> dict[str, tuple[int, str, str]]:
    """idempotency key -> (post id, status, platform)."""
    engine = database.make_engine(url)
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Post.idempotency_key, Post.id, Post.status, Channel.platform).join(
                Channel, Channel.id == Post.channel_id
            )
        ).all()
    engine.dispose()
    return {key: (post_id, status, platform) for key, post_id, status, platform in rows}


def daemon_env(url: str, **settings: object) -> dict[str, str]:
    env = dict(os.environ)
    env["SCHEDULER_DB"] = url
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(PLUGIN), *filter(None, [env.get("PYTHONPATH")])]
    )
    for key, value in settings.items():
        env[f"SCHEDULER_{key.upper()}"] = str(value)
    return env


class DaemonProcess:
    """A real `python -m scheduler daemon`, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.monotonic()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "daemon", "--json"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=out,
                cwd=self.log.parent,
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM, once the process is surely past start-up (before its
        handler is installed, SIGTERM simply ends Python, which is harmless
        but is not the clean stop checked here)."""
        if self.proc is None:
            return None
        time.sleep(max(0.0, self.started_at + 4.0 - time.monotonic()))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Tally:
    """The end of a run, from the database and the sink together.

    - sent: posts marked sent whose key the sink published (once: it dedupes)
    - lost: posts not finished (still queued or sending), or marked sent but
      never published at the sink
    - duplicated: posts the receiver published twice, i.e. under two keys;
      the same key arriving again is a deduped resend, not a duplicate
    - failed_but_published: posts marked failed that the sink did publish
      (`failed` must mean "not on the platform")
    - resends: requests repeating a key the sink had already published
    - acked_resends: keys for which the sink answered 2xx more than once
    - unsafe_resends: requests repeating an already published key of a post on
      a platform that does not dedupe: there, each would be a second post, so
      this must be 0 (an unclear outcome must become `unknown`, never a resend)
    """

    posts: int
    statuses: dict[str, int]
    sent: int
    lost: int
    duplicated: int
    unknown: int
    failed: int
    failed_but_published: int
    stray: int
    resends: int
    acked_resends: int
    unsafe_resends: int
    requests: int
    faults: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def tally(url: str, stats: SinkStats) -> Tally:
    posts = posts_by_key(url)
    statuses = Counter(status for _, status, _ in posts.values())
    sent_ok = sum(1 for k, (_, s, _) in posts.items() if s == "sent" and k in stats.published)
    sent_missing = sum(
        1 for k, (_, s, _) in posts.items() if s == "sent" and k not in stats.published
    )
    unfinished = statuses["queued"] + statuses["sending"]
    failed_published = sum(
        1 for k, (_, s, _) in posts.items() if s == "failed" and k in stats.published
    )
    unsafe = sum(n for k, n in stats.replays.items() if k in posts and posts[k][2] != "webhook")
    return Tally(
        posts=len(posts),
        statuses=dict(statuses),
        sent=sent_ok,
        lost=unfinished + sent_missing,
        duplicated=len(stats.duplicate_publications()),
        unknown=statuses["unknown"],
        failed=statuses["failed"],
        failed_but_published=failed_published,
        stray=sum(1 for k in stats.published if k not in posts),
        resends=sum(stats.replays.values()),
        acked_resends=len(stats.acked_more_than_once()),
        unsafe_resends=unsafe,
        requests=sum(stats.requests.values()),
        faults=dict(stats.faults),
    )


@dataclass
class ChaosRun:
    tally: Tally
    kills: int
    seconds: float
    exit_codes: list[int | None]


def run_chaos(
    url: str,
    sink_base: str,
    stats: Callable[[], SinkStats],
    workdir: Path,
    *,
    posts: int,
    channels: int = 4,
    plain_channels: int = 1,
    daemons: int = 1,
    kills: int = 4,
    spread_seconds: float = 0.0,
    stall_seconds: float = 180.0,
    seed: int = 7,
    settings: dict[str, object] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ChaosRun:
    """Queue `posts` posts over `channels` webhook channels and
    `plain_channels` channels of a platform that does not dedupe, all pointing
    at the sink's /chaos, run `daemons` real daemon processes, SIGKILL one at
    random `kills` times (and start it again at once) until every post is
    finished, then stop them with SIGTERM and count.

    Bounded by progress, not by the clock: the kills fall at even steps of the
    posts finished (so each daemon life does some work however slow the
    machine), and the run gives up only when nothing at all has changed for
    `stall_seconds`."""
    rng = random.Random(seed)
    ids = add_channels(url, {f"ch{i}": f"{sink_base}/chaos/{i}" for i in range(channels)})
    ids |= add_channels(
        url,
        {f"plain{i}": f"{sink_base}/chaos/p{i}" for i in range(plain_channels)},
        platform="plainhook",
    )
    add_posts(url, list(ids.values()), posts, spread_seconds=spread_seconds)
    cfg: dict[str, object] = {
        "lease_seconds": 2,
        "sweep_seconds": 0.5,
        "retry_base_seconds": 0.2,
        "max_attempts": 10,
        "request_timeout_seconds": 1,
        "channel_concurrency": 8,
        "grace_seconds": 3600,
    }
    cfg.update(settings or {})
    env = daemon_env(url, **cfg)
    procs = [DaemonProcess(env, workdir / f"daemon{i}.log") for i in range(daemons)]
    started = time.monotonic()
    for p in procs:
        p.start()
    # Kill when this many posts have finished: 1/(kills+1), 2/(kills+1), ...
    marks = [posts * (k + 1) // (kills + 1) for k in range(kills)]
    last_counts: Counter[str] | None = None
    last_change = time.monotonic()
    try:
        while True:
            time.sleep(0.2)
            counts = status_counts(url)
            unfinished = counts["queued"] + counts["sending"]
            if progress is not None:
                progress(f"{time.monotonic() - started:6.1f}s {dict(counts)}")
            if unfinished == 0:
                break
            if counts != last_counts:
                last_counts, last_change = counts, time.monotonic()
            elif time.monotonic() - last_change > stall_seconds:
                break  # no progress at all: the tally shows what is left
            if marks and posts - unfinished >= marks[0]:
                marks.pop(0)
                victim = rng.choice(procs)
                victim.kill()
                victim.start()
            for p in procs:
                if not p.alive:  # a crash we did not cause is a failure, but keep going
                    p.start()
    finally:
        codes = [p.terminate() for p in procs]
    elapsed = time.monotonic() - started
    return ChaosRun(tally(url, stats()), sum(p.kills for p in procs), elapsed, codes)
