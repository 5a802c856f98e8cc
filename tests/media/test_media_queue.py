"""Media through the real command line on a real SQLite file: files stored by
content hash with their type read from the bytes, checked against the channel's
platform before anything is queued, quote cards planned on `-o cards=true`
channels, and every preview naming what a post carries."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

ARTICLE = (
    "Rowers return to the lake\n\n"
    '"The lake was glass at dawn and we rowed it like it owed us nothing," said Mira Kovalenko '
    "after the regatta on Saturday."
)


def _png(path: Path, size=(640, 360), colour=(20, 90, 160)) -> Path:
    Image.new("RGB", size, colour).save(path, format="PNG")
    return path


CHANNELS = (
    ["box", "--platform", "outbox"],
    [
        "toots",
        "--platform",
        "mastodon",
        "-o",
        "instance=https://social.example",
        "--secret-env",
        "TOOT",
    ],
    ["tg", "--platform", "telegram", "-o", "chat_id=42", "--secret-env", "TG"],
    ["sky", "--platform", "bluesky", "-o", "handle=a.example", "--secret-env", "SKY"],
    ["meta", "--platform", "threads", "-o", "cards=true", "--secret-env", "TH"],
    ["card", "--platform", "outbox", "-o", "cards=true"],
)


@pytest.fixture(scope="module")
def channels_db(tmp_path_factory) -> Path:
    """One database with the channels, made once (each CLI call costs a second
    or more on a busy machine); every test gets a copy."""
    from sqlmodel import Session

    from scheduler.accounts.channels import add_channel, parse_options
    from scheduler.storage import database

    path = tmp_path_factory.mktemp("media") / "channels.db"
    engine = database.make_engine(f"sqlite:///{path}")
    database.init_database(engine)
    with Session(engine) as session:
        for name, _, platform, *rest in CHANNELS:
            options = [rest[i + 1] for i, a in enumerate(rest) if a == "-o"]
            secret = rest[rest.index("--secret-env") + 1] if "--secret-env" in rest else None
            add_channel(
                session,
                name,
                platform,
                options=parse_options(options),
                secret_env=secret,
                timezone="UTC",
                slots="mon-sun 09:00",
            )
        session.commit()
    engine.dispose()
    return path


@pytest.fixture
def ready(cli, tmp_path, channels_db):
    shutil.copyfile(channels_db, tmp_path / "test.db")
    return cli


def _posts(cli) -> list[dict]:
    return cli("queue", "list", "--json").json()["posts"]


def test_queue_add_stores_the_file_by_content_and_reads_its_type(engine, cli, tmp_path) -> None:
    from sqlmodel import Session

    from scheduler.desk.posts import add_by_hand, show_post
    from scheduler.storage import database

    photo = tmp_path / "photo.png"
    # A JPEG under a .png name: the type comes from the bytes.
    Image.new("RGB", (800, 600), (200, 10, 10)).save(photo, format="JPEG")
    result = cli(
        "queue",
        "add",
        "toots",
        "Race day",
        "--at",
        "+1h",
        "--media",
        str(photo),
        "--alt",
        "A red square",
        "--json",
    )
    assert result.code == 0, result.stderr
    (media,) = result.json()["media"]
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert media == {
        "path": f"{digest[:2]}/{digest}.jpg",
        "alt": "A red square",
        "mime": "image/jpeg",
        "width": 800,
        "height": 600,
        "sha256": digest,
    }
    stored = tmp_path / "scheduler-media" / media["path"]
    assert stored.read_bytes() == photo.read_bytes()
    # The post keeps what was queued even when the user's file changes.
    _png(photo, colour=(0, 0, 0))
    with Session(engine) as session:
        shown = show_post(session, result.json()["id"])
    assert shown["media"][0]["sha256"] == digest
    # The same bytes again are one file and one row.
    with database.session_scope(engine) as session:
        again = add_by_hand(session, "box", "Again", "+2h", [str(stored)], ["x"])
    assert again["media"][0]["path"] == media["path"]
    assert len(list((tmp_path / "scheduler-media").rglob("*.*"))) == 1


@pytest.mark.parametrize(
    ("channel", "make", "alt", "message"),
    [
        ("toots", "png", None, "no alt text; add --alt TEXT"),
        ("toots", "png", "a" * 1501, "alt text is 1501 characters, over Mastodon's 1500"),
        ("sky", "noise", "noise", "over Bluesky's 2000000 bytes"),
        ("meta", "png", "alt", "media_base_url"),
        ("toots", "missing", "alt", "cannot read it"),
        ("box", "gif-as-video", "alt", "not an image or video"),
    ],
)
def test_a_file_the_channel_cannot_send_is_refused_and_nothing_is_queued(
    tmp_path, channels_db, monkeypatch, channel, make, alt, message
) -> None:
    from sqlmodel import Session, select

    from scheduler.desk.posts import add_by_hand
    from scheduler.errors import MediaError
    from scheduler.storage import database
    from scheduler.storage.models import Post

    monkeypatch.setenv("SCHEDULER_MEDIA_DIR", str(tmp_path / "media"))
    path = tmp_path / "upload.png"
    if make == "png":
        _png(path)
    elif make == "noise":
        Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3)).save(path)
    elif make == "gif-as-video":
        path.write_bytes(b"\x00\x00\x00\x18notavideo" + b"\x00" * 40)
    shutil.copyfile(channels_db, tmp_path / "test.db")
    engine = database.make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    with pytest.raises(MediaError, match=message), database.session_scope(engine) as session:
        add_by_hand(session, channel, "Race day", "+1h", [str(path)], [alt] if alt else [])
    with Session(engine) as session:
        assert session.exec(select(Post)).all() == []
    engine.dispose()
    # A refused file leaves nothing in the media folder either.
    assert not list((tmp_path / "media").rglob("*.*"))


def test_a_refusal_is_one_line_from_the_cli(ready, tmp_path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image at all", encoding="utf-8")
    result = ready(
        "queue", "add", "toots", "Race day", "--at", "+1h", "--media", str(path), "--alt", "x"
    )
    assert result.code != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: not an image or video this scheduler knows "
        "(PNG, JPEG, GIF, WebP, MP4, MOV, WebM)"
    ]
    assert _posts(ready) == []


def test_alt_text_a_platform_cannot_show_is_a_warning(ready, tmp_path) -> None:
    result = ready(
        "queue",
        "add",
        "tg",
        "Race day",
        "--at",
        "+1h",
        "--media",
        str(_png(tmp_path / "p.png")),
        "--alt",
        "A blue card",
    )
    assert result.code == 0
    assert "Telegram shows no alt text" in result.stderr


@pytest.fixture
def engine(tmp_path, channels_db, monkeypatch):
    """The same database as `ready`, in this process: the steps that are not
    about the command line skip a second of interpreter start-up each."""
    from scheduler.storage import database

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEDULER_MEDIA_DIR", str(tmp_path / "scheduler-media"))
    shutil.copyfile(channels_db, tmp_path / "test.db")
    engine = database.make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    yield engine
    engine.dispose()


def _queued(engine) -> list[dict]:
    from sqlmodel import Session

    from scheduler.desk.posts import queue_page

    with Session(engine) as session:
        return queue_page(session)[0]


def test_queue_import_takes_a_media_column(engine, tmp_path) -> None:
    from scheduler.errors import PlanningError
    from scheduler.planning.csv_import import import_posts
    from scheduler.storage import database

    _png(tmp_path / "a.png")
    _png(tmp_path / "b.png", colour=(1, 2, 3))
    csv = (
        "channel,text,at,media,alt\n"
        "toots,Two photos,+1h,a.png|b.png,First photo|Second photo\n"
        "box,No photo,+2h,,\n"
    )
    with database.session_scope(engine) as session:
        import_posts(session, csv, "posts.csv")
    posts = {p["text"]: p for p in _queued(engine)}
    assert [m["alt"] for m in posts["Two photos"]["media"]] == ["First photo", "Second photo"]
    assert posts["No photo"]["media"] == []
    _png(tmp_path / "c.png", colour=(9, 9, 9))
    stored = set((tmp_path / "scheduler-media").rglob("*.png"))
    bad = "channel,text,at,media,alt\nbox,Fine,+3h,c.png,A grey card\ntoots,Photo,+3h,a.png,\n"
    refused = pytest.raises(PlanningError, match=r"line 3: a\.png: no alt text")
    with refused, database.session_scope(engine) as session:
        import_posts(session, bad, "bad.csv")
    assert len(_queued(engine)) == 2
    # Nothing imported means no file stored, not even the good row's.
    assert set((tmp_path / "scheduler-media").rglob("*.png")) == stored


def test_a_cards_channel_plans_quote_posts_with_their_card(engine, cli, tmp_path) -> None:
    import datetime as dt

    from sqlmodel import Session

    from scheduler.compose import make_environment
    from scheduler.errors import MediaError
    from scheduler.ingest.service import ingest_sources
    from scheduler.planning.service import plan_from_article
    from scheduler.previews.html import render_page
    from scheduler.previews.preview import preview_posts
    from scheduler.storage import database

    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    list(ingest_sources(engine, ["a.txt"], published=dt.date(2026, 3, 7)))
    env = make_environment()
    # Threads fetches by URL: without media_base_url the plan is refused, not the send.
    refused = pytest.raises(MediaError, match="media_base_url")
    with refused, database.session_scope(engine) as session:
        plan_from_article(session, env, "latest", "meta", kinds=["quote"], templates={})
    with database.session_scope(engine) as session:
        plan_from_article(session, env, "latest", "card", kinds=["quote"], templates={})
    with Session(engine) as session:
        previews = preview_posts(session)
    (quote_post,) = [p.as_dict() for p in previews if p.kind == "quote"]
    (card,) = quote_post["media"]
    assert card["mime"] == "image/png" and (card["width"], card["height"]) == (1200, 675)
    assert card["alt"] == (
        # The card shows the quote as the post does (`quote_context`: closed
        # with its full stop), with its attribution.
        "“The lake was glass at dawn and we rowed it like it owed us nothing.” — "
        "Mira Kovalenko, 7 March 2026"
    )
    data = Path(card["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["sha256"]
    assert Image.open(io.BytesIO(data)).size == (1200, 675)
    # The page embeds the image; the terminal names the file and its alt text.
    page = render_page(previews)
    assert '<img src="data:image/png;base64,' in page
    assert 'alt="“The lake was glass at dawn' in page
    shown = cli("preview", str(quote_post["id"]))
    assert f"media: {card['path']} (image/png, 1200x675" in shown.stdout.replace("\n", "")
    assert "alt: “The lake was glass" in shown.stdout


UNSAID = (
    "Rowers return to the lake\n\n"
    "The regatta ran late into Saturday evening under a clear sky.\n\n"
    '"We rowed it like it owed us nothing."\n\n'
    "The club meets again in April."
)


def test_a_quote_card_follows_the_edited_words_and_a_held_draft_gets_one_once_named(
    engine, cli, tmp_path
) -> None:
    """A held draft (nobody is known to have said it) has no card: it would
    name nobody. The editor puts the name in; `queue edit` draws the card with
    it. Editing a named quote's words draws its card again from them."""
    import datetime as dt

    from sqlmodel import Session, select

    from scheduler.compose import make_environment
    from scheduler.ingest.service import ingest_sources
    from scheduler.planning.service import plan_from_article
    from scheduler.storage import database
    from scheduler.storage.models import Post

    (tmp_path / "a.txt").write_text(UNSAID, encoding="utf-8")
    list(ingest_sources(engine, ["a.txt"], published=dt.date(2026, 3, 7)))
    with database.session_scope(engine) as session:
        plan_from_article(
            session, make_environment(), "latest", "card", kinds=["quote"], templates={}
        )
    with Session(engine) as session:
        (held,) = session.exec(select(Post).where(Post.source_kind == "quote")).all()
        assert held.status == "draft" and "[speaker unknown]" in held.text
        assert held.media is None
        held_id, held_text = held.id, held.text
    media = tmp_path / "scheduler-media"
    env = {"SCHEDULER_MEDIA_DIR": str(media)}

    def run(*args: str):  # type: ignore[no-untyped-def]
        return cli(*args, env=env)

    named = held_text.replace("[speaker unknown]", "Mira Kovalenko")
    done = run("queue", "edit", str(held_id), "--text", named)
    assert done.code == 0, done.stderr
    assert "quote card drawn again" in done.stdout
    assert (
        run("queue", "edit", str(held_id), "--text", named + " ", "--json").json()["card_redrawn"]
        is False
    )
    (card,) = run("queue", "show", str(held_id), "--json").json()["media"]
    assert card["alt"].startswith("“We rowed it like it owed us nothing.” — Mira Kovalenko")
    assert Image.open(media / card["path"]).size == (1200, 675)
    # The same post's words shortened by hand: the card shows them, not the old ones.
    shorter = named.replace("We rowed it like it owed us nothing.", "We rowed it.")
    done = run("queue", "edit", str(held_id), "--text", shorter, "--not-verbatim")
    assert done.code == 0, done.stderr
    (again,) = run("queue", "show", str(held_id), "--json").json()["media"]
    assert again["alt"].startswith("“We rowed it.” — Mira Kovalenko")
    assert again["sha256"] != card["sha256"]
    # Put back to nobody: the draft is held no longer, but the card keeps its
    # name rather than show none, and approval refuses the text.
    back = run("queue", "edit", str(held_id), "--text", held_text)
    assert back.code == 0, back.stderr
    (kept,) = run("queue", "show", str(held_id), "--json").json()["media"]
    assert kept["sha256"] == again["sha256"]
    refused = run("queue", "approve", str(held_id))
    assert refused.code != 0 and "[speaker unknown]" in refused.stderr


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("“We rowed it.”\n", "We rowed it."),
        # A headline above, itself quoting someone: the card takes the post's quote.
        (
            "Coach: “we will be back”\n\n“We rowed it like it owed us nothing.”\n",
            "We rowed it like it owed us nothing.",
        ),
        ("“Dawn came early” on the lake\n\n“We rowed it.”\n", "We rowed it."),
        # Cut between sentences: the ellipsis stands outside the marks.
        ("“The lake was glass at dawn.”…\n", "The lake was glass at dawn."),
        ("No quote here at all.\n", None),
    ],
)
def test_the_card_takes_the_words_of_the_quote_above_the_attribution(text, words) -> None:
    from scheduler.desk.editing import _quote_words

    assert _quote_words(text) == words


