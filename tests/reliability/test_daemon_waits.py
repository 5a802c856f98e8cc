"""A daemon started before its database waits for it (saying so) instead of
exiting, then publishes; `scheduler status` is the health check."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from scheduler.storage import database, migrations

from . import harness
from .pgserver import PgCluster, find_bindir
from .sink import Sink


def _pg_ctl(cluster: PgCluster, *args: str) -> None:
    cluster._run(str(cluster.bindir / "pg_ctl"), "-D", str(cluster.data), *args)


@pytest.mark.postgres
def test_a_daemon_started_before_postgresql_waits_for_it(tmp_path, sink: Sink) -> None:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries; run .ci/install-postgres.sh")
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        url = cluster.url
        engine = database.make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        ids = harness.add_channels(url, {"ok": f"{sink.base}/ok"})
        harness.add_posts(url, [ids["ok"]], 3)
        _pg_ctl(cluster, "-m", "fast", "-w", "stop")  # the database is down

        env = harness.daemon_env(url, sweep_seconds=0.5)
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "daemon", "--log-format", "json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # It says it waits (a line on stderr) and is still alive.
            first = proc.stderr.readline()
            assert "cannot open database" in first and "trying again" in first, first
            assert proc.poll() is None
            status = subprocess.run(
                [sys.executable, "-m", "scheduler", "status"],
                env=env,
                capture_output=True,
                text=True,
            )
            assert status.returncode == 1 and status.stderr.startswith("error:")
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} "
                f"-c unix_socket_directories={cluster.root}"
            )
            _pg_ctl(cluster, "-o", opts, "-l", str(cluster.root / "log"), "-w", "start")
            for _ in range(600):
                if harness.status_counts(url)["sent"] == 3:
                    break
                time.sleep(0.2)
            assert harness.status_counts(url)["sent"] == 3
            assert proc.poll() is None
            status = subprocess.run(
                [sys.executable, "-m", "scheduler", "status", "--json"],
                env=env,
                capture_output=True,
                text=True,
            )
            assert status.returncode == 0, status.stderr
            assert '"sent": 3' in status.stdout
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    finally:
        cluster.stop()
    assert sorted(sink.snapshot().requests.values()) == [1, 1, 1]
