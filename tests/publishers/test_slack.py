"""Slack incoming webhooks against a loopback stub answering in plain text
(`ok`, or an error string with the status), as Slack does."""

from __future__ import annotations

import json

import pytest

from scheduler.errors import PermanentError, RetryableError, UnknownOutcomeError
from scheduler.publishers.slack import SlackPublisher

from .conftest import Reply, channel, outgoing, run, with_client

PATH = "T0001/B0002/hook-SECRET-xyz"


def adapter(stub, **options) -> SlackPublisher:
    return SlackPublisher(channel("slack", f"{stub.url}/services/{PATH}", **options))


def test_escapes_only_amp_lt_gt_and_posts_parts_in_order(stub):
    stub.responder = lambda seen: Reply(200, "ok")
    text = "Tom & Jerry <3 \"quotes\" 'stay' *bold*"
    result = run(with_client(lambda c: adapter(stub).publish(c, outgoing("x", text, "2/2"))))
    first, second = (s.json() for s in stub.requests)
    assert first["text"] == "Tom &amp; Jerry &lt;3 \"quotes\" 'stay' *bold*"
    assert second["text"] == "2/2"
    assert result.detail == {"parts": 2}


def test_length_counts_the_escaped_text(stub):
    publisher = adapter(stub)
    assert publisher.measure("a&b")[0].count == len("a&amp;b")
    assert publisher.fits("x" * 4000) and not publisher.fits("&" * 1000)


def test_errors_classified(stub):
    stub.queue.append(Reply(429, "rate_limited", {"Retry-After": "30"}))
    with pytest.raises(RetryableError) as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    assert caught.value.retry_after == 30
    stub.queue.append(Reply(500, "rollup_error"))
    with pytest.raises(RetryableError, match="rollup_error"):
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    for status, answer in [
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
        (403, "action_prohibited"),
        (400, "invalid_payload"),
    ]:
        stub.queue.append(Reply(status, answer))
        with pytest.raises(PermanentError, match=answer):
            run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    stub.queue.append(Reply(200, "ok", delay=1.0))
    with pytest.raises(UnknownOutcomeError) as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi")), timeout=0.3))
    assert "SECRET" not in str(caught.value)


def test_check_posts_nothing_visible(stub):
    stub.queue.append(Reply(400, "no_text"))
    assert run(with_client(adapter(stub).check)) == {"webhook": "live", "team": "T0001"}
    assert stub.requests[-1].json() == {}
    stub.queue.append(Reply(404, "no_service"))
    with pytest.raises(PermanentError, match="no_service"):
        run(with_client(adapter(stub).check))


def test_preview_hides_the_webhook_path(stub):
    shown = json.dumps([r.redacted() for r in adapter(stub).build_requests(outgoing("a"))])
    assert "SECRET" not in shown and "/services/***" in shown
