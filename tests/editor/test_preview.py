"""`scheduler preview`: text, counted length against the limit, hashtags, link
card, local time, provenance and the exact request; NO_COLOR respected."""

from __future__ import annotations

import re

from .conftest import add_outbox, add_webhook

LONG = "Race report from the regatta. " * 12 + "#RedRiverOars"
COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-7]|38;[0-9;]+|9[0-7])m")


def _setup(cli, seeded) -> None:
    add_outbox(cli, "club")
    add_webhook(cli, "hook")
    cli.run("plan", str(seeded["article"]), "-c", "hook", "--kinds", "quote")
    csv = (
        "channel,text,at,link\n"
        f'club,"{LONG}",2030-05-01T09:00,\n'
        'club,"Regatta day! #Rowing #RedRiverOars https://example.org/regatta",'
        "2030-05-02T09:00,https://example.org/regatta\n"
    )
    cli.run("queue", "import", "-", stdin=csv)


def test_preview_json_shows_what_will_be_sent(cli, seeded) -> None:
    _setup(cli, seeded)
    env = {"EDITOR_TEST_HOOK_SECRET": "s3cret-value-never-shown"}
    proc = cli.run("preview", "--json", env=env)
    assert "s3cret-value-never-shown" not in proc.stdout
    import json

    items = json.loads(proc.stdout)
    assert len(items) == 5
    by_text = {i["text"]: i for i in items}
    long = by_text[LONG]
    assert long["over_limit"] is True
    assert long["lengths"] == [
        {"unit": "graphemes", "count": len(LONG), "limit": 280, "ok": False, "part": 1}
    ]
    assert long["parts"] == [LONG]
    assert long["due_local"] == "2030-05-01 09:00 CDT"
    regatta = next(i for i in items if i["text"].startswith("Regatta day!"))
    assert regatta["hashtags"] == ["#Rowing", "#RedRiverOars"]
    assert regatta["link"] == "https://example.org/regatta"
    assert regatta["over_limit"] is False
    assert regatta["requests"][0]["method"] == "APPEND"
    assert regatta["requests"][0]["json"]["text"] == regatta["text"]
    quotes = [i for i in items if i["platform"] == "webhook"]
    assert len(quotes) == 3
    for q in quotes:
        assert q["source"]["speaker"] == "Mira Kovalenko"
        assert q["source"]["verbatim"] is True
        assert q["source"]["words"] in q["source"]["sentence"]
        assert q["link"] == "https://example.org/rowing/kovalenko"
        (request,) = q["requests"]
        assert request["url"] == "http://127.0.0.1:9/hooks"
        assert request["json"]["text"] == q["text"]
        assert request["headers"]["webhook-signature"].endswith("***")
    # One channel, up to a time.
    (only,) = cli.json("preview", "-c", "club", "--until", "2030-05-01T12:00")
    assert only["text"] == LONG


def test_preview_terminal_warns_in_words_and_respects_no_color(cli, seeded) -> None:
    _setup(cli, seeded)
    coloured = cli.run(
        "preview", env={"FORCE_COLOR": "1", "NO_COLOR": "", "TERM": "xterm-256color"}
    )
    assert COLOUR.search(coloured.stdout), "FORCE_COLOR should give colours"
    plain = cli.run("preview", env={"FORCE_COLOR": "1", "NO_COLOR": "1", "TERM": "xterm-256color"})
    assert not COLOUR.search(plain.stdout)
    for out in (coloured.stdout, plain.stdout):
        text = re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert f"OVER THE LIMIT by {len(LONG) - 280}" in text
        assert "hashtags: #Rowing #RedRiverOars" in text
        assert "link card: https://example.org/regatta" in text
        assert "source: article 1" in text


def test_preview_unknown_id_is_one_line(cli, seeded) -> None:
    _setup(cli, seeded)
    proc = cli.run("preview", "999", ok=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip() == "error: no post with id 999"


def test_explain_says_why(cli, seeded) -> None:
    _setup(cli, seeded)
    items = cli.json("queue", "list")["posts"]
    quote = next(p for p in items if p["channel"] == "hook")
    data = cli.json("explain", str(quote["id"]))
    assert data["on_slot"] is True
    text = " ".join(data["explanation"])
    assert "next free slot of 'mon-fri 09:00'" in text
    assert "Mira Kovalenko" in text
    assert "A running daemon sends it at" in text
    imported = next(p for p in items if p["text"].startswith("Regatta day!"))
    data = cli.json("explain", str(imported["id"]))
    assert data["on_slot"] is False
    assert "imported from stdin line 3" in " ".join(data["explanation"])
    cli.run("channels", "pause", "club")
    out = cli.run("explain", str(imported["id"])).stdout
    assert "paused" in out
    proc = cli.run("explain", "4242", ok=False)
    assert proc.stderr.strip() == "error: no post with id 4242"
