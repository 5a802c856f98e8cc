"""What every adapter shares: registration, thread splitting against each
platform's own measure, rate-limit header readings, secrets kept out of
previews, and the Bluesky pieces that need no server (TIDs, facet offsets)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from urllib.parse import unquote_plus

import httpx
import pytest

from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers import publisher_class
from scheduler.publishers.bluesky import BlueskyPublisher, facets, record_key, tid
from scheduler.publishers.bluesky_session import ExpiredTokenError
from scheduler.publishers.bluesky_session import classify as bluesky_classify
from scheduler.publishers.ratelimit import until_epoch, until_iso, until_next_utc_day
from scheduler.publishers.sending import mask_url_secrets
from scheduler.publishers.split import split_thread

from .conftest import channel, outgoing

PLATFORMS = {
    "mastodon": ({"instance": "https://example.social"}, "tok-SECRET-1"),
    "bluesky": ({"handle": "club.example"}, "app-SECRET-pass"),
    "x": (
        {},
        json.dumps(
            {
                "consumer_key": "ck",
                "consumer_secret": "cs-SECRET",
                "access_token": "at",
                "access_token_secret": "ats-SECRET",
            }
        ),
    ),
    "threads": ({}, "th-SECRET-token"),
    "linkedin": ({"author": "urn:li:organization:1"}, "li-SECRET-token"),
    "telegram": ({"chat_id": -1001}, "99:tg-SECRET-token"),
    "discord": ({}, "https://discord.com/api/webhooks/1/dc-SECRET-token"),
    "slack": ({}, "https://hooks.slack.com/services/T1/B2/sl-SECRET-token"),
}
FAMILY = "👨‍👩‍👧‍👦"


def make(platform: str, **extra):
    options, secret = PLATFORMS[platform]
    return publisher_class(platform)(channel(platform, secret, **{**options, **extra}))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_registered_and_secret_never_in_preview(platform):
    publisher = make(platform)
    assert publisher.platform == platform
    post = outgoing("Preview & <check> 🏅 https://example.com/x", "part 1/2", "part 2/2")
    shown = json.dumps([r.redacted() for r in publisher.build_requests(post)], ensure_ascii=False)
    assert "SECRET" not in shown
    assert "part 1/2" in unquote_plus(shown)  # the text itself is shown


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_split_thread_fits_each_platform(platform):
    publisher = make(platform)
    sentence = "Grain Valley 🏅 beat the holders, report at https://example.com/r/123 today. "
    limit = max(m.limit for m in publisher.measure("x") if m.unit != "distinct links")
    text = (sentence * (limit // 40 + 5)).strip()
    parts = split_thread(text, publisher)
    assert len(parts) >= 2
    n = len(parts)
    for i, part in enumerate(parts, 1):
        assert part.endswith(f" {i}/{n}")
        assert publisher.fits(part), (platform, i, publisher.measure(part))
    words = [w for p in parts for w in p.rsplit(" ", 1)[0].split()]
    assert words == text.split()  # cut only between words, nothing lost


def test_split_keeps_short_text_and_line_breaks():
    publisher = make("bluesky")
    assert split_thread("  short one  ", publisher) == ["short one"]
    text = "Line one.\n\n" + "word " * 100
    parts = split_thread(text, publisher)
    assert parts[0].startswith("Line one.\n\nword")


def test_split_bluesky_on_bytes_when_graphemes_would_fit():
    publisher = make("bluesky")
    text = " ".join([FAMILY * 3] * 60)  # 239 graphemes, 4559 bytes
    parts = split_thread(text, publisher)
    assert len(parts) == 2
    assert all(len(p.encode()) <= 3000 for p in parts)


def test_split_cuts_an_overlong_word_between_graphemes():
    publisher = make("telegram")
    parts = split_thread("é" * 5000, publisher)
    assert len(parts) == 2 and "".join(p.rsplit(" ", 1)[0] for p in parts) == "é" * 5000


def test_bluesky_length_vectors():
    publisher = make("bluesky")
    assert [(m.unit, m.count, m.limit) for m in publisher.measure(FAMILY * 120)] == [
        ("graphemes", 120, 300),
        ("UTF-8 bytes", 3000, 3000),
    ]
    assert not publisher.fits(FAMILY * 121)  # 3025 bytes
    assert publisher.fits("a" * 300) and not publisher.fits("a" * 301)


def test_tid_format_and_determinism():
    assert tid(0, 0) == "2222222222222"
    key = record_key(outgoing("x", key="k-1"), 0)
    assert len(key) == 13 and key[0] in "234567abcdefghij"
    assert set(key) <= set("234567abcdefghijklmnopqrstuvwxyz")
    assert key == record_key(outgoing("changed text", key="k-1", attempt=3), 0)
    assert key != record_key(outgoing("x", key="k-2"), 0)
    assert key != record_key(outgoing("x", key="k-1"), 1)
    # Parts sort in thread order, and later due times sort later.
    later = outgoing("x", key="k-1", due_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert record_key(outgoing("x", key="k-1"), 0) < record_key(outgoing("x", key="k-1"), 1)
    assert record_key(later, 0) > key
    with pytest.raises(ValueError):
        tid(0, 1024)


def test_facet_offsets_are_utf8_bytes():
    text = "🏅 Café #Médaille @ann.example https://ex.com/é."
    got = facets(text, {"ann.example": "did:plc:ann"})
    raw = text.encode()
    spans = [raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in got]
    assert spans == ["#Médaille", "@ann.example", "https://ex.com/é"]
    assert got[0]["index"]["byteStart"] == len("🏅 Café ".encode())  # 10, not 7
    assert got[1]["features"] == [
        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:ann"}
    ]
    # No DID: the mention stays plain; a '#' inside a URL is not a tag; digits only are not.
    plain = facets("hi @bob.example see https://ex.com/#frag #2026", {})
    assert [f["features"][0]["$type"].rsplit("#", 1)[1] for f in plain] == ["link"]


def _response(status, body=None, headers=None):
    request = httpx.Request("POST", "https://pds.example/xrpc/x")
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_bluesky_error_readings():
    with pytest.raises(ExpiredTokenError):
        bluesky_classify(_response(400, {"error": "ExpiredToken", "message": "Token has expired"}))
    reset = str(int(dt.datetime.now(dt.UTC).timestamp()) + 90)
    with pytest.raises(RetryableError) as caught:
        bluesky_classify(
            _response(
                429,
                {"error": "RateLimitExceeded", "message": "slow down"},
                {"RateLimit-Reset": reset, "RateLimit-Policy": "30;w=300"},
            )
        )
    assert 80 <= caught.value.retry_after <= 90
    with pytest.raises(PermanentError, match="InvalidRequest: Invalid TID string"):
        bluesky_classify(
            _response(400, {"error": "InvalidRequest", "message": "Invalid TID string"})
        )
    with pytest.raises(PermanentError, match="AuthenticationRequired"):
        bluesky_classify(
            _response(
                401,
                {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
            )
        )
    with pytest.raises(RetryableError):
        bluesky_classify(_response(502, {"error": "UpstreamFailure", "message": "x"}))


def test_rate_limit_time_formats():
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert until_iso("2026-01-01T12:05:00.000000Z", now) == 300
    assert until_iso("2026-01-01T12:05:00.5+00:00", now) == 300.5
    assert until_iso("garbage", now) is None
    assert until_epoch(str(now.timestamp() + 42.5), now) == 42.5
    assert until_epoch("1", now) == 0
    assert until_next_utc_day(now) == 12 * 3600


def test_secret_formats_are_checked():
    with pytest.raises(PermanentError, match="handle:app-password"):
        BlueskyPublisher(channel("bluesky", "no-colon"))._credentials()
    combined = BlueskyPublisher(channel("bluesky", "did:plc:abc:pass-word-1234"))
    assert combined._credentials() == ("did:plc:abc", "pass-word-1234")
    with pytest.raises(PermanentError, match=r"OAuth 1\.0a"):
        make("x").__class__(channel("x", '{"consumer_key": "only"}'))._oauth1_keys()


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("secret", [None, "***"])
def test_preview_builds_without_the_real_secret(platform, secret):
    """Previews hand adapters no secret or the `***` placeholder: the requests must
    still build, with the text in them."""
    options, _ = PLATFORMS[platform]
    publisher = publisher_class(platform)(channel(platform, secret, **options))
    requests = publisher.build_requests(outgoing("Preview text"))
    assert requests and "Preview text" in unquote_plus(json.dumps(requests[0].redacted()))


def test_httpx_request_logs_never_show_url_secrets(stub, caplog):
    """httpx logs each request URL at INFO; tokens in URL paths must not appear."""
    from scheduler.publishers.telegram import TelegramPublisher

    from .conftest import Reply, run, with_client

    stub.responder = lambda seen: Reply(200, {"ok": True, "result": {"message_id": 1}})
    publisher = TelegramPublisher(
        channel("telegram", "777:AAF-log-SECRET", chat_id=1, api=stub.url)
    )
    with caplog.at_level(logging.INFO, logger="httpx"):
        run(with_client(lambda c: publisher.publish(c, outgoing("hi"))))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/bot***/sendMessage" in logged and "SECRET" not in logged
    assert mask_url_secrets("https://discord.com/api/webhooks/123/abc.DEF-ghi?wait=true") == (
        "https://discord.com/api/webhooks/123/***?wait=true"
    )
    assert mask_url_secrets("https://hooks.slack.com/services/T1/B2/xyz") == (
        "https://hooks.slack.com/services/***"
    )
    assert mask_url_secrets(
        "GET https://graph.threads.net/v1.0/c1?fields=status&access_token=TH-x"
    ) == ("GET https://graph.threads.net/v1.0/c1?fields=status&access_token=***")


def test_reconcile_settles_a_thread_only_when_all_or_none_of_it_landed():
    from scheduler.publishers.base import whole_thread

    thread = outgoing("one two three", "one", "two", "three")
    assert whole_thread(0, thread, "X") is False
    assert whole_thread(3, thread, "X") is True
    assert whole_thread(1, outgoing("plain"), "X") is True
    with pytest.raises(PermanentError, match="only 2 of 3 thread parts are on X; check the"):
        whole_thread(2, thread, "X")
