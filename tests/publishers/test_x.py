"""X: weighted length from twitter-text, threads as replies, OAuth 1.0a signing,
x-rate-limit headers, and recovery after an unknown outcome. No local X server
exists, so requests are mocked with respx using the shapes in the API docs."""

from __future__ import annotations

import json
import time
from urllib.parse import unquote

import httpx
import pytest
import respx

from scheduler.errors import PermanentError, RetryableError, UnknownOutcomeError
from scheduler.publishers import oauth1
from scheduler.publishers.split import split_thread
from scheduler.publishers.x import XPublisher

from .conftest import NOW, channel, outgoing, run, with_client

API = "https://api.x.com"
KEYS = {
    "consumer_key": "ck-123",
    "consumer_secret": "cs-SECRET-456",
    "access_token": "at-789",
    "access_token_secret": "ats-SECRET-000",
}


def adapter(secret: str = "user-bearer-token", **options) -> XPublisher:
    return XPublisher(channel("x", secret, **options))


def weighted(text: str) -> int:
    (m,) = adapter().measure(text)
    return m.count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world! 👋", 16),
        ("日本語", 6),
        ("👨‍👩‍👧‍👦", 2),
        ("https://example.com/" + "a" * 80, 23),
        ("cafe\u0301", 4),  # NFD input counts as its NFC form
        ("“quoted”—dash", 13),  # U+2010..U+201F weigh 1
        ("한국어 テスト", 13),
    ],
)
def test_weighted_length_vectors(text, expected):
    assert weighted(text) == expected


def test_limit_is_280_weighted():
    publisher = adapter()
    assert publisher.fits("字" * 140)
    assert not publisher.fits("字" * 141)
    assert publisher.fits("a" * 280) and not publisher.fits("a" * 281)


def test_split_thread_fits_weighted_limit():
    publisher = adapter()
    text = ("長い文章 " * 60) + "end"
    parts = split_thread(text, publisher)
    assert len(parts) > 1
    assert all(publisher.fits(p) for p in parts)
    assert parts[-1].endswith(f" {len(parts)}/{len(parts)}")
    assert "".join(p.rsplit(" ", 1)[0] for p in parts).replace(" ", "") == text.replace(" ", "")


@respx.mock
def test_thread_replies_to_previous_part():
    ids = iter(["1001", "1002", "1003"])
    route = respx.post(f"{API}/2/tweets").mock(
        side_effect=lambda request: httpx.Response(
            201, json={"data": {"id": next(ids), "text": json.loads(request.content)["text"]}}
        )
    )
    post = outgoing("x", "one 1/3", "two 2/3", "three 3/3")
    result = run(with_client(lambda c: adapter().publish(c, post)))
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert [b.get("reply") for b in bodies] == [
        None,
        {"in_reply_to_tweet_id": "1001"},
        {"in_reply_to_tweet_id": "1002"},
    ]
    assert result.remote_id == "1001" and result.detail["ids"] == ["1001", "1002", "1003"]
    assert result.remote_url == "https://x.com/i/web/status/1001"
    assert route.calls[0].request.headers["authorization"] == "Bearer user-bearer-token"


def test_oauth1_signature_matches_the_documented_example():
    header = oauth1.authorization(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp=1318622958,
        form={"status": "Hello Ladies + Gentlemen, a signed OAuth request!"},
    )
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header


@respx.mock
def test_oauth1_requests_are_signed_and_keys_never_shown():
    route = respx.post(f"{API}/2/tweets").mock(
        return_value=httpx.Response(201, json={"data": {"id": "5", "text": "hi"}})
    )
    publisher = adapter(json.dumps(KEYS))
    run(with_client(lambda c: publisher.publish(c, outgoing("hi"))))
    header = route.calls[0].request.headers["authorization"]
    fields = dict(
        (k, unquote(v.strip('"'))) for k, v in (p.split("=", 1) for p in header[6:].split(", "))
    )
    assert fields["oauth_consumer_key"] == "ck-123" and fields["oauth_token"] == "at-789"
    again = oauth1.authorization(
        "POST",
        f"{API}/2/tweets",
        consumer_key="ck-123",
        consumer_secret="cs-SECRET-456",
        token="at-789",
        token_secret="ats-SECRET-000",
        nonce=fields["oauth_nonce"],
        timestamp=int(fields["oauth_timestamp"]),
    )
    assert again == header
    shown = json.dumps([r.redacted() for r in publisher.build_requests(outgoing("a"))])
    for value in KEYS.values():
        assert value not in shown


