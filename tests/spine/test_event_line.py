"""The daemon's line per post when its output is a pipe or a file: the same
text Rich would print without styles, and the choice between plain and
styled follows stdout when it is swapped (a test runner, a redirect)."""

from __future__ import annotations

import datetime as dt
import io
import sys

import pytest

from scheduler.delivery.events import SendEvent
from scheduler.previews import terminal


def _event(due: dt.datetime) -> SendEvent:
    event = SendEvent(7, "club", "sent", due, due, "Headline\n\u201cWe are ready,\u201d said Ada.")
    event.requests = [{"method": "POST", "url": "http://127.0.0.1:9/hook"}]
    return event


@pytest.mark.parametrize(
    "due",
    [
        dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
        dt.datetime(2031, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    ],
)
def test_plain_line_reads_as_before(monkeypatch, due):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    terminal.print_event(_event(due))
    first, request = out.getvalue().splitlines()
    when = due.strftime("%Y-%m-%d %H:%M UTC")
    assert first == f"{when}  post 7     club         sent  \u201cWe are ready,\u201d said Ada."
    assert request == "    POST http://127.0.0.1:9/hook"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_check_follows_a_swapped_stdout(monkeypatch):
    due = dt.datetime(2026, 5, 6, 7, 8, tzinfo=dt.UTC)
    event = _event(due)
    event.text = "A post long enough that its line passes the width of a terminal " * 2
    monkeypatch.setenv("COLUMNS", "60")
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stdout", plain)
    terminal.print_event(event)
    tty = _Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    terminal.print_event(event)
    # Rich's path (a terminal) wraps at the console's width; the plain one does not.
    assert len(plain.getvalue().splitlines()) == 2
    assert len(tty.getvalue().splitlines()) > 2
    monkeypatch.setattr(sys, "stdout", plain)
    terminal.print_event(event)
    assert len(plain.getvalue().splitlines()) == 4
