"""Post templates: sandboxed, strict, overridable, with useful filters."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.compose import list_templates, make_environment, render
from scheduler.compose.filters import date_format, hashtag
from scheduler.compose.length import graphemes, truncate_graphemes
from scheduler.errors import TemplateError

QUOTE = {
    "quote": {"text": "Speed is a habit.", "speaker": "Noor Haddad", "cue": "said", "id": 1},
    "article": {"title": "T", "url": "https://example.org/a", "source": "a.txt", "id": 1},
    "channel": {
        "name": "c",
        "platform": "webhook",
        "credit": None,
        "hashtags": False,
        "link": True,
    },
}


def test_bundled_templates_render():
    env = make_environment()
    assert {"quote", "milestone", "link"} <= set(list_templates(env))
    text = render(env, "quote", QUOTE)
    assert "“Speed is a habit.”" in text
    assert "— Noor Haddad" in text
    assert text.endswith("https://example.org/a")


def test_milestone_wording_follows_precision_and_tense():
    from scheduler.planning.plan import milestone_context
    from scheduler.storage.models import Milestone

    env = make_environment()
    base = {"article": dict(QUOTE["article"], hashtags=[]), "channel": QUOTE["channel"]}

    def milestone(text, date, precision, tense, person):
        row = Milestone(
            id=1, article_id=1, text=text, start=0, end=len(text), date=date,
            precision=precision, tense=tense, person=person,
        )  # fmt: skip
        return dict(base, milestone=milestone_context(row))

    past = milestone("She won.", dt.date(2016, 1, 1), "year", "past", "Noor Haddad")
    planned = milestone("She races.", dt.date(2027, 6, 1), "month", "planned", None)
    assert render(env, "milestone", past).startswith("2016: She won.")
    assert "#NoorHaddad" not in render(env, "milestone", past)  # hashtags are the channel's choice
    tagged = dict(past, channel=dict(QUOTE["channel"], hashtags=True))
    assert "#NoorHaddad" in render(env, "milestone", tagged)
    assert render(env, "milestone", planned).startswith("Coming up (June 2027)")


def test_user_folder_overrides_bundled(tmp_path):
    (tmp_path / "quote.j2").write_text("{{ quote.speaker }}: {{ quote.text }}")
    env = make_environment([tmp_path])
    assert render(env, "quote", QUOTE) == "Noor Haddad: Speed is a habit."


def test_undefined_is_an_error_not_a_blank(tmp_path):
    (tmp_path / "t.j2").write_text("line one\n{{ quote.nickname }}\n")
    with pytest.raises(TemplateError, match=r"t\.j2 line 2: .*nickname"):
        render(make_environment([tmp_path]), "t", QUOTE)


def test_sandbox_blocks_python_internals(tmp_path):
    (tmp_path / "evil.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError, match=r"evil\.j2"):
        render(make_environment([tmp_path]), "evil", QUOTE)


def test_empty_render_is_refused(tmp_path):
    (tmp_path / "blank.j2").write_text("{% if false %}x{% endif %}\n")
    with pytest.raises(TemplateError, match="empty"):
        render(make_environment([tmp_path]), "blank", QUOTE)


def test_filters():
    assert hashtag("Grain Valley") == "#GrainValley"
    assert hashtag("2024") == ""
    assert date_format(dt.date(2016, 3, 5), "day") == "5 March 2016"
    assert date_format(dt.date(2016, 3, 5), "month") == "March 2016"
    cut = truncate_graphemes("one two three four five six", 15)
    assert graphemes(cut) <= 15 and cut.endswith("…")
    assert truncate_graphemes("👍" * 10, 5) == "👍" * 4 + "…"
