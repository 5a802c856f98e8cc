"""URL ingest refuses non-public addresses, on the first URL and on every
redirect, unless private addresses are allowed; against a real server on 127.0.0.1.

A test cannot reach a public server, so the redirect-hop tests count this
server's 127.0.0.1 as public (patching `is_public` for that one address) and
check that a redirect to any other non-public address is still refused.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from scheduler.errors import IngestError
from scheduler.ingest import fetch as fetch_module
from scheduler.ingest import load_article
from scheduler.ingest.fetch import check_public_host, fetch, is_public

ARTICLE = "Ferry Timetable Changes\n\nThe harbour ferry will run every twenty minutes.\n"


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.seen.append(self.path)
        port = self.server.server_address[1]
        redirects = {
            "/redirect": "/article.txt",
            "/redirect-twice": "/redirect",
            "/loop": "/loop",
            "/to-other-loopback": f"http://127.0.0.2:{port}/article.txt",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-ipv6-loopback": f"http://[::1]:{port}/article.txt",
            "/to-private": "http://10.0.0.7/admin",
            "/to-file": "file:///etc/passwd",
        }
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/article.txt":
            body = ARTICLE.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
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


@pytest.fixture
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fetch_module.is_public
    test_server = ipaddress.ip_address("127.0.0.1")
    monkeypatch.setattr(fetch_module, "is_public", lambda a: a == test_server or real(a))


def _one_line(excinfo: pytest.ExceptionInfo[IngestError], *words: str) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    for word in words:
        assert word in message, message
    return message


def test_loopback_url_is_refused_by_default(server: str) -> None:
    before = len(_Handler.seen)
    with pytest.raises(IngestError) as excinfo:
        load_article(f"{server}/article.txt")
    _one_line(excinfo, "refused", "127.0.0.1", "non-public", "allow private")
    # Refused before connecting: the server never saw the request.
    assert len(_Handler.seen) == before


def test_a_name_that_resolves_to_loopback_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    with pytest.raises(IngestError) as excinfo:
        load_article(f"http://localhost:{port}/article.txt")
    _one_line(excinfo, "refused", "localhost")


def test_redirect_is_followed_when_private_is_allowed(server: str) -> None:
    loaded = load_article(f"{server}/redirect-twice", allow_private=True)
    assert loaded.source == f"{server}/article.txt"
    assert "every twenty minutes" in loaded.text


def test_redirect_from_loopback_is_refused_by_default(server: str) -> None:
    with pytest.raises(IngestError) as excinfo:
        fetch(f"{server}/redirect", max_bytes=10_000, timeout=5)
    _one_line(excinfo, "refused")


def test_redirect_loop_stops_at_the_cap(server: str) -> None:
    before = len(_Handler.seen)
    with pytest.raises(IngestError) as excinfo:
        fetch(f"{server}/loop", max_bytes=10_000, timeout=5, allow_private=True, max_redirects=3)
    _one_line(excinfo, "too many redirects")
    assert _Handler.seen[before:] == ["/loop"] * 4


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_public_start_still_works_with_the_hop_check(server: str) -> None:
    fetched = fetch(f"{server}/redirect", max_bytes=10_000, timeout=5)
    assert fetched.url == f"{server}/article.txt"


@pytest.mark.usefixtures("loopback_counts_as_public")
@pytest.mark.parametrize(
    ("path", "address"),
    [
        ("/to-other-loopback", "127.0.0.2"),
        ("/to-metadata", "169.254.169.254"),
        ("/to-ipv6-loopback", "::1"),
        ("/to-private", "10.0.0.7"),
    ],
)
def test_redirect_to_a_non_public_address_is_refused(server: str, path: str, address: str) -> None:
    before = len(_Handler.seen)
    with pytest.raises(IngestError) as excinfo:
        load_article(f"{server}{path}")
    _one_line(excinfo, "refused", address)
    assert _Handler.seen[before:] == [path]


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_redirect_to_another_scheme_is_refused(server: str) -> None:
    with pytest.raises(IngestError) as excinfo:
        load_article(f"{server}/to-file")
    _one_line(excinfo, "unsupported URL scheme")


def test_connected_address_is_checked_too(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name can resolve to a public address when checked and to a private one
    when connecting (DNS rebinding); the address actually connected to decides."""
    monkeypatch.setattr(fetch_module, "check_public_host", lambda url: None)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    with pytest.raises(IngestError) as excinfo:
        fetch(f"{server}/article.txt", max_bytes=10_000, timeout=5)
    _one_line(excinfo, "connected to non-public address 127.0.0.1")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "ff0e::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
        "http://0/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_other_spellings_of_private_hosts_are_refused(url: str) -> None:
    with pytest.raises(IngestError) as excinfo:
        check_public_host(url)
    _one_line(excinfo, "refused")
