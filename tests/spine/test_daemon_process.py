"""The long-running daemon as a real process: it wakes for a post added by
another process, publishes it, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.spine.sink import Sink


def _wait(predicate, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _start_daemon(db_url: str, folder, **settings: str) -> subprocess.Popen:
    """`scheduler daemon` as its own process on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update({"SCHEDULER_DB": db_url, "NO_COLOR": "1", **settings})
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", "daemon"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_daemon_publishes_then_stops_on_sigterm(ready_cli, db_url, tmp_path):
    with Sink() as sink:
        ready_cli("channels", "add", "hook", "--platform", "webhook", "-o", f"url={sink.url}/x")
        proc = _start_daemon(db_url, tmp_path, SCHEDULER_SWEEP_SECONDS="0.5")
        try:
            added = ready_cli("queue", "add", "hook", "from another process", "--at", "+1s")
            assert added.code == 0, added.stderr
            assert _wait(lambda: len(sink.received) == 1), "daemon did not publish"
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err
        assert sink.received[0].json()["text"] == "from another process"
        status = ready_cli("queue", "list", "--json").json()["posts"][0]["status"]
        assert status == "sent"


def test_daemon_queues_recurring_posts_itself(ready_cli, db_url, tmp_path):
    article = (
        "Mia Castell Refuses to Coast\n\n"
        '"Every session is a chance to be a little less wrong," Castell said.\n'
    )
    (tmp_path / "a.txt").write_text(article, encoding="utf-8")
    ready_cli("ingest", "a.txt")
    (quote,) = ready_cli("quotes", "list", "--json").json()
    assert ready_cli("quotes", "tag", str(quote["id"]), "--category", "grit").code == 0
    ready_cli("channels", "add", "box", "--platform", "outbox", "-o", f"path={tmp_path}/o.jsonl")
    evergreen = ready_cli(
        "channels",
        "evergreen",
        "box",
        "--category",
        "grit",
        "--every",
        "mon-sun 06:00,18:00",
        "--cooldown",
        "1h",
    )
    assert evergreen.code == 0, evergreen.stderr
    assert ready_cli("queue", "list", "--json").json()["posts"] == []

    proc = _start_daemon(db_url, tmp_path)
    try:

        def planned() -> list:
            return ready_cli("queue", "list", "--json").json()["posts"]

        assert _wait(lambda: len(planned()) > 0), "daemon planned nothing"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    posts = planned()
    assert {p["template"] for p in posts} == {"evergreen"}
    assert all("less wrong" in p["text"] for p in posts)
