"""A channel with the `thread` option sends a long post as numbered parts, and
the preview shows the same parts the daemon sends."""

from __future__ import annotations

from tests.spine.sink import Reply, Sink

LONG = (
    "The relay team finished fourth in the heats, then rebuilt the changeover "
    "order overnight and took silver in the final by three hundredths."
)


def test_long_post_goes_out_as_a_numbered_thread(ready_cli):
    with Sink() as sink:
        sink.default = Reply(200, "ok", {"Content-Type": "text/plain"})
        hook = f"{sink.url}/services/T000/B000/s3cr3tpath"
        added = ready_cli(
            "channels",
            "add",
            "team",
            "--platform",
            "slack",
            "--secret-env",
            "TEAM_SLACK",
            "-o",
            "thread=true",
            "-o",
            "max_length=60",
        )
        assert added.code == 0, added.stderr
        post = ready_cli("queue", "add", "team", LONG, "--at", "now", "--json").json()

        (item,) = ready_cli("preview", str(post["id"]), "--json").json()
        parts = item["parts"]
        assert len(parts) == 3
        assert [p.rsplit(" ", 1)[1] for p in parts] == ["1/3", "2/3", "3/3"]
        assert all(m["ok"] for m in item["lengths"])
        assert "s3cr3tpath" not in str(item)

        run = ready_cli("daemon", "--once", "--json", env={"TEAM_SLACK": hook})
        assert [e["status"] for e in run.json()] == ["sent"], run.stdout + run.stderr
        sent = [r.json()["text"] for r in sink.received]
        assert sent == parts
        assert " ".join(p.rsplit(" ", 1)[0] for p in sent) == LONG
