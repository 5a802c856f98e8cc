"""Mastodon: length the way the server counts it, the limit read from the
instance, Idempotency-Key on every part, thread links, error classification.
Wiring runs against mastodon-mock (a real HTTP server); length rules and the ISO
8601 rate-limit header are tested against the reference sheet, where the mock
deviates."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers.mastodon import MastodonPublisher, comparable, html_to_text
from scheduler.publishers.split import split_thread

from .conftest import LoseAnswers, Reply, channel, outgoing, run, with_client, with_transport

FAMILY = "👨‍👩‍👧‍👦"


@pytest.fixture(scope="module")
def mock():
    server_mod = pytest.importorskip("mastodon_mock.testing.server")
    server = server_mod.MockServer(startup_timeout=30, shutdown_timeout=0.5).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_limits():
    MastodonPublisher._limits.clear()
    yield
    MastodonPublisher._limits.clear()


def adapter(instance: str, token: str | None = "alice_token", **options) -> MastodonPublisher:
    return MastodonPublisher(channel("mastodon", token, instance=instance, **options))


def count(text: str, **options) -> int:
    (m,) = adapter("https://example.social", **options).measure(text)
    return m.count


def test_length_counts_graphemes_urls_as_23_and_local_part_of_mentions():
    assert count(FAMILY) == 1
    assert count("e\u0301") == 1  # e + combining accent: one grapheme
    long_url = "https://example.com/" + "a" * 600
    assert count(f"see {long_url}") == 4 + 23
    assert count(f"see {long_url}.") == 4 + 23 + 1  # the full stop is not part of the URL
    assert count("example.com") == len("example.com")  # no scheme: counted literally
    assert count("hi @coach@sport.example") == len("hi @coach")
    assert count("mail me at a@b") == len("mail me at a@b")
    assert count("abc", spoiler_text="CW: 🏅") == 3 + 5


def test_limit_and_url_weight_come_from_the_instance(stub):
    stub.responder = lambda seen: Reply(
        200,
        {
            "configuration": {
                "statuses": {"max_characters": 1000, "characters_reserved_per_url": 30}
            }
        },
    )
    publisher = adapter(stub.url)
    assert publisher.measure("x")[0].limit == 500  # before the instance is read
    run(with_client(publisher.prepare))
    (m,) = publisher.measure("go https://example.com")
    assert (m.count, m.limit) == (3 + 30, 1000)
    # Cached: another adapter for the same instance does not ask again.
    run(with_client(adapter(stub.url).prepare))
    assert [s.path for s in stub.requests] == ["/api/v2/instance"]


def test_thread_parts_reply_to_the_previous_part(mock):
    publisher = adapter(mock.base_url)
    run(with_client(publisher.prepare))
    text = " ".join(["Grain Valley won the regional final."] * 40)
    parts = split_thread(text, publisher)
    assert len(parts) >= 3 and all(publisher.fits(p) for p in parts)
    post = outgoing(text, *parts, key="thread-m1")
    result = run(with_client(lambda c: publisher.publish(c, post)))
    ids = result.detail["ids"]
    assert result.remote_id == ids[0] and len(ids) == len(parts)
    statuses = [_get(mock, f"/api/v1/statuses/{i}") for i in ids]
    assert statuses[0]["in_reply_to_id"] is None
    for previous, status in zip(ids, statuses[1:], strict=False):
        assert str(status["in_reply_to_id"]) == previous
    assert [comparable(html_to_text(s["content"])) for s in statuses] == parts


def test_retry_of_the_same_post_returns_the_original_statuses(mock):
    publisher = adapter(mock.base_url)
    post = outgoing("one", "part one 1/2", "part two 2/2", key="retry-m1")
    first = run(with_client(lambda c: publisher.publish(c, post)))
    before = _count_statuses(mock)
    again = outgoing("one", "part one 1/2", "part two 2/2", key="retry-m1", attempt=2)
    second = run(with_client(lambda c: adapter(mock.base_url).publish(c, again)))
    assert second.detail["ids"] == first.detail["ids"]
    assert _count_statuses(mock) == before
    found = run(with_client(lambda c: publisher.reconcile(c, post)))
    assert found is not None and found.detail["ids"] == first.detail["ids"]
    never = outgoing("never sent at all", key="never-m1")
    assert run(with_client(lambda c: publisher.reconcile(c, never))) is None


def test_idempotency_key_header_per_part_and_token_hidden(stub):
    ids = iter(range(100, 200))
    stub.responder = lambda seen: (
        Reply(200, {"configuration": {"statuses": {"max_characters": 500}}})
        if seen.path == "/api/v2/instance"
        else Reply(200, {"id": str(next(ids)), "content": "<p>x</p>", "url": "u"})
    )
    publisher = adapter(stub.url, token="s3cret-token")
    post = outgoing("a", "a 1/3", "b 2/3", "c 3/3", key="post-42-k")
    run(with_client(lambda c: publisher.publish(c, post)))
    sent = [s for s in stub.requests if s.path == "/api/v1/statuses"]
    assert [s.headers["idempotency-key"] for s in sent] == [
        "post-42-k",
        "post-42-k/2",
        "post-42-k/3",
    ]
    assert [s.json().get("in_reply_to_id") for s in sent] == [None, "100", "101"]
    assert all(s.headers["authorization"] == "Bearer s3cret-token" for s in sent)
    shown = str([r.redacted() for r in publisher.build_requests(post)])
    assert "s3cret-token" not in shown and "***" in shown


def test_rate_limit_reset_is_read_as_iso_8601(stub):
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stub.responder = lambda seen: Reply(
        429,
        {"error": "Too many requests"},
        {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    )
    MastodonPublisher._limits[stub.url] = (500, 23)
    with pytest.raises(RetryableError) as caught:
        run(with_client(lambda c: adapter(stub.url).publish(c, outgoing("hi"))))
    assert 110 <= caught.value.retry_after <= 121
    assert "Too many requests" in str(caught.value)


def test_mock_faults_classified(mock):
    publisher = adapter(mock.base_url)
    _fault(mock, {"type": "ratelimit"})
    with pytest.raises(RetryableError) as caught:
        run(with_client(lambda c: publisher.publish(c, outgoing("rl", key="f-1"))))
    assert caught.value.status_code == 429 and caught.value.retry_after > 0
    _fault(mock, {"type": "status", "status": 503})
    with pytest.raises(RetryableError):
        run(with_client(lambda c: publisher.publish(c, outgoing("5xx", key="f-2"))))
    # A timeout is retryable here: the key makes a resend safe.
    _fault(mock, {"type": "timeout", "delay_ms": 1500})
    with pytest.raises(RetryableError, match="no answer"):
        run(with_client(lambda c: publisher.publish(c, outgoing("slow", key="f-3")), timeout=0.5))
    with pytest.raises(PermanentError, match="HTTP 401"):
        run(with_client(lambda c: adapter(mock.base_url, "wrong").publish(c, outgoing("x"))))


def test_too_long_is_permanent_with_the_platforms_message(stub):
    stub.responder = lambda seen: Reply(422, {"error": "Validation failed: Text is too long"})
    MastodonPublisher._limits[stub.url] = (5000, 23)
    with pytest.raises(PermanentError, match="Validation failed: Text is too long"):
        run(with_client(lambda c: adapter(stub.url).publish(c, outgoing("x" * 600))))
    MastodonPublisher._limits[stub.url] = (500, 23)
    with pytest.raises(PermanentError, match="600 characters > 500"):
        run(with_client(lambda c: adapter(stub.url).publish(c, outgoing("x" * 600))))


def test_check_shows_the_account(mock):
    info = run(with_client(adapter(mock.base_url).check))
    assert info["acct"] == "alice" and info["max_characters"] == 500


def test_scheduled_status_is_told_apart():
    publisher = adapter("https://example.social")
    request = httpx.Request("POST", "https://example.social/api/v1/statuses")
    scheduled = httpx.Response(
        200,
        json={"id": "7", "scheduled_at": "2026-12-01T10:00:00.000Z", "params": {}},
        request=request,
    )
    status = httpx.Response(
        200, json={"id": "8", "content": "<p>x</p>", "url": "https://e/8"}, request=request
    )
    assert publisher.parse_response(scheduled).detail == {
        "scheduled_at": "2026-12-01T10:00:00.000Z"
    }
    assert publisher.parse_response(status).remote_url == "https://e/8"


def _get(mock, path: str):
    response = httpx.get(mock.base_url + path, headers={"Authorization": "Bearer alice_token"})
    response.raise_for_status()
    return response.json()


def _count_statuses(mock) -> int:
    me = _get(mock, "/api/v1/accounts/verify_credentials")
    return me["statuses_count"]


def _fault(mock, effect: dict) -> None:
    rule = {
        "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
        "effect": effect,
        "count": 1,
    }
    httpx.post(mock.base_url + "/api/v1/_mock/faults", json=rule).raise_for_status()


def test_late_retry_looks_before_posting_because_keys_expire(stub):
    due = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    landed = {
        "id": "55",
        "content": '<p>Late <a href="https://example.com/a"><span class="invisible">https://'
        '</span><span class="">example.com/a</span></a> &amp; on time</p>',
        "created_at": (due + dt.timedelta(seconds=5)).isoformat(),
        "in_reply_to_id": None,
        "url": "https://example.social/@club/55",
    }

    def answer(seen):
        if seen.path.endswith("/verify_credentials"):
            return Reply(200, {"id": "9", "acct": "club"})
        if seen.path == "/api/v1/accounts/9/statuses":
            return Reply(200, [landed])
        return Reply(200, {"id": "56", "content": "<p>dup</p>", "url": "u"})

    stub.responder = answer
    MastodonPublisher._limits[stub.url] = (500, 23)
    post = outgoing("Late https://example.com/a & on time", attempt=2, due_at=due)
    result = run(with_client(lambda c: adapter(stub.url).publish(c, post)))
    assert result.remote_id == "55"
    assert not [s for s in stub.requests if s.method == "POST"]
    # The first attempt, or a prompt retry, trusts the key and posts.
    fresh = outgoing("Late https://example.com/a & on time", attempt=1, due_at=due)
    assert run(with_client(lambda c: adapter(stub.url).publish(c, fresh))).remote_id == "56"


def test_lost_answer_then_retry_posts_once(mock):
    """The status is created but the answer is lost: the adapter calls that
    retryable, and the retry with the same key gets the original status back."""
    publisher = adapter(mock.base_url)
    lose = LoseAnswers(lambda r: r.method == "POST" and r.url.path == "/api/v1/statuses")
    post = outgoing("Landed, answer lost.", key="lost-m1")
    before = _count_statuses(mock)
    with pytest.raises(RetryableError, match="no answer"):
        run(with_transport(lose, lambda c: publisher.publish(c, post)))
    assert _count_statuses(mock) == before + 1
    retried = outgoing("Landed, answer lost.", key="lost-m1", attempt=2)
    result = run(with_client(lambda c: publisher.publish(c, retried)))
    assert _count_statuses(mock) == before + 1
    assert comparable(
        html_to_text(_get(mock, f"/api/v1/statuses/{result.remote_id}")["content"])
    ) == ("Landed, answer lost.")
