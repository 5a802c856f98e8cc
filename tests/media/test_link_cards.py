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


def test_the_link_card_is_built_from_what_ingest_stored(cli, tmp_path, site) -> None:
    url, hits = site
    assert cli("init").code == 0
    ingested = cli("ingest", f"{url}/regatta", "--allow-private", "--json")
    assert ingested.code == 0, ingested.stderr
    assert hits == ["/regatta", "/lead.jpg"]
    added = cli(
        "channels",
        "add",
        "sky",
        "--platform",
        "bluesky",
        "-o",
        "handle=club.example",
        "--secret-env",
        "SKY_PASSWORD",
    )
    assert added.code == 0, added.stderr
    assert cli("plan", "latest", "--channel", "sky", "--kinds", "link").code == 0
    (post,) = cli("preview", "--json", env={"SKY_PASSWORD": "pw"}).json()
    digest = hashlib.sha256(THUMB.getvalue()).hexdigest()
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
