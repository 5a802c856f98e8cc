"""Link cards come from the article as ingested: title, description and the
lead image, fetched once at ingest from a real local web server and stored by
content hash; the planned post keeps them and the Bluesky request is built
from them (an external embed with a thumbnail blob), with no fetch at send time."""

from __future__ import annotations

import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

THUMB = io.BytesIO()
Image.new("RGB", (600, 315), (12, 80, 140)).save(THUMB, format="JPEG")

PAGE = """<!doctype html><html><head><title>Rowers return to the lake</title>
<meta property="og:title" content="Rowers return to the lake">
<meta property="og:description" content="The spring regatta, in words and pictures.">
<meta property="og:image" content="/lead.jpg">
<meta property="article:published_time" content="2026-03-07">
</head><body><article><h1>Rowers return to the lake</h1>
<p>The spring regatta opened on Saturday with forty crews on the water.</p>
<p>"The lake was glass at dawn and we rowed it like it owed us nothing," said Mira Kovalenko,
who won the single sculls for the third year in a row.</p>
<p>The club expects more crews next spring, when the new boathouse opens.</p>
</article></body></html>"""


@pytest.fixture
def site():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body, kind = (
                (THUMB.getvalue(), "image/jpeg")
                if self.path == "/lead.jpg"
                else (PAGE.encode(), "text/html; charset=utf-8")
            )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def test_the_link_card_is_built_from_what_ingest_stored(tmp_path, site, monkeypatch) -> None:
    from sqlmodel import Session

    from scheduler.accounts.channels import add_channel
    from scheduler.compose import make_environment
    from scheduler.ingest.service import ingest_sources
    from scheduler.planning.service import plan_from_article
    from scheduler.previews.preview import preview_posts
    from scheduler.storage import database

    url, hits = site
    monkeypatch.setenv("SCHEDULER_MEDIA_DIR", str(tmp_path / "media"))
    engine = database.make_engine(f"sqlite:///{tmp_path / 'cards.db'}")
    database.init_database(engine)
    (ingested,) = ingest_sources(engine, [f"{url}/regatta"], allow_private=True)
    assert hits == ["/regatta", "/lead.jpg"]
    digest = hashlib.sha256(THUMB.getvalue()).hexdigest()
    assert ingested["thumbnail"] == digest
    with database.session_scope(engine) as session:
        add_channel(
            session,
            "sky",
            "bluesky",
            options={"handle": "club.example"},
            secret_env="SKY_PASSWORD",
            timezone="UTC",
            slots="mon-sun 09:00",
        )
    with database.session_scope(engine) as session:
        plan_from_article(
            session, make_environment(), "latest", "sky", kinds=["link"], templates={}
        )
    with Session(engine) as session:
        (post,) = [p.as_dict() for p in preview_posts(session)]
    engine.dispose()
    assert post["error"] is None
    upload, create = post["requests"]
    assert upload["url"].endswith("/xrpc/com.atproto.repo.uploadBlob")
    assert upload["headers"]["Content-Type"] == "image/jpeg"
    assert upload["body_size"] == len(THUMB.getvalue()) and digest[:12] in upload["body"]
    external = create["json"]["record"]["embed"]
    assert external["$type"] == "app.bsky.embed.external"
    assert external["external"]["uri"] == f"{url}/regatta"
    assert external["external"]["title"] == "Rowers return to the lake"
    assert external["external"]["description"] == "The spring regatta, in words and pictures."
    assert external["external"]["thumb"]["mimeType"] == "image/jpeg"
    # Nothing was fetched again to build the card.
    assert hits == ["/regatta", "/lead.jpg"]
