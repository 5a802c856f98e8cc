"""Shared helpers for the benchmark scripts: a fresh database with a channel,
timing, percentiles, and the figures' printout (text, then one JSON line)."""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session


def fresh_db(path: Path) -> tuple[Engine, str]:
    """A migrated SQLite database at `path` (what `scheduler init` makes)."""
    from scheduler.storage import database, migrations

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    engine = database.make_engine(url)
    migrations.upgrade(engine)
    return engine, url


def _webhook_channel(session: Session, name: str, url: str) -> int:
    from scheduler.accounts import channels

    channel = channels.add_channel(
        session,
        name,
        "webhook",
        options={"url": url},
        secret_env=None,
        timezone="UTC",
        slots="mon-sun 09:00",
    )
    assert channel.id is not None
    return channel.id


def add_webhook_channel(engine: Engine, name: str, url: str) -> int:
    from scheduler.storage import database

    with database.session_scope(engine) as session:
        return _webhook_channel(session, name, url)


def add_webhook_channels(session: Session, count: int, url: str) -> list[int]:
    """`bench-0` ... `bench-{count-1}`, in the caller's one transaction (a
    session per channel would dominate building thousands of them)."""
    ids = [_webhook_channel(session, f"bench-{c}", url) for c in range(count)]
    session.flush()
    return ids


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gb = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    import sqlite3

    return {
        "python": platform.python_version(),
        "os": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "sqlite": sqlite3.sqlite_version,
    }


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def report(name: str, figures: dict[str, Any]) -> None:
    """The last line of every script: its figures as one JSON object."""
    figures = {"benchmark": name, **figures, "machine": machine()}
    print(json.dumps(figures, sort_keys=False, default=str), flush=True)


def scheduler_command() -> list[str]:
    """How to run the installed CLI from this interpreter's environment.

    The package's bytecode is compiled first, as `pip install` does for an
    installed package: an editable checkout under PYTHONDONTWRITEBYTECODE
    (this machine sets it) would otherwise compile every module from source
    at each start, 0.1 s of CPU that no installed copy pays."""
    _compile_package()
    exe = Path(sys.executable).with_name("scheduler")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "scheduler"]


def run_quiet(cmd: Sequence[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


@functools.cache
def _compile_package() -> None:
    import compileall

    import scheduler

    compileall.compile_dir(Path(scheduler.__file__).parent, quiet=1)
