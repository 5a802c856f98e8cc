"""Loading articles from files, stdin, HTML and a real local HTTP server."""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scheduler.errors import IngestError
from scheduler.ingest import load_article

ARTICLE = (
    "Harbour Crew Wins Again\n\n"
    "The Ashford crew won the River Cup on Saturday.\n\n"
    "\u201cWe rowed the race we planned,\u201d said coach Helen Marsh.\n"
)

HTML = """<!doctype html>
<html><head><title>Harbour Crew Wins Again</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/sport">Sport</a> | <a href="/login">Log in</a></nav>
<article>
<h1>Harbour Crew Wins Again</h1>
<p>The Ashford crew won the River Cup on Saturday, finishing two lengths ahead of the
favourites after a hard race against the tide and a strong headwind on the last bend.</p>
<p>\u201cWe rowed the race we planned, and the tide did the rest,\u201d said coach Helen Marsh,
who has trained the crew at the boathouse on the east bank since the club reopened.</p>
<p>The college last won the race in 1987, when the course was still a mile longer and the
boats were made of wood rather than carbon.</p>
</article>
<footer>Copyright Ashford Gazette. All rights reserved. Subscribe to our newsletter.</footer>
</body></html>
"""


def _one_line_error(excinfo: pytest.ExceptionInfo[IngestError], *words: str) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    assert "Traceback" not in message
    for word in words:
        assert word in message, message
    return message


def test_plain_text_file_loads_and_is_deterministic(tmp_path: Path) -> None:
    path = tmp_path / "crew.txt"
    path.write_bytes(ARTICLE.replace("\n", "\r\n").encode("utf-8"))
    first = load_article(str(path))
    second = load_article(str(path))
    assert first == second
    assert "\r" not in first.text
    assert first.title == "Harbour Crew Wins Again"
    assert first.content_type == "text/plain"
    assert "\u201cWe rowed the race we planned,\u201d" in first.text


def test_windows_1252_file_is_decoded(tmp_path: Path) -> None:
    text = (
        "Caf\u00e9 owner Ren\u00e9e Dubois reopened on Monday. "
        "\u201cWe missed our regulars,\u201d she said, standing by the na\u00efve mural."
    )
    path = tmp_path / "cafe.txt"
    path.write_bytes(text.encode("cp1252"))
    loaded = load_article(str(path))
    assert loaded.text == text


def test_mojibake_is_repaired(tmp_path: Path) -> None:
    clean = "It\u2019s a great day for the caf\u00e9 \u2014 and for \u201cthe street,\u201d too."
    # UTF-8 bytes read as Latin-1 (the classic \u00e2\u20ac\u2122 mess), then saved again as UTF-8.
    broken = clean.encode("utf-8").decode("latin-1")
    assert broken != clean
    path = tmp_path / "broken.txt"
    path.write_text(broken, encoding="utf-8")
    assert load_article(str(path)).text == clean


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode("utf-8"))
    assert load_article(str(path)).text.startswith("Harbour Crew")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"", ["empty"]),
        (b"  \n\n\t ", ["empty"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), ["binary"]),
        (bytes(range(0x80, 0x100)) * 8, ["encoding"]),
        (
            ("\u00c3\u0192\u00c2\u00a9\u00c3\u0192 \u00c2\u00a8 \u00e2\u20ac " * 6).encode(),
            ["mojibake"],
        ),
    ],
    ids=["empty", "blank", "binary", "undecodable", "mojibake"],
)
def test_bad_files_are_refused_in_one_line(
    tmp_path: Path, payload: bytes, words: list[str]
) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(payload)
    with pytest.raises(IngestError) as excinfo:
        load_article(str(path))
    _one_line_error(excinfo, *words)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as excinfo:
        load_article(str(tmp_path / "nope.txt"))
    _one_line_error(excinfo, "no such file")
    with pytest.raises(IngestError) as excinfo:
        load_article(str(tmp_path))
    _one_line_error(excinfo, "folder")


