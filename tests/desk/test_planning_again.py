"""Planning never brings back what a person removed: a cancelled or rejected
post is not planned again for the same source, template and channel unless
`plan --again`; recurring planners keep to it too."""

from __future__ import annotations

from tests.desk.conftest import Desk


def test_a_cancelled_post_stays_cancelled(desk: Desk) -> None:
    created = desk.setup()
    quote = next(p for p in created if p["template"] == "quote")
    desk("queue", "cancel", str(quote["id"]))
    again = desk("plan", "latest", "-c", "club", "--json").json()
    assert again["created"] == [] and again["skipped"] == len(created) and again["removed"] == 1
    said = desk("plan", "latest", "-c", "club")
    assert "0 posts queued" in said.out and "cancelled or rejected before" in said.out
    assert [p["id"] for p in desk.posts("queued")] == [
        p["id"] for p in created if p["id"] != quote["id"]
    ]
    forced = desk("plan", "latest", "-c", "club", "--again", "--json").json()
    assert len(forced["created"]) == 1 and forced["created"][0]["text"] == quote["text"]
    # The live copy now counts as planned: --again does not make a third.
    assert desk("plan", "latest", "-c", "club", "--again", "--json").json()["created"] == []


def test_a_rejected_draft_is_not_proposed_again(desk: Desk) -> None:
    created = desk.setup("--review")
    desk("queue", "reject", str(created[0]["id"]))
    assert desk("plan", "latest", "-c", "club", "--json").json()["removed"] == 1
    forced = desk("plan", "latest", "-c", "club", "--again", "--json").json()["created"]
    assert [p["status"] for p in forced] == ["draft"]


def test_a_cancelled_calendar_post_is_not_planned_again(desk: Desk) -> None:
    desk.setup()
    desk("channels", "calendar", "club", "--countdown", "30,7,1")
    first = desk("plan", "--recurring", "--start", "2027-05-01", "--until", "2027-06-30", "--json")
    made = first.json()["created"]
    assert len(made) == 3
    desk("queue", "cancel", str(made[0]["id"]))
    again = desk("plan", "--recurring", "--start", "2027-05-01", "--until", "2027-06-30", "--json")
    assert again.json()["created"] == []
