"""A quote that points at what it does not name leads with the headline; one
that names what it speaks of stands alone. Every quote is written for these
tests, in the shapes the editor's panel flagged as missing context."""

from __future__ import annotations

import pytest

from scheduler.compose.context import lead_in, leans_on_context


@pytest.mark.parametrize(
    "words",
    [
        "She was quicker when it mattered. Second is fine.",  # who is she?
        "It’s a very solid result.",
        "This is a business firing on all cylinders.",
        "These are the numbers we hoped for.",
        "That is 410 too many.",
        "The valve was a gift in a way.",  # which valve?
        "But they never called us back.",
        "You tell him something once and it sticks.",  # him?
        "You taste that summer in the glass.",  # which summer?
        "I have been waiting for this launch for eleven years.",
        "We wanted to build it here.",  # a short sentence: "it" is outside
    ],
)
def test_a_quote_that_points_outside_itself_leans_on_context(words: str) -> None:
    assert leans_on_context(words)


@pytest.mark.parametrize(
    "words",
    [
        "I never stopped believing we had the car.",
        "Libraries are where kids go when there is nowhere else.",
        "The Lanterns were never better than on their first tour.",  # a name, not "the X"
        "We will fly when we are ready, and not a day before that.",
        "Nobody wants to be the company that rushed.",  # "that" as a relative
        "We are a firm that makes lorries, not promises.",
        "Everybody told me that English wine was a joke.",  # "that" as a conjunction
        # "it" in a long first sentence points inside the quote.
        "Sodium is cheap and it is everywhere, and it does not catch fire the way lithium can.",
        "That’s why we came here.",  # an idiom, not a pointer
    ],
)
def test_a_quote_that_names_what_it_speaks_of_stands_alone(words: str) -> None:
    assert not leans_on_context(words)


def test_the_lead_in_is_the_headline_on_one_line() -> None:
    assert lead_in("Okafor holds off  Lindqvist\nto win the Harlow 300") == (
        "Okafor holds off Lindqvist to win the Harlow 300"
    )
    assert lead_in(None) is None
    assert lead_in("  ") is None


def test_lists_show_the_quote_not_the_shared_headline() -> None:
    from scheduler.output import gist

    post = "Okafor wins the Harlow 300\n\n“She was quicker when it mattered.”\n— Nils Lindqvist"
    assert gist(post) == "“She was quicker when it mattered.”"
    assert gist("In 2017, Okafor won her first race.\n#AdaOkafor") == (
        "In 2017, Okafor won her first race."
    )
    assert gist("") == "" and gist(None) == ""


def test_a_channel_can_leave_the_headline_to_its_link_card(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`-o headline=false`: the same quote posts, without the headline line."""
    from sqlmodel import select

    from scheduler.accounts import channels
    from scheduler.compose import make_environment
    from scheduler.demo import SAMPLE
    from scheduler.ingest import extract, load_article
    from scheduler.ingest.articles import store_article
    from scheduler.planning.service import plan_from_article
    from scheduler.storage import database, migrations
    from scheduler.storage.models import Channel, Post

    engine = database.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    migrations.upgrade(engine)
    loaded = load_article(str(SAMPLE))
    texts: dict[str, list[str]] = {}
    with database.session_scope(engine) as session:
        stored = store_article(session, loaded, extract(loaded.text))
        title = stored.article.title
        assert title
        for name, options in (("with", {}), ("without", {"headline": "false"})):
            channels.add_channel(
                session,
                name,
                "outbox",
                options={"path": f"{name}.jsonl", **options},
                secret_env=None,
                timezone="UTC",
                slots="mon-sun 09:00",
            )
            planned = plan_from_article(
                session,
                make_environment(),
                str(stored.article.id),
                name,
                kinds=["quote"],
                templates={},
            )
            assert planned.rows
            chan = session.exec(select(Channel).where(Channel.name == name)).one()
            posts = session.exec(select(Post).where(Post.channel_id == chan.id).order_by(Post.id))
            texts[name] = [p.text for p in posts]
    engine.dispose()
    assert texts["with"] and len(texts["with"]) == len(texts["without"])
    assert all(t.startswith(lead_in(title) + "\n") for t in texts["with"])
    assert not any(lead_in(title) in t for t in texts["without"])
    # Nothing else changes: the quote and its speaker are the same.
    assert [t.split("\n\n", 1)[1] for t in texts["with"]] == texts["without"]