@pytest.mark.parametrize("url", ["http://", "http://[::1/article"])
def test_malformed_urls(url: str) -> None:
    with pytest.raises(IngestError) as excinfo:
        load_article(url)
    _one_line_error(excinfo, url)


def test_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text(ARTICLE * 100, encoding="utf-8")
    with pytest.raises(IngestError) as excinfo:
        load_article(str(path), max_bytes=1000)
    _one_line_error(excinfo, "too large")


def test_html_file_goes_through_trafilatura(tmp_path: Path) -> None:
    path = tmp_path / "crew.html"
    path.write_text(HTML, encoding="utf-8")
    loaded = load_article(str(path))
    assert loaded.content_type == "text/html"
    assert loaded.title == "Harbour Crew Wins Again"
    assert "\u201cWe rowed the race we planned, and the tide did the rest,\u201d" in loaded.text
    assert "Log in" not in loaded.text
    assert "newsletter" not in loaded.text
    assert "<p>" not in loaded.text
    # One blank line between paragraphs, so quotes never run into each other.
    assert "\n\n" in loaded.text


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ARTICLE.encode("utf-8"))))
    loaded = load_article("-")
    assert loaded.source == "<stdin>"
    assert loaded.text == ARTICLE.strip()


def test_empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(IngestError) as excinfo:
        load_article("-")
    _one_line_error(excinfo, "empty")


# -- URLs, against a real HTTP server on 127.0.0.1 ---------------------------------
# 127.0.0.1 is not public, so these allow private addresses; the refusal itself
# is tested in test_ingest_private.py.


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/article.html": ("text/html; charset=utf-8", HTML.encode("utf-8")),
            "/article.txt": ("text/plain; charset=utf-8", ARTICLE.encode("utf-8")),
            "/big.txt": ("text/plain", b"word " * 50_000),
            "/photo.png": ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(64)),
        }
        if self.path == "/slow.txt":
            time.sleep(2.0)
        if self.path == "/slow.txt" or self.path in routes:
            kind, body = routes.get(self.path, ("text/plain", ARTICLE.encode("utf-8")))
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # The client may hang up first (timeouts, size limits): that is the test.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)
            return
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_html(server: str) -> None:
    loaded = load_article(f"{server}/article.html", allow_private=True)
    assert loaded.source == f"{server}/article.html"
    assert loaded.content_type == "text/html"
    assert "said coach Helen Marsh" in loaded.text
    assert "Log in" not in loaded.text


def test_url_plain_text_matches_file(server: str, tmp_path: Path) -> None:
    path = tmp_path / "crew.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    loaded = load_article(f"{server}/article.txt", allow_private=True)
    assert loaded.text == load_article(str(path)).text


@pytest.mark.parametrize(
    ("path", "kwargs", "words"),
    [
        ("/big.txt", {"max_bytes": 10_000}, ["too large"]),
        ("/slow.txt", {"timeout": 0.5}, ["timed out"]),
        ("/missing.html", {}, ["HTTP 404"]),
        ("/photo.png", {}, ["image/png", "not an article"]),
    ],
    ids=["too-large", "timeout", "not-found", "not-text"],
)
def test_url_errors(server: str, path: str, kwargs: dict, words: list[str]) -> None:
    with pytest.raises(IngestError) as excinfo:
        load_article(f"{server}{path}", allow_private=True, **kwargs)
    _one_line_error(excinfo, *words)


def test_ftp_url_is_refused() -> None:
    with pytest.raises(IngestError) as excinfo:
        load_article("ftp://example.org/article.txt")
    _one_line_error(excinfo, "ftp", "only http and https")


def test_refused_connection(tmp_path: Path) -> None:
    # A port that was just free: nothing listens there.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(IngestError) as excinfo:
        load_article(f"http://127.0.0.1:{port}/article.txt", timeout=2, allow_private=True)
    _one_line_error(excinfo, "could not fetch")
