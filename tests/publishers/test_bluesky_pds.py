"""The Bluesky adapter against the reference PDS: facets, threads, record keys,
sessions. The PDS validates neither facet ranges nor reply targets, so the tests
read the records back and check both themselves."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import httpx
import pytest

from scheduler.errors import RetryableError
from scheduler.publishers.bluesky import POST, BlueskyPublisher, record_key
from scheduler.publishers.bluesky_session import SESSIONS
from scheduler.publishers.ratelimit import until_epoch
from scheduler.publishers.split import split_thread

from .conftest import LoseAnswers, channel, outgoing, run, with_client, with_transport

pytestmark = pytest.mark.pds


def adapter(pds, **options) -> BlueskyPublisher:
    return BlueskyPublisher(
        channel("bluesky", pds.password, service=pds.url, handle=pds.handle, **options)
    )


def span(text: str, facet: dict) -> str:
    raw = text.encode("utf-8")
    return raw[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")


def test_post_with_facets_reads_back_with_exact_byte_ranges(pds):
    friend = pds.create_account("coach-ann.test")
    text = (
        "Café 👨‍👩‍👧‍👦 médaille d'or! Read https://example.com/r%C3%A9sultat?x=1, "
        "thanks @coach-ann.test and @nobody.invalid #JO2026 #日本"
    )
    publisher = adapter(pds)
    result = run(with_client(lambda c: publisher.publish(c, outgoing(text, key="facets-1"))))
    record = pds.get_record(result.remote_id)["value"]
    assert record["text"] == text
    by_kind = {}
    for facet in record["facets"]:
        (feature,) = facet["features"]
        by_kind.setdefault(feature["$type"].split("#")[1], []).append((span(text, facet), feature))
    assert by_kind["link"] == [
        (
            "https://example.com/r%C3%A9sultat?x=1",
            {
                "$type": "app.bsky.richtext.facet#link",
                "uri": "https://example.com/r%C3%A9sultat?x=1",
            },
        )
    ]
    # Only the handle that resolves becomes a mention, with the DID of that account.
    assert [(s, f["did"]) for s, f in by_kind["mention"]] == [("@coach-ann.test", friend["did"])]
    assert [(s, f["tag"]) for s, f in by_kind["tag"]] == [("#JO2026", "JO2026"), ("#日本", "日本")]
    starts = [f["index"]["byteStart"] for f in record["facets"]]
    assert starts == sorted(starts)
    assert result.remote_url.startswith("https://bsky.app/profile/")


def test_thread_reply_refs_point_at_root_and_previous_part(pds):
    publisher = adapter(pds, thread=True)
    long_text = " ".join(f"word{i}" for i in range(150))
    parts = split_thread(long_text, publisher)
    assert len(parts) >= 3
    post = outgoing(long_text, *parts, key="thread-1")
    result = run(with_client(lambda c: publisher.publish(c, post)))
    uris, cids = result.detail["uris"], result.detail["cids"]
    assert len(uris) == len(parts) and result.remote_id == uris[0]
    records = [pds.get_record(uri) for uri in uris]
    assert [r["value"]["text"] for r in records] == parts
    assert "reply" not in records[0]["value"]
    for i, rec in enumerate(records[1:], 1):
        reply = rec["value"]["reply"]
        assert reply["root"] == {"uri": uris[0], "cid": records[0]["cid"]}
        assert reply["parent"] == {"uri": uris[i - 1], "cid": records[i - 1]["cid"]}
        assert reply["parent"]["cid"] == cids[i - 1]
    for i, uri in enumerate(uris):
        assert uri.endswith(f"/{POST}/{record_key(post, i)}")


def test_resend_of_the_same_post_creates_nothing_new(pds):
    publisher = adapter(pds)
    post = outgoing("Exactly once, please.", key="once-1")
    first = run(with_client(lambda c: publisher.publish(c, post)))
    before = pds.list_records(pds.did)
    again = outgoing("Exactly once, please.", key="once-1", attempt=2)
    second = run(with_client(lambda c: BlueskyPublisher(publisher.channel).publish(c, again)))
    assert second.remote_id == first.remote_id
    assert second.detail["cids"] == first.detail["cids"]
    assert len(pds.list_records(pds.did)) == len(before)
    found = run(with_client(lambda c: publisher.reconcile(c, post)))
    assert found is not None and found.remote_id == first.remote_id
    missing = outgoing("Never sent.", key="never-sent-1")
    assert run(with_client(lambda c: publisher.reconcile(c, missing))) is None


def test_half_sent_thread_is_completed_not_repeated(pds):
    publisher = adapter(pds)
    parts = ("first part 1/3", "second part 2/3", "third part 3/3")
    post = outgoing("x", *parts, key="half-1")
    # A first attempt that only got the root out.
    run(with_client(lambda c: publisher.publish(c, outgoing("x", parts[0], key="half-1"))))
    assert run(with_client(lambda c: publisher.reconcile(c, post))) is None
    result = run(with_client(lambda c: publisher.publish(c, post)))
    texts = [r["value"]["text"] for r in pds.list_records(pds.did)]
    assert texts.count(parts[0]) == 1 and texts.count(parts[1]) == 1
    assert len(result.detail["uris"]) == 3


def test_session_is_reused_and_refreshed_after_expiry(pds):
    key = (pds.url, pds.handle)
    SESSIONS.forget(*key)
    logins = SESSIONS.logins.get(key, 0)
    publisher = adapter(pds)
    for i in range(3):
        run(with_client(lambda c, i=i: publisher.publish(c, outgoing(f"post {i}", key=f"s-{i}"))))
    assert SESSIONS.logins[key] == logins + 1
    # Make the cached access token one the PDS answers with 400 ExpiredToken.
    session = SESSIONS.cached(*key)
    session.access_jwt = _expired_copy(session.access_jwt, pds.jwt_secret)
    stale = session.access_jwt
    run(with_client(lambda c: publisher.publish(c, outgoing("after expiry", key="s-exp"))))
    assert SESSIONS.cached(*key).access_jwt != stale
    assert SESSIONS.logins[key] == logins + 1  # refreshed, not logged in again
    info = run(with_client(publisher.check))
    assert info["handle"] == pds.handle and info["did"] == pds.did


def test_too_long_is_refused_before_sending(pds):
    publisher = adapter(pds)
    family = "👨‍👩‍👧‍👦"
    with pytest.raises(Exception, match="UTF-8 bytes"):
        run(with_client(lambda c: publisher.publish(c, outgoing(family * 121, key="long-1"))))
    # 120 family emoji: 120 graphemes and exactly 3000 bytes, accepted by the PDS.
    ok = run(with_client(lambda c: publisher.publish(c, outgoing(family * 120, key="long-2"))))
    assert pds.get_record(ok.remote_id)["value"]["text"] == family * 120


def _expired_copy(jwt: str, secret: str) -> str:
    """The same access token with its expiry an hour ago, signed (HS256) with the
    test PDS's JWT secret: what a 2-hour-old session holds."""
    header, payload, _ = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["iat"] = int(time.time()) - 3 * 3600
    claims["exp"] = int(time.time()) - 3600
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signing_input = f"{header}.{body}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def test_dry_run_requests_never_show_tokens(pds):
    publisher = adapter(pds)
    run(with_client(lambda c: publisher.prepare(c)))
    session = SESSIONS.cached(pds.url, pds.handle)
    requests = publisher.build_requests(outgoing("a", "b 1/2", "c 2/2", key="dry-1"))
    shown = str([r.redacted() for r in requests])
    assert session.access_jwt not in shown and pds.password not in shown
    assert "***" in shown
    assert (
        requests[1]
        .json["record"]["reply"]["root"]["uri"]
        .endswith(record_key(outgoing("x", key="dry-1"), 0))
    )
    _ = dt


