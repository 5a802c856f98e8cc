"""What `plan` refuses to queue and how it places calendar posts: an expired
post is skipped and takes no slot, a quote with no speaker is a held draft that
cannot be approved until a person edits it, a quote broken by its attribution is one post, a calendar post never
shares a minute with another post (unless the channel asks) and never repeats
a milestone post just made. Real SQLite files, the planner's own functions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session, select

from scheduler.accounts import channels
from scheduler.compose import make_environment
from scheduler.desk.editing import edit_post
from scheduler.desk.review import approve
from scheduler.errors import PlanningError
from scheduler.planning.rules import CalendarRule
from scheduler.planning.service import plan_from_article, plan_recurring_posts
from scheduler.planning.whole_quotes import whole_quotes
from scheduler.previews.preview import provenance
from scheduler.storage import database, migrations
from scheduler.storage.models import Article, Milestone, Post, Quote

TEXT = (
    'Tessa Moreau races late models. "We tried everything on that car," she explained, '
    '"and in the end we trusted it." She went on. "I never had a plan B," Moreau said. '
    '"Racing is all I wanted." Later a sign read: "Nobody remembers second."\n\n'
    "Moreau will contest the 2024 season. She tests at Daytona on 3 February 2027. "
    "Moreau won the Estevan feature on 14 June 2021."
)
START = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


def _quote(article_id: int, words: str, speaker: str | None, cue: str | None = None) -> Quote:
    start = TEXT.index(words)
    return Quote(
        article_id=article_id, text=words, speaker=speaker, cue=cue, start=start,
        end=start + len(words),
    )  # fmt: skip


def _milestone(article_id: int, sentence: str, date: dt.date, precision: str, tense: str):
    start = TEXT.index(sentence)
    return Milestone(
        article_id=article_id, text=sentence, start=start, end=start + len(sentence), date=date,
        precision=precision, tense=tense, person="Tessa Moreau",
    )  # fmt: skip


@pytest.fixture
def session(tmp_path: Path):
    engine = database.make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        article = Article(content_hash="t", source="t.txt", url="https://example.org/t", text=TEXT)
        s.add(article)
        s.flush()
        aid = article.id
        s.add_all(
            [
                _quote(aid, "We tried everything on that car", "Tessa Moreau", "explained"),
                _quote(aid, "and in the end we trusted it.", "Tessa Moreau"),
                _quote(aid, "I never had a plan B", "Tessa Moreau", "said"),
                _quote(aid, "Racing is all I wanted.", "Tessa Moreau"),
                _quote(aid, "Nobody remembers second.", None),
                _milestone(aid, "Moreau will contest the 2024 season.", dt.date(2024, 1, 1),
                           "year", "planned"),
                _milestone(aid, "She tests at Daytona on 3 February 2027.",
                           dt.date(2027, 2, 3), "day", "planned"),
                _milestone(aid, "Moreau won the Estevan feature on 14 June 2021.",
                           dt.date(2021, 6, 14), "day", "past"),
            ]
        )  # fmt: skip
        s.flush()
        yield s
    engine.dispose()


def _channel(session: Session, name: str = "club", slots: str = "mon-sun 09:00") -> None:
    channels.add_channel(
        session, name, "outbox", options={"path": "o.jsonl"}, secret_env=None,
        timezone="UTC", slots=slots,
    )  # fmt: skip


def _plan(session: Session, name: str = "club"):
    return plan_from_article(
        session, make_environment(), "latest", name, kinds=["quote", "milestone"],
        templates={}, start=START.isoformat(),
    )  # fmt: skip


def test_interrupted_quotes_are_joined_and_others_are_not(session: Session) -> None:
    quotes = list(session.exec(select(Quote).order_by(Quote.start)))
    texts = [w.text for w in whole_quotes(quotes, TEXT)]
    assert texts == [
        "We tried everything on that car, and in the end we trusted it.",
        "I never had a plan B. Racing is all I wanted.",
        "Nobody remembers second.",
    ]
    # Different speakers, or narration between the parts: two quotes.
    quotes[1].speaker = "Kim Moreau"
    assert len(whole_quotes(quotes, TEXT)) == 4


def test_plan_skips_what_cannot_be_posted_and_holds_what_needs_a_person(
    session: Session,
) -> None:
    _channel(session)
    planned = _plan(session)
    texts = [r["text"] for r in planned.rows]
    # Two whole quotes, the Daytona test and the 2021 win, and the quote nobody
    # is known to have said; not the 2024 season (over).
    assert len(texts) == 5
    assert texts[0].startswith("“We tried everything on that car, and in the end we trusted it.”")
    assert not any("2024" in t for t in texts)
    assert "1 skipped: expired (the event is over)" in planned.notes
    # The speakerless quote is shown, as a held draft that says what is missing,
    # never as if someone had said it; the others are queued.
    (held,) = [r for r in planned.rows if "Nobody remembers" in r["text"]]
    assert held["text"].startswith("“Nobody remembers second.”\n— [speaker unknown]")
    assert held["status"] == "draft"
    assert [r["status"] for r in planned.rows if r is not held] == ["queued"] * 4
    post = session.get(Post, held["id"])
    assert post.reason.startswith("held for review: speaker unknown")
    assert any(n.startswith("1 held for review") for n in planned.notes)
    with pytest.raises(PlanningError, match="cannot be approved until edited"):
        approve(session, held["id"], now=START)
    # Edited but still showing the gap: refused; with a name: approved.
    edit_post(
        session, held["id"], text="“Nobody remembers second.”\n— [speaker unknown], on a sign"
    )
    with pytest.raises(PlanningError, match=r"still says \[speaker unknown\]"):
        approve(session, held["id"], now=START)
    edit_post(session, held["id"], text="“Nobody remembers second.”\n— a sign at the track")
    assert approve(session, held["id"], now=START)["id"] == held["id"]
    assert session.get(Post, held["id"]).status == "queued"
    # The expired post took no slot: the five posts hold the first five days.
    days = sorted(r["due_at"][:10] for r in planned.rows)
    assert days == ["2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"]
    # Planning again adds nothing and reports the same skips.
    again = _plan(session)
    assert again.rows == [] and again.skipped == 5


def test_a_shortened_quote_is_not_called_verbatim(session: Session) -> None:
    _channel(session)
    _plan(session)
    post = session.exec(select(Post).where(Post.source_kind == "quote").order_by(Post.id)).first()
    assert provenance(session, post)["verbatim"] is True
    post.text = "“We tried everything on that car” …\n— Tessa Moreau"
    assert provenance(session, post)["verbatim"] is False


def test_calendar_posts_take_a_free_minute_and_do_not_repeat(session: Session) -> None:
    _channel(session, slots="mon-sun 09:00,15:00")
    env = make_environment()
    # An article post already holds 09:00 on the anniversary.
    planned = plan_from_article(
        session, env, "latest", "club", kinds=["quote"], templates={},
        start="2027-06-14T08:00Z", limit=1,
    )  # fmt: skip
    assert planned.rows[0]["due_at"].startswith("2027-06-14T09:00")
    channels.set_calendar_rule(session, "club", CalendarRule(countdown=[0]))
    out = plan_recurring_posts(session, env, dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                               dt.datetime(2027, 6, 30, tzinfo=dt.UTC), channel="club")  # fmt: skip
    by_template = {r["template"]: r for r in out.rows}
    assert by_template["on_this_day"]["due_at"].startswith("2027-06-14T15:00")
    assert "(1 taken)" in session.get(Post, by_template["on_this_day"]["id"]).reason
    assert by_template["on_this_day"]["text"].startswith(
        "On this day, 6 years ago: Moreau won the Estevan feature on 14 June 2021."
    )
    # With --share-slots the channel lets the anniversary share the first slot.
    _channel(session, "shared", slots="mon-sun 09:00")
    plan_from_article(session, env, "latest", "shared", kinds=["quote"], templates={},
                      start="2027-06-14T08:00Z", limit=1)  # fmt: skip
    channels.set_calendar_rule(session, "shared", CalendarRule(share_slots=True))
    out = plan_recurring_posts(session, env, dt.datetime(2027, 6, 1, tzinfo=dt.UTC),
                               dt.datetime(2027, 6, 30, tzinfo=dt.UTC), channel="shared")  # fmt: skip
    (otd,) = [r for r in out.rows if r["template"] == "on_this_day"]
    assert otd["due_at"].startswith("2027-06-14T09:00")
    # Without it, a day whose every minute is taken gets no calendar post, and a note.
    _channel(session, "full", slots="mon-sun 09:00")
    plan_from_article(session, env, "latest", "full", kinds=["quote"], templates={},
                      start="2027-06-14T08:00Z", limit=1)  # fmt: skip
    channels.set_calendar_rule(session, "full", CalendarRule(at="09:00"))
    out = plan_recurring_posts(session, env, dt.datetime(2027, 6, 1, tzinfo=dt.UTC),
                               dt.datetime(2027, 6, 30, tzinfo=dt.UTC), channel="full")  # fmt: skip
    assert not [r for r in out.rows if r["template"] == "on_this_day"]
    assert any("already hold a post" in n for n in out.notes)


def test_no_anniversary_right_after_the_milestone_post(session: Session) -> None:
    _channel(session)
    env = make_environment()
    plan_from_article(session, env, "latest", "club", kinds=["milestone"], templates={},
                      start="2027-06-10T00:00Z")  # fmt: skip
    channels.set_calendar_rule(session, "club", CalendarRule())
    out = plan_recurring_posts(session, env, dt.datetime(2027, 6, 1, tzinfo=dt.UTC),
                               dt.datetime(2027, 6, 30, tzinfo=dt.UTC), channel="club")  # fmt: skip
    assert [r for r in out.rows if r["template"] == "on_this_day"] == []
    assert any("already says it; no calendar repeat" in n for n in out.notes)


def test_evergreen_skips_a_minute_another_post_holds(session: Session) -> None:
    from scheduler.planning.rules import EvergreenRule

    _channel(session)
    env = make_environment()
    plan_from_article(session, env, "latest", "club", kinds=["quote"], templates={},
                      start="2027-06-14T08:00Z", limit=1)  # fmt: skip
    for q in session.exec(select(Quote)):
        q.category = "grit"
        session.add(q)
    channels.set_evergreen_rule(
        session, "club", EvergreenRule("grit", "mon-sun 09:00", 0.0), category="grit",
        templates=make_environment,
    )  # fmt: skip
    out = plan_recurring_posts(session, env, dt.datetime(2027, 6, 14, tzinfo=dt.UTC),
                               dt.datetime(2027, 6, 15, 12, tzinfo=dt.UTC), channel="club")  # fmt: skip
    assert [r["due_at"][:16] for r in out.rows] == ["2027-06-15T09:00"]
    assert any("another post holds this minute" in n for n in out.notes)


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        # A long attribution with a relative clause and a title's full stop.
        ('"We waited a long time for this," said Dr. Ana Ruiz, who has led the club '
         'since 2019 through two relegations. "Nobody here gave up."',
         "We waited a long time for this. Nobody here gave up."),
        # An apostrophe inside the attribution's words is no quotation mark.
        ("\u201cWe\u2019ll take the points,\u201d said Ruiz\u2019s crew chief, Ole Berg, "
         "\u201cand we\u2019ll take the fight to Leeds.\u201d",
         "We\u2019ll take the points, and we\u2019ll take the fight to Leeds."),
        # A comma after the verb ("Ruiz said, laughing.").
        ('"People say I am young," Ruiz said, laughing. "I know."',
         "People say I am young. I know."),
    ],
)  # fmt: skip
def test_interrupted_by_a_long_attribution_still_one_quote(text: str, whole: str) -> None:
    from scheduler.ingest import extract

    quotes = extract(text).quotes
    assert [w.text for w in whole_quotes(quotes, text)] == [whole]


def test_narration_between_two_quotes_keeps_them_apart() -> None:
    from scheduler.ingest import extract

    text = (
        '"We waited a long time," said Ana Ruiz. She looked at the stands and smiled. '
        '"Nobody here gave up."'
    )
    assert len(whole_quotes(extract(text).quotes, text)) == 2
