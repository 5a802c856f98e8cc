"""Editing a post: new words are counted again for the platform, a quote is
checked against its source sentence, the key changes with the words and never
once a send has begun; a new time is read in the channel's zone."""

from __future__ import annotations

import sqlite3

import pytest

from tests.desk.conftest import Desk


def _set(desk: Desk, post_id: int, **values: object) -> None:
    with sqlite3.connect(desk.url.removeprefix("sqlite:///")) as conn:
        for key, value in values.items():
            conn.execute(f"update posts set {key} = ? where id = ?", (value, post_id))


def _quote_post(desk: Desk) -> dict:  # type: ignore[type-arg]
    created = desk.setup()
    return next(p for p in created if p["template"] == "quote")


def test_new_words_get_a_new_key_and_are_counted_again(desk: Desk) -> None:
    post = _quote_post(desk)
    text = "“I run better when the weather is against me.”\n— Lena Brandt, after the mile"
    done = desk("queue", "edit", str(post["id"]), "--text", text, "--json").json()
    assert done["text"] == text and done["text_changed"] is True
    assert done["idempotency_key"] != post["idempotency_key"]
    assert done["lengths"][0]["count"] == len(text) and done["lengths"][0]["limit"] == 500
    assert done["verbatim"] is None  # still word for word: no mark
    again = desk("queue", "edit", str(post["id"]), "--text", text, "--json").json()
    assert again["text_changed"] is False and again["idempotency_key"] == done["idempotency_key"]


def test_a_quote_no_longer_verbatim_is_refused_unless_said(desk: Desk) -> None:
    post = _quote_post(desk)
    changed = post["text"].replace("better", "faster")
    line = desk.fail("queue", "edit", str(post["id"]), "--text", changed)
    assert "not in the source sentence" in line and "--not-verbatim" in line
    assert desk("queue", "show", str(post["id"]), "--json").json()["text"] == post["text"]
    # Quotation marks removed altogether: also no longer a verbatim quote.
    assert "no longer quotes" in desk.fail(
        "queue", "edit", str(post["id"]), "--text", "Lena Brandt likes the rain."
    )
    done = desk(
        "queue", "edit", str(post["id"]), "--text", changed, "--not-verbatim", "--json"
    ).json()
    assert done["verbatim"] is False
    shown = desk("queue", "show", str(post["id"]))
    assert "NOT verbatim" in shown.out
    assert desk("preview", str(post["id"]), "--json").json()[0]["source"]["verbatim"] is False


def test_over_the_limit_is_refused_in_one_line(desk: Desk) -> None:
    post = _quote_post(desk)
    line = desk.fail("queue", "edit", str(post["id"]), "--text", "“" + "word " * 120 + "”")
    assert "over outbox's limit of 500" in line
    assert desk("queue", "show", str(post["id"]), "--json").json()["text"] == post["text"]


def test_a_new_time_and_bad_input(desk: Desk) -> None:
    post = _quote_post(desk)
    done = desk("queue", "edit", str(post["id"]), "--at", "2027-01-04 12:30", "--json").json()
    assert done["due_local"].startswith("2027-01-04 12:30") and done["text_changed"] is False
    assert done["idempotency_key"] == post["idempotency_key"]
    assert "no post with id 4242" in desk.fail("queue", "edit", "4242", "--at", "+1h")
    assert "bad date" in desk.fail("queue", "edit", str(post["id"]), "--at", "2027-02-30")
    assert "a post needs some text" in desk.fail("queue", "edit", str(post["id"]), "--text", " ")


@pytest.mark.parametrize("status", ["sending", "sent", "unknown"])
def test_no_edit_once_a_send_has_begun(desk: Desk, status: str) -> None:
    post = _quote_post(desk)
    _set(desk, post["id"], status=status)
    line = desk.fail("queue", "edit", str(post["id"]), "--text", post["text"] + " more")
    assert f"is {status}: a send has begun" in line
    assert (
        desk("queue", "show", str(post["id"]), "--json").json()["idempotency_key"]
        == (post["idempotency_key"])
    )


def test_a_post_tried_before_keeps_its_words_and_key_but_may_move(desk: Desk) -> None:
    post = _quote_post(desk)
    _set(desk, post["id"], attempts=1)
    line = desk.fail("queue", "edit", str(post["id"]), "--text", post["text"] + " more")
    assert "tried 1 time(s)" in line
    moved = desk("queue", "edit", str(post["id"]), "--at", "+3h", "--json").json()
    assert moved["idempotency_key"] == post["idempotency_key"]


def test_editing_in_the_editor(desk: Desk, editor, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    post = _quote_post(desk)
    for key, value in editor("— Lena Brandt", "— Lena Brandt (Hamburg)").items():
        monkeypatch.setenv(key, value)
    ran = desk("queue", "edit", str(post["id"]))
    assert "new text" in ran.out and "new key" in ran.out
    shown = desk("queue", "show", str(post["id"]), "--json").json()
    assert shown["text"].endswith("— Lena Brandt (Hamburg)")
    # An editor that changes nothing changes nothing.
    for key, value in editor("no such words", "x").items():
        monkeypatch.setenv(key, value)
    assert "unchanged" in desk("queue", "edit", str(post["id"])).out
    assert (
        desk("queue", "show", str(post["id"]), "--json").json()["idempotency_key"]
        == (shown["idempotency_key"])
    )