def test_lost_create_answer_is_settled_with_get_record(pds):
    """The record lands but the answer is lost: the adapter reads the key back
    instead of failing or writing again."""
    publisher = adapter(pds)
    lose = LoseAnswers(lambda r: r.url.path.endswith("/com.atproto.repo.createRecord"))
    post = outgoing("The answer to this one gets lost.", key="lost-1")
    before = len(pds.list_records(pds.did))
    result = run(with_transport(lose, lambda c: publisher.publish(c, post)))
    assert len(lose.lost) == 1
    assert len(pds.list_records(pds.did)) == before + 1
    assert pds.get_record(result.remote_id)["value"]["text"] == post.text


def test_rate_limit_headers_are_epoch_seconds(pds):
    """The PDS (rate limits on) sends RateLimit-* without an X- prefix, the reset
    in epoch seconds: what the adapter's 429 reading assumes."""
    response = httpx.post(
        f"{pds.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": pds.handle, "password": pds.password},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["ratelimit-policy"].endswith(";w=300")
    assert float(response.headers["ratelimit-reset"]) > 1_700_000_000  # a time, not a delay
    wait = until_epoch(response.headers["ratelimit-reset"])
    assert wait is not None and 0 <= wait <= 300


def test_login_rate_limit_is_retryable_with_the_reset_wait(pds):
    """createSession allows 30 logins per 5 minutes per account; the 31st is a
    429 RateLimitExceeded that the adapter turns into a timed retry."""
    pds.create_account("limited-acct.test", "limited-pass-1")

    async def use_up_logins(client: httpx.AsyncClient) -> None:
        login = {"identifier": "limited-acct.test", "password": "limited-pass-1"}
        url = f"{pds.url}/xrpc/com.atproto.server.createSession"
        await asyncio.gather(*(client.post(url, json=login) for _ in range(30)))

    run(with_client(use_up_logins, timeout=30))
    publisher = BlueskyPublisher(
        channel("bluesky", "limited-pass-1", service=pds.url, handle="limited-acct.test")
    )
    with pytest.raises(RetryableError, match="RateLimitExceeded") as caught:
        run(with_client(publisher.check))
    assert caught.value.status_code == 429 and 0 < caught.value.retry_after <= 300