@respx.mock
def test_rate_limit_waits_for_x_rate_limit_reset():
    reset = int(time.time()) + 600
    respx.post(f"{API}/2/tweets").mock(
        return_value=httpx.Response(
            429,
            json={"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429},
            headers={
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            },
        )
    )
    with pytest.raises(RetryableError) as caught:
        run(with_client(lambda c: adapter().publish(c, outgoing("hi"))))
    assert 590 <= caught.value.retry_after <= 601


@respx.mock
def test_spent_daily_allowance_waits_for_the_daily_reset():
    now = int(time.time())
    respx.post(f"{API}/2/tweets").mock(
        return_value=httpx.Response(
            429,
            json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]},
            headers={
                "x-rate-limit-reset": str(now + 60),
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(now + 7200),
            },
        )
    )
    with pytest.raises(RetryableError, match="Rate limit exceeded") as caught:
        run(with_client(lambda c: adapter().publish(c, outgoing("hi"))))
    assert caught.value.retry_after > 7000


@respx.mock
def test_errors_classified():
    route = respx.post(f"{API}/2/tweets")
    route.mock(return_value=httpx.Response(503, json={"title": "Service Unavailable"}))
    with pytest.raises(RetryableError):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    route.mock(
        return_value=httpx.Response(
            400,
            json={
                "type": "https://api.x.com/2/problems/invalid-request",
                "title": "Invalid Request",
                "detail": "One or more parameters are invalid.",
            },
        )
    )
    with pytest.raises(PermanentError, match="One or more parameters are invalid"):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    route.mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(UnknownOutcomeError):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(RetryableError):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))


def _timeline(*tweets):
    respx.get(f"{API}/2/users/me").mock(
        return_value=httpx.Response(200, json={"data": {"id": "42", "username": "club"}})
    )
    return respx.get(f"{API}/2/users/42/tweets").mock(
        return_value=httpx.Response(200, json={"data": list(tweets)})
    )


@respx.mock
def test_duplicate_403_after_a_lost_answer_finds_the_landed_post():
    respx.post(f"{API}/2/tweets").mock(
        return_value=httpx.Response(
            403,
            json={
                "detail": "You are not allowed to create a Tweet with duplicate content.",
                "type": "about:blank",
                "title": "Forbidden",
                "status": 403,
            },
        )
    )
    timeline = _timeline(
        {
            "id": "77",
            "text": "Final score 3-1 &amp; more https://t.co/abc",
            "created_at": NOW.isoformat(),
        },
    )
    post = outgoing("Final score 3-1 & more https://example.com/report", attempt=2)
    result = run(with_client(lambda c: adapter().publish(c, post)))
    assert result.remote_id == "77"
    assert "start_time" in str(timeline.calls[0].request.url)


@respx.mock
def test_duplicate_403_with_nothing_found_stays_permanent():
    respx.post(f"{API}/2/tweets").mock(
        return_value=httpx.Response(
            403, json={"detail": "You are not allowed to create a Tweet with duplicate content."}
        )
    )
    _timeline({"id": "1", "text": "something else"})
    with pytest.raises(PermanentError, match="duplicate content"):
        run(with_client(lambda c: adapter().publish(c, outgoing("hello"))))


@respx.mock
def test_reconcile_matches_the_whole_thread():
    _timeline(
        {"id": "11", "text": "a 1/2"},
        {"id": "12", "text": "b 2/2", "referenced_tweets": [{"type": "replied_to", "id": "11"}]},
    )
    found = run(with_client(lambda c: adapter().reconcile(c, outgoing("x", "a 1/2", "b 2/2"))))
    assert found.detail["ids"] == ["11", "12"]
    assert run(with_client(lambda c: adapter().reconcile(c, outgoing("not there")))) is None
    with pytest.raises(PermanentError, match="only 1 of 2"):
        run(with_client(lambda c: adapter().reconcile(c, outgoing("x", "a 1/2", "c 2/2"))))


@respx.mock
def test_check_shows_the_account():
    _timeline()
    info = run(with_client(adapter().check))
    assert info == {"id": "42", "username": "club", "name": None}


def test_a_preview_of_oauth1_keys_shows_oauth_not_bearer(monkeypatch):
    """A dry run reads only the shape of the secret: four keys mean OAuth 1.0a,
    as the send will sign, and nothing of the keys is shown."""
    import json as _json

    from scheduler.accounts.channels import publisher_for
    from scheduler.storage.models import Channel

    keys = {
        "consumer_key": "ck-secret",
        "consumer_secret": "cs-secret",
        "access_token": "at-secret",
        "access_token_secret": "ats-secret",
    }
    monkeypatch.setenv("X_KEYS", _json.dumps(keys))
    row = Channel(id=1, name="x", platform="x", options={}, secret_env="X_KEYS", timezone="UTC")
    (request,) = publisher_for(row, reveal=False).build_requests(outgoing("hi"))
    shown = _json.dumps(request.redacted())
    assert request.redacted()["headers"]["Authorization"] == "OAuth ***"
    assert not any(value in shown for value in keys.values())
    monkeypatch.setenv("X_KEYS", "plain-bearer-token")
    (request,) = publisher_for(row, reveal=False).build_requests(outgoing("hi"))
    assert request.redacted()["headers"]["Authorization"] == "Bearer ***"
