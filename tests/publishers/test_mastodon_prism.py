"""Mastodon against Prism on Mastodon's OpenAPI document (../shared/specs/,
from abraham/mastodon-openapi): every request the adapter sends must pass the
document's rules for path, query, headers and body. Prism answers a valid
request with the document's example and a broken one with 4xx; the tests also
read Prism's `sl-violations` header, so a warning-level breach fails too."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from scheduler.errors import PermanentError
from scheduler.publishers.mastodon import MastodonPublisher, classify
from scheduler.publishers.split import split_thread

from .conftest import NOW, channel, outgoing, run
from .peers import Recorder, request_violations, shared_specs, through

TOKEN = "mastodon-test-token"


@pytest.fixture(scope="module")
def spec(mastodon_prism) -> dict:
    """The document Prism serves (its fixture skips when it is absent)."""
    return json.loads((shared_specs() / "mastodon-openapi.json").read_text())


def example(spec: dict, path: str, method: str) -> dict:
    """The example the document gives for a 200 answer (Prism answers with it)."""
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    if "example" in content:
        return content["example"]
    (ref,) = [e["$ref"] for e in content["examples"].values()]
    return spec["components"]["examples"][ref.rsplit("/", 1)[-1]]["value"]


def adapter(prism, **options) -> MastodonPublisher:
    MastodonPublisher._limits.pop(prism.url, None)  # each test reads the instance anew
    return MastodonPublisher(channel("mastodon", TOKEN, instance=prism.url, **options))


def test_status_post_with_every_option_validates(mastodon_prism, spec):
    mastodon_prism.require_alive()
    publisher = adapter(
        mastodon_prism,
        visibility="unlisted",
        language="en",
        spoiler_text="Match report",
        sensitive=True,
    )
    recorder = Recorder()
    post = outgoing("Full time: 2-1. Report: https://example.org/report", key="status-1")
    result = run(through(recorder, lambda c: publisher.publish(c, post)))

    recorder.assert_valid()
    assert recorder.paths() == ["GET /api/v2/instance", "POST /api/v1/statuses"]
    status = recorder.seen[-1]
    assert status.response.status_code == 200
    assert status.request.headers["Idempotency-Key"] == "status-1"
    assert status.request.headers["Authorization"] == f"Bearer {TOKEN}"
    sent = json.loads(status.request.content)
    assert sent == {
        "status": post.text,
        "visibility": "unlisted",
        "language": "en",
        "spoiler_text": "Match report",
        "sensitive": True,
    }
    answered = example(spec, "/api/v1/statuses", "post")
    assert result.remote_id == answered["id"]


def test_thread_replies_validate(mastodon_prism, spec):
    mastodon_prism.require_alive()
    publisher = adapter(mastodon_prism, thread=True)
    text = " ".join(f"Point {i} from the coach's press conference." for i in range(40))
    parts = split_thread(text, publisher)
    assert len(parts) >= 2
    recorder = Recorder()
    result = run(through(recorder, lambda c: publisher.publish(c, outgoing(text, *parts))))

    recorder.assert_valid()
    posts = [e for e in recorder.seen if e.request.url.path == "/api/v1/statuses"]
    assert len(posts) == len(parts)
    bodies = [json.loads(e.request.content) for e in posts]
    assert [b["status"] for b in bodies] == list(parts)
    assert "in_reply_to_id" not in bodies[0]
    answered = example(spec, "/api/v1/statuses", "post")["id"]
    # Prism answers every part with the same example status, so each reply
    # names it; what matters is that the field passes the document.
    assert all(b["in_reply_to_id"] == answered for b in bodies[1:])
    keys = [e.request.headers["Idempotency-Key"] for e in posts]
    assert keys == ["post-1-key"] + [f"post-1-key/{i}" for i in range(2, len(parts) + 1)]
    assert result.detail["ids"] == [answered] * len(parts)


def test_account_check_validates_and_reads_the_instance_limits(mastodon_prism, spec):
    mastodon_prism.require_alive()
    # The option is only a fallback: the instance's own limit wins.
    publisher = adapter(mastodon_prism, max_characters=300)
    recorder = Recorder()
    info = run(through(recorder, lambda c: publisher.check(c)))

    recorder.assert_valid()
    assert recorder.paths() == ["GET /api/v2/instance", "GET /api/v1/accounts/verify_credentials"]
    limits = example(spec, "/api/v2/instance", "get")["configuration"]["statuses"]
    assert info["max_characters"] == limits["max_characters"] != 300
    assert info["characters_reserved_per_url"] == limits["characters_reserved_per_url"]
    assert info["instance"] == mastodon_prism.url


def test_late_retry_looks_for_the_post_first_and_every_request_validates(mastodon_prism, spec):
    """A retry past the key's hour reads the account and its recent statuses
    before posting again. The document's example account has no `id`, so Prism
    makes those answers up from the schema; none of them is the post."""
    mastodon_prism.require_alive()
    publisher = adapter(mastodon_prism)
    recorder = Recorder(dynamic=lambda r: r.url.path.startswith("/api/v1/accounts/"))
    post = outgoing(
        "Kick-off moved to 19:30.",
        key="late-1",
        attempt=2,
        due_at=NOW - dt.timedelta(hours=2),
    )
    result = run(through(recorder, lambda c: publisher.publish(c, post)))

    recorder.assert_valid()
    account = recorder.seen[1].json()
    assert recorder.paths() == [
        "GET /api/v2/instance",
        "GET /api/v1/accounts/verify_credentials",
        f"GET /api/v1/accounts/{account['id']}/statuses",
        "POST /api/v1/statuses",
    ]
    listing = recorder.seen[2].request.url.params
    assert (listing["limit"], listing["exclude_reblogs"]) == ("40", "true")
    assert result.remote_id == example(spec, "/api/v1/statuses", "post")["id"]


def test_the_peer_refuses_what_the_document_forbids(mastodon_prism):
    """The control: the same request with a visibility Mastodon does not know
    is refused, so a passing test above means the document accepted ours."""
    mastodon_prism.require_alive()
    response = httpx.post(
        f"{mastodon_prism.url}/api/v1/statuses",
        json={"status": "Hello", "visibility": "everyone"},
        headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "control-1"},
        timeout=60,
    )
    assert response.status_code == 422
    assert any(
        v["location"][:3] == ["request", "body", "visibility"] for v in request_violations(response)
    )
    with pytest.raises(PermanentError, match="HTTP 422"):
        classify(response)
