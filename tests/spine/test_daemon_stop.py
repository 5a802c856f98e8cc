"""A daemon stopped while one of its scheduled jobs runs (the first planning
of recurring posts starts with the daemon) lets the job finish and stops
quietly: no job cancelled half-way, no traceback in the log."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading

from scheduler.config import Settings
from scheduler.delivery.daemon import Daemon
from scheduler.storage import database


def test_a_stop_during_the_first_planning_waits_for_it(tmp_path, migrated, caplog) -> None:  # type: ignore[no-untyped-def]
    shutil.copyfile(migrated, tmp_path / "stop.db")
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    engine = database.make_engine(url)
    settings = Settings(db=url, sweep_seconds=0.2, lease_seconds=30)
    started, release = threading.Event(), threading.Event()
    finished: list[int] = []

    class Planning(Daemon):
        def _plan_recurring(self) -> int:
            started.set()
            release.wait(timeout=30)
            finished.append(1)
            return 0

    async def main() -> None:
        daemon = Planning(engine, settings, listen=False)
        task = asyncio.create_task(daemon.run_forever())
        # Progress, not time: the planning job is running in its thread.
        while not started.is_set():
            await asyncio.sleep(0.01)
        daemon.stop()
        # The daemon is stopping and waits for the job; let the job end.
        await asyncio.sleep(0.1)
        assert not task.done(), "the daemon stopped before its running job ended"
        release.set()
        await task

    with caplog.at_level(logging.INFO):
        asyncio.run(main())
    engine.dispose()
    assert finished == [1]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("daemon stopped" in r.getMessage() for r in caplog.records)
