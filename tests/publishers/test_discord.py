"""Discord webhooks against a loopback stub answering like Discord (message
objects under wait=true, 429 with retry_after in the body, code 10015)."""

from __future__ import annotations

import json

import pytest

from scheduler.errors import PermanentError, RetryableError, UnknownOutcomeError
from scheduler.publishers.discord import DiscordPublisher

from .conftest import Reply, channel, outgoing, run, with_client

TOKEN = "wh-TOKEN-abcdef0123456789"


def adapter(stub, **options) -> DiscordPublisher:
    url = f"{stub.url}/api/webhooks/111/{TOKEN}"
    return DiscordPublisher(channel("discord", url, **options))


def discord(stub, thread_channel: str = "900"):
    ids = iter(range(7000, 7100))

    def answer(seen):
        if seen.method == "GET":
            return Reply(
                200,
                {"id": "111", "name": "Scores", "channel_id": "555", "guild_id": "333", "type": 1},
            )
        if seen.query.get("wait") != ["true"]:
            return Reply(204)
        body = seen.json()
        channel_id = seen.query.get("thread_id", ["555"])[0]
        if "thread_name" in body:
            channel_id = thread_channel
        return Reply(
            200, {"id": str(next(ids)), "channel_id": channel_id, "content": body["content"]}
        )

    stub.responder = answer


def test_length_in_code_points(stub):
    publisher = adapter(stub)
    assert publisher.measure("👨‍👩‍👧‍👦")[0].count == 7
    assert publisher.fits("é" * 2000) and not publisher.fits("é" * 2001)


def test_posts_with_wait_true_and_no_pings(stub):
    discord(stub)
    result = run(with_client(lambda c: adapter(stub).publish(c, outgoing("hello @everyone"))))
    (seen,) = stub.requests
    assert seen.path == f"/api/webhooks/111/{TOKEN}" and seen.query["wait"] == ["true"]
    assert seen.json() == {"content": "hello @everyone", "allowed_mentions": {"parse": []}}
    assert result.remote_id == "7000"


def test_sends_say_what_sends_them(stub):
    # Discord's API asks every client for a User-Agent; the daemon's client has
    # one, but client.send sends a bare httpx.Request without it.
    from scheduler import USER_AGENT
    from scheduler.delivery.lanes import make_client

    discord(stub)

    async def go():
        async with make_client() as client:
            return await adapter(stub).publish(client, outgoing("hello"))

    run(go())
    (seen,) = stub.requests
    assert seen.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("scheduler/")


def test_forum_thread_parts_follow_into_the_new_thread(stub):
    discord(stub, thread_channel="901")
    publisher = adapter(stub, thread_name="Match day")
    result = run(
        with_client(lambda c: publisher.publish(c, outgoing("x", "a 1/3", "b 2/3", "c 3/3")))
    )
    first, *rest = stub.requests
    assert first.json()["thread_name"] == "Match day" and "thread_id" not in first.query
    assert all(s.query["thread_id"] == ["901"] and "thread_name" not in s.json() for s in rest)
    assert result.detail["ids"] == ["7000", "7001", "7002"]


def test_rate_limit_reads_retry_after_from_the_body(stub):
    stub.queue.append(
        Reply(
            429,
            {"message": "You are being rate limited.", "retry_after": 1.75, "global": False},
            {"Retry-After": "2", "X-RateLimit-Scope": "user"},
        )
    )
    with pytest.raises(RetryableError, match="scope user") as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    assert caught.value.retry_after == 1.75


def test_errors_classified(stub):
    stub.queue.append(Reply(404, {"message": "Unknown Webhook", "code": 10015}))
    with pytest.raises(PermanentError, match="disable this channel"):
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    stub.queue.append(
        Reply(400, {"message": "Invalid Form Body", "code": 50035, "errors": {"content": {}}})
    )
    with pytest.raises(PermanentError, match="Invalid Form Body"):
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    stub.queue.append(Reply(502, {"message": "502: Bad Gateway", "code": 0}))
    with pytest.raises(RetryableError):
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    stub.queue.append(Reply(200, {"id": "1"}, delay=1.0))
    with pytest.raises(UnknownOutcomeError) as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi")), timeout=0.3))
    assert TOKEN not in str(caught.value)


def test_preview_hides_the_token_and_check_shows_the_webhook(stub):
    discord(stub)
    shown = json.dumps([r.redacted() for r in adapter(stub).build_requests(outgoing("a"))])
    assert TOKEN not in shown and "/api/webhooks/111/***?wait=true" in shown
    info = run(with_client(adapter(stub).check))
    assert info == {"webhook": "Scores", "id": "111", "channel_id": "555", "guild_id": "333"}