def test_the_daemon_sends_the_stored_media_exactly_once(engine, cli, tmp_path) -> None:
    from scheduler.desk.posts import add_by_hand
    from scheduler.storage import database

    photo = _png(tmp_path / "photo.png")
    with database.session_scope(engine) as session:
        add_by_hand(session, "box", "Race day", "now", [str(photo)], ["Boats"])
    photo.unlink()  # the post carries the stored copy, not the user's file
    for _ in range(2):
        sent = cli("daemon", "--once")
        assert sent.code == 0, sent.stderr
    lines = (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    (media,) = json.loads(lines[0])["media"]
    digest = media["sha256"]
    assert media["path"] == str(tmp_path / "scheduler-media" / digest[:2] / f"{digest}.png")
    assert (media["mime"], media["alt"], media["width"]) == ("image/png", "Boats", 640)
    assert _queued(engine)[0]["status"] == "sent"


def test_photos_are_stored_without_their_exif(tmp_path) -> None:
    from scheduler.media.store import describe

    photo = Image.new("RGB", (120, 80), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {2: (49.0, 53.0, 0.0)}  # GPS latitude
    plain, tagged, turned = io.BytesIO(), io.BytesIO(), io.BytesIO()
    photo.save(plain, format="JPEG", quality=90)
    photo.save(tagged, format="JPEG", quality=90, exif=exif)
    assert b"CameraMaker" in tagged.getvalue()
    data, row = describe(tagged.getvalue())
    assert b"Exif" not in data and b"CameraMaker" not in data
    # Lossless: the same picture as without the tags, byte for byte.
    assert data == plain.getvalue() and (row.width, row.height) == (120, 80)
    # A photo EXIF says to turn is turned, then stripped.
    sideways = Image.Exif()
    sideways[0x0112] = 6
    photo.save(turned, format="JPEG", quality=90, exif=sideways)
    data, row = describe(turned.getvalue())
    assert b"Exif" not in data and (row.width, row.height) == (80, 120)
    assert row.sha256 == hashlib.sha256(data).hexdigest() and row.size == len(data)
