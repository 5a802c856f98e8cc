"""Telegram against a loopback Bot API stub that answers like the real one
(`{"ok": ..., "result"/"error_code"/"description"/"parameters"}`)."""

from __future__ import annotations

import json

import pytest

from scheduler.errors import PermanentError, RetryableError, UnknownOutcomeError
from scheduler.publishers.split import split_thread
from scheduler.publishers.telegram import TelegramPublisher, escape_markdown_v2

from .conftest import Reply, channel, outgoing, run, with_client

TOKEN = "123456:AAE-secret-bot-token"


def adapter(stub, **options) -> TelegramPublisher:
    options.setdefault("chat_id", "@club_news")
    return TelegramPublisher(channel("telegram", TOKEN, api=stub.url, **options))


def bot_api(stub):
    """Answers sendMessage with increasing message ids, like a channel would."""
    counter = iter(range(500, 600))

    def answer(seen):
        method = seen.path.rsplit("/", 1)[-1]
        if not seen.path.startswith(f"/bot{TOKEN}/"):
            return Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        body = seen.json() if seen.body else {}
        if method == "sendMessage":
            return Reply(
                200,
                {
                    "ok": True,
                    "result": {
                        "message_id": next(counter),
                        "date": 0,
                        "text": body["text"],
                        "chat": {"id": -100123, "type": "channel", "username": "club_news"},
                    },
                },
            )
        if method == "getMe":
            return Reply(
                200, {"ok": True, "result": {"id": 42, "is_bot": True, "username": "club_bot"}}
            )
        if method == "getChat":
            return Reply(
                200,
                {"ok": True, "result": {"id": -100123, "type": "channel", "title": "Club News"}},
            )
        return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    stub.responder = answer


def test_length_is_code_points_of_the_visible_text(stub):
    publisher = adapter(stub)
    (m,) = publisher.measure("👨‍👩‍👧‍👦")
    assert (m.count, m.limit) == (7, 4096)
    assert publisher.fits("<" * 4096)  # escaping to &lt; does not count
    assert not publisher.fits("a" * 4097)


def test_html_escaping_and_thread_replies(stub):
    bot_api(stub)
    publisher = adapter(stub)
    text = "Score: 3 < 4 & <b>not bold</b> " + "word " * 1000
    parts = split_thread(text, publisher)
    assert len(parts) == 2
    result = run(with_client(lambda c: publisher.publish(c, outgoing(text, *parts))))
    sent = [s.json() for s in stub.requests]
    assert sent[0]["text"].startswith("Score: 3 &lt; 4 &amp; &lt;b&gt;not bold&lt;/b&gt; word")
    assert sent[0]["parse_mode"] == "HTML" and sent[0]["chat_id"] == "@club_news"
    assert "reply_parameters" not in sent[0]
    assert sent[1]["reply_parameters"] == {"message_id": 500}
    assert result.remote_id == "500" and result.detail["ids"] == ["500", "501"]
    assert result.remote_url == "https://t.me/club_news/500"


def test_markdown_v2_escapes_every_special_character():
    raw = "_*[]()~`>#+-=|{}.!\\ ok"
    assert escape_markdown_v2(raw) == "".join("\\" + c for c in raw[:-3]) + " ok"
    assert escape_markdown_v2("3.5 > 2!") == "3\\.5 \\> 2\\!"


def test_flood_control_waits_parameters_retry_after(stub):
    stub.queue.append(
        Reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 17",
                "parameters": {"retry_after": 17},
            },
        )
    )
    with pytest.raises(RetryableError, match="retry after 17") as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    assert caught.value.retry_after == 17


def test_errors_classified_and_token_never_in_messages(stub):
    stub.queue.append(
        Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    )
    with pytest.raises(PermanentError, match="chat not found") as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    assert TOKEN not in str(caught.value)
    stub.queue.append(
        Reply(
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded",
                "parameters": {"migrate_to_chat_id": -100777},
            },
        )
    )
    with pytest.raises(PermanentError, match="-100777"):
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    stub.queue.append(Reply(502, "Bad Gateway"))
    with pytest.raises(RetryableError):
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi"))))
    stub.queue.append(Reply(200, {"ok": True, "result": {"message_id": 1}}, delay=1.0))
    with pytest.raises(UnknownOutcomeError) as caught:
        run(with_client(lambda c: adapter(stub).publish(c, outgoing("hi")), timeout=0.3))
    assert TOKEN not in str(caught.value)
    with pytest.raises(PermanentError, match="cannot list"):
        run(with_client(lambda c: adapter(stub).reconcile(c, outgoing("hi"))))


def test_preview_hides_the_token(stub):
    requests = adapter(stub).build_requests(outgoing("x", "a 1/2", "b 2/2"))
    shown = json.dumps([r.redacted() for r in requests])
    assert TOKEN not in shown and "/bot***/sendMessage" in shown
    assert requests[1].json["reply_parameters"] == {"message_id": "<message_id of part 1>"}


def test_check_shows_bot_and_chat(stub):
    bot_api(stub)
    info = run(with_client(adapter(stub).check))
    assert info["bot"] == "club_bot" and info["chat"] == "Club News"
    assert [s.path.rsplit("/", 1)[-1] for s in stub.requests] == ["getMe", "getChat"]
