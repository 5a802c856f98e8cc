"""LinkedIn Posts API: headers, little-format escaping, duplicate 422 taken as
success, comments as follow-ups, 429 until the next UTC day. respx plays
api.linkedin.com with the documented shapes."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from scheduler.errors import PermanentError, RetryableError, UnknownOutcomeError
from scheduler.publishers.linkedin import LinkedInPublisher, escape, unescape

from .conftest import NOW, channel, outgoing, run, with_client

API = "https://api.linkedin.com"
TOKEN = "AQV-member-SECRET"
AUTHOR = "urn:li:person:abc123"


def adapter(**options) -> LinkedInPublisher:
    return LinkedInPublisher(channel("linkedin", TOKEN, author=AUTHOR, **options))


def test_escape_reserved_characters_but_not_hashtags_or_urls():
    text = (
        "Win (3-1) @ home *great* #GoTeam see https://ex.com/a_b(c)?x=[1] "
        "50% _done_ ~x~ {y} <z> a|b \\"
    )
    escaped = escape(text)
    assert "\\(3-1\\) \\@ home \\*great\\* #GoTeam see https://ex.com/a_b(c)?x=[1]" in escaped
    assert escaped.endswith("50% \\_done\\_ \\~x\\~ \\{y\\} \\<z\\> a\\|b \\\\")
    assert unescape(escaped) == text
    assert escape("C# and #1 and # alone") == "C\\# and \\#1 and \\# alone"


def test_length_counts_the_visible_text_not_the_escapes():
    publisher = adapter()
    assert publisher.fits("(" * 3000) and not publisher.fits("a" * 3001)


@respx.mock
def test_post_headers_body_and_urn_from_x_restli_id():
    route = respx.post(f"{API}/rest/posts").mock(
        return_value=httpx.Response(201, headers={"x-restli-id": "urn:li:share:7001"})
    )
    result = run(with_client(lambda c: adapter().publish(c, outgoing("Gold (again)! #Team"))))
    request = route.calls[0].request
    assert request.headers["linkedin-version"] == "202610"
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = json.loads(request.content)
    assert body == {
        "author": AUTHOR,
        "commentary": "Gold \\(again\\)! #Team",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert result.remote_id == "urn:li:share:7001"
    assert result.remote_url == "https://www.linkedin.com/feed/update/urn:li:share:7001/"


@respx.mock
def test_follow_up_parts_become_comments_on_the_post():
    respx.post(f"{API}/rest/posts").mock(
        return_value=httpx.Response(201, headers={"x-restli-id": "urn:li:share:7001"})
    )
    comments = respx.post(f"{API}/rest/socialActions/urn%3Ali%3Ashare%3A7001/comments").mock(
        return_value=httpx.Response(201, headers={"x-restli-id": "urn:li:comment:(x,1)"})
    )
    result = run(with_client(lambda c: adapter().publish(c, outgoing("x", "a 1/2", "b 2/2"))))
    body = json.loads(comments.calls[0].request.content)
    assert body == {"actor": AUTHOR, "object": "urn:li:share:7001", "message": {"text": "b 2/2"}}
    assert result.detail["comments"] == ["urn:li:comment:(x,1)"]


@respx.mock
def test_duplicate_422_names_the_existing_post_and_counts_as_sent():
    respx.post(f"{API}/rest/posts").mock(
        return_value=httpx.Response(
            422,
            json={
                "message": "ERROR :: /commentary :: Content is a duplicate of urn:li:share:6999",
                "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]},
                "status": 422,
            },
        )
    )
    result = run(with_client(lambda c: adapter().publish(c, outgoing("again", attempt=2))))
    assert result.remote_id == "urn:li:share:6999" and result.detail["duplicate"] is True


@respx.mock
def test_errors_classified():
    route = respx.post(f"{API}/rest/posts")
    route.mock(return_value=httpx.Response(429, json={"status": 429, "message": "Throttled"}))
    with pytest.raises(RetryableError) as caught:
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    assert 0 < caught.value.retry_after <= 86400
    route.mock(
        return_value=httpx.Response(
            403,
            json={
                "status": 403,
                "serviceErrorCode": 100,
                "message": "Not enough permissions to access",
            },
        )
    )
    with pytest.raises(PermanentError, match="Not enough permissions"):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    route.mock(return_value=httpx.Response(401, json={"status": 401, "message": "Expired"}))
    with pytest.raises(PermanentError, match="re-authorised"):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    route.mock(return_value=httpx.Response(504, json={"message": "Gateway timeout"}))
    with pytest.raises(RetryableError):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))
    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(UnknownOutcomeError):
        run(with_client(lambda c: adapter().publish(c, outgoing("a"))))


@respx.mock
def test_reconcile_and_check():
    created = int(NOW.timestamp() * 1000)
    respx.get(url__startswith=f"{API}/rest/posts").mock(
        return_value=httpx.Response(
            200,
            json={
                "elements": [
                    {"id": "urn:li:share:5", "commentary": "Gold \\(again\\)", "createdAt": created}
                ]
            },
        )
    )
    respx.get(f"{API}/v2/userinfo").mock(
        return_value=httpx.Response(200, json={"sub": "abc123", "name": "Club"})
    )
    found = run(with_client(lambda c: adapter().reconcile(c, outgoing("Gold (again)"))))
    assert found.remote_id == "urn:li:share:5"
    assert run(with_client(lambda c: adapter().reconcile(c, outgoing("nope")))) is None
    info = run(with_client(adapter().check))
    assert info["member"] == AUTHOR and info["name"] == "Club"


def test_preview_hides_the_token_and_rejects_bad_options():
    shown = json.dumps([r.redacted() for r in adapter().build_requests(outgoing("a", "a", "b"))])
    assert TOKEN not in shown and "Bearer ***" in shown
    with pytest.raises(ValueError):
        LinkedInPublisher(channel("linkedin", TOKEN, author="alice"))


def test_thread_parts_fit_a_comment():
    from scheduler.publishers.split import split_thread

    text = "Match report. " * 200
    assert adapter().fits(text.strip())
    parts = split_thread(text, adapter(thread=True))
    assert len(parts) == 3 and all(len(p) <= 1250 for p in parts)
