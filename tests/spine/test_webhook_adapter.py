"""The webhook adapter against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import httpx
import pytest
from standardwebhooks import Webhook

from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers import ChannelInfo, OutgoingPost, publisher_class
from tests.spine.sink import Reply, Sink

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _post(text: str = "Ready when you are 🚴‍♀️") -> OutgoingPost:
    return OutgoingPost(7, "key-7", text, dt.datetime(2026, 12, 1, 14, 0, tzinfo=dt.UTC))


def _publisher(url: str, secret: str | None = SECRET):
    cls = publisher_class("webhook")
    return cls(ChannelInfo("hook", "webhook", {"url": url}, secret=secret))


def _publish(publisher, post, timeout: float = 5.0):
    async def go():
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await publisher.publish(client, post)

    return asyncio.run(go())


def test_sends_signed_json_with_idempotency_key():
    with Sink() as sink:
        sink.default = Reply(200, '{"id": 99}')
        result = _publish(_publisher(sink.url + "/in"), _post())
        assert result.remote_id == "99"
        (got,) = sink.received
        assert got.path == "/in"
        assert got.headers["Idempotency-Key"] == "key-7"
        assert got.json()["text"] == "Ready when you are 🚴‍♀️"
        Webhook(SECRET).verify(got.body, got.headers)


def test_preview_request_is_the_sent_request_minus_the_signature():
    with Sink() as sink:
        publisher = _publisher(sink.url + "/in")
        (built,) = publisher.build_requests(_post())
        shown = built.redacted()
        _publish(publisher, _post())
        (got,) = sink.received
        assert shown["json"] == got.json()
        assert shown["body_size"] == len(got.body)
        assert shown["headers"]["webhook-signature"] == "v1,***"
        assert got.headers["webhook-signature"] != "v1,***"


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (Reply(429, "slow down", {"Retry-After": "17"}), RetryableError, 17.0),
        (Reply(503, '{"message": "maintenance"}'), RetryableError, None),
        (Reply(400, '{"message": "text is required"}'), PermanentError, None),
        (Reply(410, "gone"), PermanentError, None),
        (Reply(301, "", {"Location": "http://127.0.0.1:1/elsewhere"}), PermanentError, None),
    ],
)
def test_errors_are_classified(reply, error, retry_after):
    with Sink() as sink:
        sink.default = reply
        with pytest.raises(error) as info:
            _publish(_publisher(sink.url), _post())
        assert str(reply.status) in str(info.value)
        if retry_after is not None:
            assert info.value.retry_after == retry_after
        assert len(sink.received) == 1  # a redirect is not followed


def test_platform_message_is_shown():
    with Sink() as sink:
        sink.default = Reply(422, '{"message": "text too long for this board"}')
        with pytest.raises(PermanentError, match="text too long for this board"):
            _publish(_publisher(sink.url), _post())


def test_refused_connection_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RetryableError, match="cannot connect"):
        _publish(_publisher(f"http://127.0.0.1:{port}/x"), _post())


def test_timeout_is_retryable_because_receivers_dedupe_by_key():
    with Sink() as sink:
        sink.default = Reply(200, "{}", delay=1.0)
        with pytest.raises(RetryableError, match="no answer"):
            _publish(_publisher(sink.url), _post(), timeout=0.2)


def test_length_counts_graphemes_not_code_points():
    publisher = _publisher("http://127.0.0.1:1/x")
    family = "👩‍👩‍👧‍👦"
    (measure,) = publisher.measure(family * 3)
    assert measure.count == 3
    assert len(family * 3) == 21


def test_without_secret_there_is_no_signature():
    with Sink() as sink:
        _publish(_publisher(sink.url, secret=None), _post())
        assert "webhook-signature" not in {k.lower() for k in sink.received[0].headers}


def test_channels_test_passes_a_receiver_that_takes_only_post():
    """HEAD refused as a method (405) still shows the receiver is there; a test
    POST would publish, so none is sent."""

    async def check(publisher):
        async with httpx.AsyncClient(timeout=5) as client:
            return await publisher.check(client)

    with Sink() as sink:
        sink.default = Reply(405, "")
        info = asyncio.run(check(_publisher(sink.url + "/in")))
        assert info["status"] == 405 and info["note"] == "POST only"
        assert [r.method for r in sink.received] == ["HEAD"]
        sink.default = Reply(503, "")
        with pytest.raises(PermanentError):
            asyncio.run(check(_publisher(sink.url + "/in")))
