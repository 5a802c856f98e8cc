"""Telegram against telegram-test-api, a local Bot API server (npm, installed by
.ci/install-peers.sh): messages and reply threads, read back from the server's
own store. The server implements sendMessage and getMe but not getChat, and
answers a method it lacks with HTTP 500 and `{"message": ...}`."""

from __future__ import annotations

import itertools

import httpx
import pytest

from scheduler.errors import RetryableError
from scheduler.publishers.split import split_thread
from scheduler.publishers.telegram import TelegramPublisher

from .conftest import channel, outgoing, run
from .peers import Recorder, through

CHAT_ID = -1001234567890


def adapter(server, token: str, **options) -> TelegramPublisher:
    options.setdefault("chat_id", CHAT_ID)
    return TelegramPublisher(channel("telegram", token, api=server.url, **options))


def sent_by(server, token: str) -> list[dict]:
    """What the server stored for this bot token, oldest first."""
    response = httpx.post(f"{server.url}/getUpdatesHistory", json={"token": token}, timeout=10)
    response.raise_for_status()
    return [item for item in response.json()["result"] if "message" in item]


def test_message_reaches_the_server_as_written(telegram_server):
    telegram_server.require_alive()
    token = "100001:AAE-message-test-token"
    publisher = adapter(
        telegram_server,
        token,
        disable_link_preview=True,
        disable_notification=True,
        message_thread_id=7,
    )
    text = "Final: 3 < 4 & <b>not bold</b> https://example.org/report"
    recorder = Recorder()
    result = run(through(recorder, lambda c: publisher.publish(c, outgoing(text))))

    (stored,) = sent_by(telegram_server, token)
    message = stored["message"]
    assert (
        message["text"]
        == "Final: 3 &lt; 4 &amp; &lt;b&gt;not bold&lt;/b&gt; https://example.org/report"
    )
    assert message["parse_mode"] == "HTML"
    assert message["chat_id"] == CHAT_ID
    assert message["link_preview_options"] == {"is_disabled": True}
    assert message["disable_notification"] is True
    assert message["message_thread_id"] == 7
    assert "reply_parameters" not in message
    assert result.remote_id == str(stored["messageId"])
    (answer,) = [e.json()["result"] for e in recorder.seen]
    assert answer["chat"]["id"] == CHAT_ID and answer["message_id"] == stored["messageId"]


def test_thread_parts_reply_to_the_part_before(telegram_server):
    telegram_server.require_alive()
    token = "100002:AAE-thread-test-token"
    publisher = adapter(telegram_server, token, parse_mode=None, thread=True)
    text = " ".join(f"Sentence {i} of the season review." for i in range(300))
    parts = split_thread(text, publisher)
    assert len(parts) >= 3
    result = run(through(Recorder(), lambda c: publisher.publish(c, outgoing(text, *parts))))

    stored = sent_by(telegram_server, token)
    assert [s["message"]["text"] for s in stored] == list(parts)
    ids = [s["messageId"] for s in stored]
    assert len(set(ids)) == len(ids)
    assert "reply_parameters" not in stored[0]["message"]
    for before, after in itertools.pairwise(stored):
        assert after["message"]["reply_parameters"] == {"message_id": before["messageId"]}
    assert "parse_mode" not in stored[0]["message"]
    assert result.remote_id == str(ids[0])
    assert result.detail["ids"] == [str(i) for i in ids]


def test_account_check_reads_the_bot_then_reports_the_missing_getchat(telegram_server):
    """`channels test` asks getMe (served) and then getChat, which this server
    lacks: the check must surface that answer as an error, never as a chat."""
    telegram_server.require_alive()
    token = "100003:AAE-check-test-token"
    publisher = adapter(telegram_server, token)
    recorder = Recorder()
    bot = run(through(recorder, lambda c: publisher._call(c, "getMe")))
    assert bot["username"] and isinstance(bot["id"], int)
    getme = recorder.seen[-1]
    assert getme.request.url.path == f"/bot{token}/getMe"
    assert getme.json() == {"ok": True, "result": bot}

    with pytest.raises(RetryableError) as caught:
        run(through(recorder, lambda c: publisher.check(c)))
    assert recorder.paths()[-2:] == [f"POST /bot{token}/getMe", f"POST /bot{token}/getChat"]
    lacking = recorder.seen[-1].response
    assert lacking.status_code == 500 and "getChat" in lacking.json()["message"]
    assert caught.value.status_code == 500
    assert str(caught.value).startswith("Telegram 500:")
    assert token not in str(caught.value)


def test_unknown_method_is_an_error_answer_not_a_result(telegram_server):
    telegram_server.require_alive()
    token = "100004:AAE-error-test-token"
    publisher = adapter(telegram_server, token)
    with pytest.raises(RetryableError) as caught:
        run(through(Recorder(), lambda c: publisher._call(c, "sendRocket", chat_id=CHAT_ID)))
    assert caught.value.status_code == 500
    assert token not in str(caught.value)
    assert sent_by(telegram_server, token) == []
