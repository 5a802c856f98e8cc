"""Discord webhooks against Prism on Discord's webhook paths (the fixture writes
them from the discord-api-spec package's schemas, stricter than Discord's own
document: an unknown field is a violation). Every execute and check request must pass the document. Prism makes
each answer up from the message schema (`Prefer: dynamic=true`), so ids and
channel ids are snowflakes, as Discord's are."""

from __future__ import annotations

import httpx
import pytest

from scheduler.errors import PermanentError
from scheduler.publishers.discord import MAX_CONTENT, SUPPRESS_EMBEDS, DiscordPublisher, classify
from scheduler.publishers.split import split_thread

from .conftest import channel, outgoing, run
from .peers import Recorder, request_violations, through

WEBHOOK_ID = "112233445566778899"
TOKEN = "webhook-token_Abc.123"
THREAD_ID = "998877665544332211"


def adapter(prism, **options) -> DiscordPublisher:
    url = f"{prism.url}/webhooks/{WEBHOOK_ID}/{TOKEN}"
    return DiscordPublisher(channel("discord", url, **options))


def dynamic() -> Recorder:
    return Recorder(dynamic=lambda request: True)


def executes(recorder: Recorder) -> list:
    return [e for e in recorder.seen if e.request.method == "POST"]


def test_execute_webhook_with_every_option_validates(discord_prism):
    discord_prism.require_alive()
    publisher = adapter(
        discord_prism,
        username="Club News",
        avatar_url="https://example.org/crest.png",
        suppress_embeds=True,
    )
    recorder = dynamic()
    result = run(
        through(recorder, lambda c: publisher.publish(c, outgoing("Full time: 2-1 @everyone")))
    )

    recorder.assert_valid()
    (sent,) = executes(recorder)
    assert sent.response.status_code == 200
    assert sent.request.url.path == f"/webhooks/{WEBHOOK_ID}/{TOKEN}"
    assert dict(sent.request.url.params) == {"wait": "true"}
    assert sent.json()["id"] and result.remote_id == sent.json()["id"]
    body = httpx.Response(200, content=sent.request.content).json()
    assert body == {
        "content": "Full time: 2-1 @everyone",
        "username": "Club News",
        "avatar_url": "https://example.org/crest.png",
        "allowed_mentions": {"parse": []},
        "flags": SUPPRESS_EMBEDS,
    }


def test_forum_thread_parts_go_into_the_thread_the_first_one_started(discord_prism):
    discord_prism.require_alive()
    publisher = adapter(discord_prism, thread_name="Match day", thread=True)
    text = " ".join(f"Minute {i}: the press keeps the ball in their half." for i in range(60))
    parts = split_thread(text, publisher)
    assert len(parts) >= 2
    recorder = dynamic()
    result = run(through(recorder, lambda c: publisher.publish(c, outgoing(text, *parts))))

    recorder.assert_valid()
    sent = executes(recorder)
    assert len(sent) == len(parts)
    first = httpx.Response(200, content=sent[0].request.content).json()
    assert first["thread_name"] == "Match day" and "thread_id" not in sent[0].request.url.params
    started = sent[0].json()["channel_id"]
    for later in sent[1:]:
        assert later.request.url.params["thread_id"] == started
        assert "thread_name" not in httpx.Response(200, content=later.request.content).json()
    assert result.detail["ids"] == [e.json()["id"] for e in sent]
    assert result.detail["channel_id"] == started


def test_posting_into_an_existing_thread_validates(discord_prism):
    discord_prism.require_alive()
    publisher = adapter(discord_prism, thread_id=THREAD_ID)
    recorder = dynamic()
    run(through(recorder, lambda c: publisher.publish(c, outgoing("Team news at 18:00."))))

    recorder.assert_valid()
    (sent,) = executes(recorder)
    assert dict(sent.request.url.params) == {"wait": "true", "thread_id": THREAD_ID}


def test_account_check_reads_the_webhook(discord_prism):
    discord_prism.require_alive()
    publisher = adapter(discord_prism)
    recorder = dynamic()
    info = run(through(recorder, lambda c: publisher.check(c)))

    recorder.assert_valid()
    (seen,) = recorder.seen
    assert f"{seen.request.method} {seen.request.url}" == (
        f"GET {discord_prism.url}/webhooks/{WEBHOOK_ID}/{TOKEN}"
    )
    answer = seen.json()
    assert info["id"] == answer["id"] and info["channel_id"] == answer.get("channel_id")


def test_the_length_limit_is_discords(discord_prism):
    """The adapter's limit is the document's: 2000 passes, 2001 is refused."""
    discord_prism.require_alive()
    publisher = adapter(discord_prism)
    assert publisher.fits("a" * MAX_CONTENT) and not publisher.fits("a" * (MAX_CONTENT + 1))
    url = f"{discord_prism.url}/webhooks/{WEBHOOK_ID}/{TOKEN}?wait=true"
    at_limit = httpx.post(url, json={"content": "a" * MAX_CONTENT}, timeout=60)
    assert at_limit.status_code == 200 and request_violations(at_limit) == []
    over = httpx.post(url, json={"content": "a" * (MAX_CONTENT + 1)}, timeout=60)
    assert over.status_code == 422
    assert any(v["location"][-1] == "content" for v in request_violations(over))


def test_the_peer_refuses_what_the_document_forbids(discord_prism):
    """The control: a field Discord does not define, or a thread id that is not
    a snowflake, is refused; the adapter reads the refusal as permanent."""
    discord_prism.require_alive()
    base = f"{discord_prism.url}/webhooks/{WEBHOOK_ID}/{TOKEN}"
    unknown = httpx.post(f"{base}?wait=true", json={"content": "Hi", "silent": True}, timeout=60)
    assert unknown.status_code == 422
    assert any(v["code"] == "additionalProperties" for v in request_violations(unknown))
    not_snowflake = httpx.post(
        f"{base}?wait=true&thread_id=general", json={"content": "Hi"}, timeout=60
    )
    assert not_snowflake.status_code == 422
    assert any(
        v["location"][:3] == ["request", "query", "thread_id"]
        for v in request_violations(not_snowflake)
    )
    with pytest.raises(PermanentError, match="HTTP 422"):
        classify(unknown)
