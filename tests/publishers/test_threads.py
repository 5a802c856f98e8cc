"""Threads (Meta): container then publish, emoji counted as UTF-8 bytes, Graph
API error codes, recovery when threads_publish's answer is lost. No local server
exists, so respx plays graph.threads.net with the documented shapes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers.threads import ThreadsPublisher

from .conftest import NOW, channel, outgoing, run, with_client

API = "https://graph.threads.net/v1.0"
TOKEN = "THQVJ-long-lived-SECRET"


def adapter(**options) -> ThreadsPublisher:
    options.setdefault("poll_interval", 0.01)
    return ThreadsPublisher(channel("threads", TOKEN, **options))


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def test_emoji_cost_their_utf8_bytes_and_links_are_capped():
    publisher = adapter()
    length, links = publisher.measure("Gold 🥇!")
    assert (links.count, links.limit) == (0, 5)
    assert (length.count, length.limit) == (6 + 4, 500)
    assert publisher.measure("👨‍👩‍👧‍👦")[0].count == 25
    assert publisher.fits("a" * 500) and not publisher.fits("a" * 497 + "🥇")
    six = " ".join(f"https://e{i}.example/" for i in range(6))
    assert publisher.measure(six)[1].count == 6 and not publisher.fits(six)
    assert publisher.measure("https://a.example https://a.example")[1].count == 1


class Graph:
    """Containers that finish after one IN_PROGRESS poll; published ids from 9000."""

    def __init__(self) -> None:
        self.containers: dict[str, dict] = {}
        self.published: list[dict] = []
        self.polls: dict[str, int] = {}
        self.lose_publish_answer = False

    def install(self) -> None:
        respx.post(f"{API}/me/threads").mock(side_effect=self.create)
        respx.post(f"{API}/me/threads_publish").mock(side_effect=self.publish)
        respx.get(url__regex=rf"{API}/c\d+").mock(side_effect=self.status)
        respx.get(url__regex=rf"{API}/9\d+").mock(
            side_effect=lambda r: httpx.Response(200, json={"permalink": "https://threads.net/p/x"})
        )
        respx.get(f"{API}/me/threads").mock(side_effect=self.listing)
        respx.get(f"{API}/me/threads_publishing_limit").mock(side_effect=self.quota)
        self.quota_usage = 0

    def quota(self, request):
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "quota_usage": self.quota_usage,
                        "config": {"quota_total": 250, "quota_duration": 86400},
                        "reply_quota_usage": 0,
                        "reply_config": {"quota_total": 1000, "quota_duration": 86400},
                    }
                ]
            },
        )

    def create(self, request):
        cid = f"c{len(self.containers) + 1}"
        self.containers[cid] = {**form(request), "status": "IN_PROGRESS"}
        return httpx.Response(200, json={"id": cid})

    def status(self, request):
        cid = request.url.path.rsplit("/", 1)[-1]
        container = self.containers[cid]
        self.polls[cid] = self.polls.get(cid, 0) + 1
        if container["status"] == "IN_PROGRESS" and self.polls[cid] > 1:
            container["status"] = "FINISHED"
        return httpx.Response(200, json={"status": container["status"], "id": cid})

    def publish(self, request):
        cid = form(request)["creation_id"]
        container = self.containers[cid]
        assert container["status"] == "FINISHED"
        container["status"] = "PUBLISHED"
        media = {
            "id": str(9000 + len(self.published)),
            "text": container["text"],
            "timestamp": NOW.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": "https://threads.net/p/x",
        }
        self.published.append(media)
        if self.lose_publish_answer:
            self.lose_publish_answer = False
            raise httpx.ReadTimeout("lost")
        return httpx.Response(200, json={"id": media["id"]})

    def listing(self, request):
        return httpx.Response(200, json={"data": list(reversed(self.published))})


@respx.mock
def test_thread_waits_for_containers_and_links_replies():
    graph = Graph()
    graph.install()
    result = run(with_client(lambda c: adapter().publish(c, outgoing("x", "a 1/2", "b 2/2"))))
    assert result.detail["ids"] == ["9000", "9001"]
    assert result.remote_url == "https://threads.net/p/x"
    first, second = graph.containers["c1"], graph.containers["c2"]
    assert first["media_type"] == "TEXT" and "reply_to_id" not in first
    assert second["reply_to_id"] == "9000"
    assert first["access_token"] == TOKEN
    assert graph.polls == {"c1": 2, "c2": 2}


@respx.mock
def test_lost_publish_answer_is_settled_by_the_container_status():
    graph = Graph()
    graph.install()
    graph.lose_publish_answer = True
    result = run(with_client(lambda c: adapter().publish(c, outgoing("only once"))))
    assert len(graph.published) == 1 and result.remote_id == "9000"


@respx.mock
def test_reconcile_finds_recent_post():
    graph = Graph()
    graph.install()
    run(with_client(lambda c: adapter().publish(c, outgoing("landed text"))))
    found = run(with_client(lambda c: adapter().reconcile(c, outgoing("landed text"))))
    assert found.remote_id == "9000"
    assert run(with_client(lambda c: adapter().reconcile(c, outgoing("other")))) is None


@pytest.mark.parametrize(
    ("status", "error", "kind", "match"),
    [
        (400, {"message": "Please reduce the amount of data", "code": 1}, RetryableError, "code 1"),
        (400, {"message": "Application request limit reached", "code": 4}, RetryableError, "limit"),
        (
            400,
            {"message": "Error validating access token", "code": 190, "error_subcode": 463},
            PermanentError,
            "re-authorise",
        ),
        (403, {"message": "(#10) permission", "code": 10}, PermanentError, "permission"),
        (500, {"message": "An unknown error occurred", "code": 100}, RetryableError, "unknown"),
    ],
)
@respx.mock
def test_graph_error_codes(status, error, kind, match):
    _no_quota_data()
    respx.post(f"{API}/me/threads").mock(
        return_value=httpx.Response(
            status, json={"error": {**error, "type": "OAuthException", "fbtrace_id": "A1"}}
        )
    )
    with pytest.raises(kind, match=match) as caught:
        run(with_client(lambda c: adapter().publish(c, outgoing("hi"))))
    assert TOKEN not in str(caught.value)


@respx.mock
def test_container_error_is_permanent():
    _no_quota_data()
    respx.post(f"{API}/me/threads").mock(return_value=httpx.Response(200, json={"id": "c1"}))
    respx.get(url__regex=rf"{API}/c1").mock(
        return_value=httpx.Response(
            200, json={"status": "ERROR", "error_message": "FAILED_PROCESSING_VIDEO"}
        )
    )
    with pytest.raises(PermanentError, match="FAILED_PROCESSING_VIDEO"):
        run(with_client(lambda c: adapter().publish(c, outgoing("hi"))))


def test_preview_hides_the_token():
    shown = json.dumps([r.redacted() for r in adapter().build_requests(outgoing("a"))])
    assert TOKEN not in shown and "access_token=***" in shown


@respx.mock
def test_spent_daily_quota_waits_instead_of_publishing():
    graph = Graph()
    graph.install()
    graph.quota_usage = 250
    with pytest.raises(RetryableError, match="250 of 250 posts") as caught:
        run(with_client(lambda c: adapter().publish(c, outgoing("hi"))))
    assert caught.value.retry_after == 3600 and graph.containers == {}
    graph.quota_usage = 249
    assert run(with_client(lambda c: adapter().publish(c, outgoing("hi")))).remote_id == "9000"


def _no_quota_data():
    respx.get(f"{API}/me/threads_publishing_limit").mock(
        return_value=httpx.Response(200, json={"data": []})
    )
