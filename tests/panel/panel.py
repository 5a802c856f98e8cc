"""The editor's panel: the posts `scheduler plan` proposes from the articles in
`articles/`, and the verdicts a person gave them, kept in `verdicts/`.

    python -m tests.panel.panel render    # render again; new texts come in unjudged,
                                          # verdicts of unchanged texts are kept
    python -m tests.panel.panel summary   # N posts, % publish/edit/reject, reasons
    python -m tests.panel.panel check     # exit 1 if any post differs from its verdict
    python -m tests.panel.panel show [NAME...] [--all]   # the unjudged posts (or all),
                                          # with what each came from, to judge

Every post goes through the real command line, in this process, on a fresh
SQLite file: `init`, two fixed channels (a Mastodon one at 500 characters and
a Bluesky one), `ingest` of the whole folder with the dates the pages give,
then `plan` of each article on each channel from a fixed start, then `plan
--recurring` of the Mastodon channel's calendar posts (throwbacks, countdowns,
on this day) over four weeks, each filed under the article of its milestone.
Nothing here depends on the clock except what the scheduler itself reads.

A post is known by its channel, its status and its exact text. A verdict file
holds one `[[post]]` per text (with the channels it was rendered on), the
source it came from (for the judge to read) and the verdict: `publish`, `edit`
or `reject`, with `reasons` from REASONS and a `note`. New texts come in as
`unjudged`; the test fails while any is left, or while a judged text is no
longer rendered. `render` moves texts no longer rendered to `[[judged]]`
(kept, not counted, not tested), and a text that is rendered again takes its
verdict from there.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import sqlite3
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

HERE = Path(__file__).parent
ARTICLES = HERE / "articles"
VERDICTS = HERE / "verdicts"

#: The channels every article is planned on, and the fixed start of planning.
CHANNELS = {
    "mastodon": [
        "--platform",
        "mastodon",
        "-o",
        "instance=https://social.example",
        "-o",
        "max_characters=500",
        "--secret-env",
        "PANEL_MASTODON_TOKEN",
        "--timezone",
        "Europe/London",
        "--slots",
        "mon-sun 09:00,13:00,18:00",
    ],
    "bluesky": [
        "--platform",
        "bluesky",
        "-o",
        "handle=panel.example",
        "--secret-env",
        "PANEL_BLUESKY_PASSWORD",
        "--timezone",
        "America/New_York",
        "--slots",
        "mon-sun 08:00,12:00,17:00",
    ],
}
START = "2026-12-07T07:00"
#: The Mastodon channel also asks for calendar posts; `plan --recurring` plans
#: them over four weeks from START, after the articles' own posts.
CALENDAR = ("mastodon", ["--throwback", "thu 12:00", "--countdown", "7,1"])
UNTIL = "2027-01-04T07:00"

VERDICT_KINDS = ("publish", "edit", "reject")
UNJUDGED = "unjudged"
#: Why a post is not publishable as it is (the issue's list, and a few more).
REASONS = {
    "date-twice": "the date shown twice (label and sentence)",
    "missing-context": "leans on 'this', 'it', 'that' from a sentence not posted",
    "stale-tense": "'Coming up' for a past event, 'now', 'today', 'last year' out of time",
    "cut-mid-sentence": "shortened inside a sentence, or a quote cut and still 'verbatim'",
    "split-quote": "one quote interrupted by its attribution posted as two",
    "wrong-date": "a date wrong or not in the article (durations, bids, vintages)",
    "wrong-speaker": "the quote credited to someone who did not say it, or a garbled name",
    "wrong-person": "a milestone's hashtag names someone it is not about",
    "discourse-word": "opens with 'Indeed', 'However', 'And', 'But' from mid-article",
    "made-up-hashtag": "a hashtag nobody writes",
    "boilerplate": "a byline, caption, copyright line, dateline, citation, teaser",
    "duplicate": "says what another post of the article already says",
    "not-a-quote": "a title, a scare-quoted phrase or a term taken as a quote",
    "press-release-voice": "a release's 'we' posted as if the channel said it",
    "not-an-event": "a sentence with a date that is not a milestone worth posting",
    "over-limit": "longer than the channel takes",
    "weak": "true and clean but not worth a post on its own",
}
PAGE_DATE_VERDICTS = ("right", "wrong", UNJUDGED)
#: Reasons the issue says no post may have.
FORBIDDEN = ("wrong-speaker", "wrong-date", "boilerplate")


@dataclass
class Rendered:
    """One post as `plan` proposed it, with what it came from."""

    channel: str
    status: str
    text: str
    template: str
    source: dict[str, Any]
    over_limit: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.status, self.text)


@dataclass
class ArticleRun:
    name: str
    published: str | None
    posts: list[Rendered] = field(default_factory=list)
    #: Quotes found with no speaker: `plan` proposes nothing from them.
    unattributed: list[str] = field(default_factory=list)


@functools.cache
def _command() -> Any:
    """The command line's click command, built once: Typer rebuilds it on every
    call otherwise, and that is most of the time of 50 calls."""
    import typer

    from scheduler.cli import app

    return typer.main.get_command(app)


def _cli(*argv: str) -> str:
    """Run the real command line in this process and give its stdout; a
    failure is raised with its one-line message."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = _command().main(args=list(argv), standalone_mode=False, prog_name="scheduler")
    if isinstance(result, int) and result != 0:
        raise RuntimeError(f"scheduler {' '.join(argv)} exited with {result}")
    return out.getvalue()


def render(articles: Path = ARTICLES) -> list[ArticleRun]:
    """Every post `plan` proposes from each article on each channel, in plan order."""
    files = sorted(p for p in articles.iterdir() if p.suffix == ".html")
    with tempfile.TemporaryDirectory(prefix="panel-") as work, contextlib.chdir(work):
        db_file = Path(work) / "panel.db"
        db = ["--db", f"sqlite:///{db_file}"]
        _cli(*db, "init")
        for name, options in CHANNELS.items():
            _cli(*db, "channels", "add", name, *options)
        ingested = json.loads(_cli(*db, "ingest", *map(str, files), "--json"))
        if isinstance(ingested, dict):
            ingested = [ingested]
        quotes = {q["id"]: q for q in json.loads(_cli(*db, "quotes", "list", "--json"))}
        milestones = {m["id"]: m for m in json.loads(_cli(*db, "milestones", "list", "--json"))}
        with sqlite3.connect(db_file) as conn:
            dates = dict(conn.execute("select id, published from articles"))
        runs = []
        for row in ingested:
            if "error" in row:
                raise RuntimeError(f"{row['source']}: {row['error']}")
            article_id = row["article_id"]
            published = dates.get(article_id)
            run_ = ArticleRun(Path(row["source"]).stem, str(published)[:10] if published else None)
            run_.unattributed = [
                q["text"]
                for q in quotes.values()
                if q["article_id"] == article_id and not q["speaker"]
            ]
            for channel in CHANNELS:
                planned = json.loads(
                    _cli(*db, "plan", str(article_id), "--channel", channel, "--start", START,
                         "--json")
                )  # fmt: skip
                over = set(planned.get("over_limit") or [])
                for post in planned["created"]:
                    source = _source(post.get("source"), quotes, milestones)
                    source.pop("article_id", None)
                    run_.posts.append(
                        Rendered(
                            channel=channel,
                            status=post["status"],
                            text=post["text"],
                            template=post.get("template") or "",
                            source=source,
                            over_limit=post["id"] in over,
                        )
                    )
            runs.append(run_)
        by_id = {row["article_id"]: run_ for row, run_ in zip(ingested, runs, strict=True)}
        channel, options = CALENDAR
        _cli(*db, "channels", "calendar", channel, *options)
        recurring = json.loads(
            _cli(*db, "plan", "--recurring", "--channel", channel, "--start", START,
                 "--until", UNTIL, "--json")
        )  # fmt: skip
        over = set(recurring.get("over_limit") or [])
        for post in recurring["created"]:
            source = _source(post.get("source"), quotes, milestones)
            article_id = source.pop("article_id", None)
            if article_id not in by_id:
                raise RuntimeError(f"a recurring post from no panel article: {post['text']!r}")
            by_id[article_id].posts.append(
                Rendered(
                    channel=channel,
                    status=post["status"],
                    text=post["text"],
                    template=post.get("template") or "",
                    source=source,
                    over_limit=post["id"] in over,
                )
            )
        return runs


def _source(ref: str | None, quotes: dict, milestones: dict) -> dict[str, Any]:
    """What the post came from, for the judge to read beside the text."""
    kind, _, ident = (ref or "").partition(":")
    if kind == "quote" and ident.isdigit() and int(ident) in quotes:
        q = quotes[int(ident)]
        return {
            "kind": "quote",
            "speaker": q["speaker"] or "",
            "quote": q["text"],
            "article_id": q["article_id"],
        }
    if kind == "milestone" and ident.isdigit() and int(ident) in milestones:
        m = milestones[int(ident)]
        return {
            "kind": "milestone",
            "date": m["date"],
            "precision": m["precision"],
            "tense": m["tense"],
            "sentence": m["text"],
            "article_id": m["article_id"],
        }
    return {"kind": kind or "other"}


# -- verdict files --------------------------------------------------------------


def verdict_path(name: str) -> Path:
    return VERDICTS / f"{name}.toml"


def load_verdicts(name: str) -> dict[str, Any]:
    path = verdict_path(name)
    if not path.exists():
        return {"article": name, "post": []}
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _judged_by_key(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for entry in doc.get("post", []):
        for channel in entry.get("channels", []):
            out[(channel, entry.get("status", "queued"), entry["text"])] = entry
    return out


@dataclass
class Diff:
    """How one article's rendered posts stand against its verdict file."""

    name: str
    new: list[Rendered] = field(default_factory=list)
    gone: list[tuple[str, str, str]] = field(default_factory=list)
    unjudged: int = 0
    page_date_changed: bool = False

    @property
    def clean(self) -> bool:
        return not (self.new or self.gone or self.unjudged or self.page_date_changed)


def compare(run_: ArticleRun) -> Diff:
    doc = load_verdicts(run_.name)
    judged = _judged_by_key(doc)
    keys = {p.key for p in run_.posts}
    diff = Diff(run_.name)
    diff.new = [p for p in run_.posts if p.key not in judged]
    diff.gone = [k for k in judged if k not in keys]
    diff.unjudged = sum(
        len(e.get("channels", [])) for e in doc.get("post", []) if e.get("verdict") == UNJUDGED
    )
    diff.page_date_changed = doc.get("page_date") != (run_.published or "")
    return diff


def _archived_by_key(doc: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for entry in doc.get("judged", []):
        for channel in entry.get("channels", []):
            out[(channel, entry.get("status", "queued"), entry["text"])] = entry
    return out


def _archive(entries: dict[tuple[str, str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Judged texts not rendered now, one entry per text and verdict."""
    groups: dict[tuple, dict[str, Any]] = {}
    for (channel, status, text), prior in entries.items():
        if prior.get("verdict", UNJUDGED) == UNJUDGED:
            continue
        reasons = list(prior.get("reasons", []))
        key = (status, text, prior["verdict"], tuple(reasons), prior.get("note", ""))
        entry = groups.setdefault(
            key,
            {"channels": [], "status": status, "verdict": prior["verdict"], "reasons": reasons}
            | {"note": prior.get("note", ""), "text": text},
        )
        entry["channels"].append(channel)
    return list(groups.values())


def merged(run_: ArticleRun) -> dict[str, Any]:
    """The verdict file for this rendering: the old verdict of every unchanged
    text, `unjudged` for new ones. Texts no longer rendered move to `judged`,
    so a text that comes back (code changed back, a branch merged after it was
    judged on its own) gets its verdict again instead of a second judging."""
    old = load_verdicts(run_.name)
    judged = _judged_by_key(old)
    archived = _archived_by_key(old)
    groups: dict[tuple, dict[str, Any]] = {}
    for post in run_.posts:
        prior = judged.get(post.key) or archived.get(post.key)
        # Posts of one text share one entry only when they share its verdict.
        group_key = (post.status, post.text, id(prior) if prior else None)
        entry = groups.get(group_key)
        if entry is None:
            entry = {"channels": [], "status": post.status, "template": post.template}
            entry |= {"source": post.source}
            if prior:
                for name in ("verdict", "reasons", "note"):
                    entry[name] = prior.get(name, "" if name == "note" else [])
            else:
                entry |= {"verdict": UNJUDGED, "reasons": [], "note": ""}
            entry["text"] = post.text
            groups[group_key] = entry
        entry["channels"].append(post.channel)
        if post.over_limit:
            entry.setdefault("over_limit_on", []).append(post.channel)
    doc = {
        "article": run_.name,
        "page_date": run_.published or "",
        "page_date_verdict": old.get("page_date_verdict", UNJUDGED)
        if old.get("page_date") == (run_.published or "")
        else UNJUDGED,
    }
    if old.get("missed"):
        doc["missed"] = old["missed"]
    doc["post"] = list(groups.values())
    rendered = {p.key for p in run_.posts}
    kept = {k: v for k, v in (archived | judged).items() if k not in rendered}
    if kept:
        doc["judged"] = _archive(kept)
    return doc


def write(doc: dict[str, Any]) -> None:
    VERDICTS.mkdir(exist_ok=True)
    header = (
        "# Verdicts on the posts `scheduler plan` proposes from ../articles/"
        f"{doc['article']}.html.\n# verdict: publish | edit | reject; reasons: see "
        "tests/panel/panel.py REASONS.\n"
    )
    body = tomli_w.dumps(doc, multiline_strings=True)
    verdict_path(doc["article"]).write_text(header + body, encoding="utf-8")


def problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with a verdict file as a file: unknown verdicts or reasons,
    a publish with reasons, an edit or reject without one."""
    out = []
    name = doc.get("article", "?")
    if doc.get("page_date_verdict") not in PAGE_DATE_VERDICTS:
        out.append(f"{name}: page_date_verdict must be one of {PAGE_DATE_VERDICTS}")
    for entry in doc.get("post", []):
        verdict, reasons = entry.get("verdict"), entry.get("reasons", [])
        where = f"{name}: {entry.get('text', '')[:50]!r}"
        if verdict not in (*VERDICT_KINDS, UNJUDGED):
            out.append(f"{where}: verdict {verdict!r} is not one of {VERDICT_KINDS}")
        unknown = [r for r in reasons if r not in REASONS]
        if unknown:
            out.append(f"{where}: unknown reasons {unknown}")
        if verdict == "publish" and reasons:
            out.append(f"{where}: published with reasons {reasons}")
        if verdict in ("edit", "reject") and not reasons:
            out.append(f"{where}: {verdict} needs a reason")
    return out


# -- summary --------------------------------------------------------------------


def summary(runs: list[ArticleRun] | None = None) -> dict[str, Any]:
    """Figures over the verdict files (one post per channel), as data."""
    names = [r.name for r in runs] if runs else sorted(p.stem for p in VERDICTS.glob("*.toml"))
    verdicts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    reasons: Counter[str] = Counter()
    dates: Counter[str] = Counter()
    missed = 0
    for name in names:
        doc = load_verdicts(name)
        dates[doc.get("page_date_verdict", UNJUDGED)] += 1
        missed += len(doc.get("missed", []))
        for entry in doc.get("post", []):
            n = len(entry.get("channels", []))
            verdict = entry.get("verdict", UNJUDGED)
            verdicts[verdict] += n
            kind = entry.get("source", {}).get("kind", "other")
            by_kind.setdefault(kind, Counter())[verdict] += n
            for reason in entry.get("reasons", []):
                reasons[reason] += n
    total = sum(verdicts.values())
    return {
        "articles": len(names),
        "posts": total,
        "verdicts": dict(verdicts),
        "share": {k: round(100 * verdicts[k] / total, 1) if total else 0.0 for k in VERDICT_KINDS},
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "reasons": dict(reasons.most_common()),
        "forbidden": {k: reasons[k] for k in FORBIDDEN},
        "page_dates": dict(dates),
        "missed": missed,
    }


def print_summary(figures: dict[str, Any]) -> None:
    share = figures["share"]
    print(
        f"{figures['posts']} posts from {figures['articles']} articles: "
        f"{share['publish']}% publish, {share['edit']}% edit, {share['reject']}% reject"
        + (
            f", {figures['verdicts'][UNJUDGED]} unjudged"
            if figures["verdicts"].get(UNJUDGED)
            else ""
        )
    )
    for kind, counts in figures["by_kind"].items():
        n = sum(counts.values())
        print(f"  {kind}: {n} posts, {round(100 * counts.get('publish', 0) / n, 1)}% publish")
    print("reasons: " + (", ".join(f"{k} {v}" for k, v in figures["reasons"].items()) or "none"))
    print("forbidden: " + ", ".join(f"{k} {v}" for k, v in figures["forbidden"].items()))
    print("page dates: " + ", ".join(f"{k} {v}" for k, v in figures["page_dates"].items()))
    print(f"missed (quotes or milestones the editor wanted, not proposed): {figures['missed']}")


def show(names: list[str], *, everything: bool = False) -> None:
    """Print the posts still to judge (all, with `everything`) and their sources."""
    for path in sorted(VERDICTS.glob("*.toml")):
        if names and not any(n in path.stem for n in names):
            continue
        doc = load_verdicts(path.stem)
        entries = [e for e in doc["post"] if everything or e.get("verdict") == UNJUDGED]
        if not entries and doc.get("page_date_verdict") != UNJUDGED:
            continue
        print(f"== {path.stem} (page date {doc.get('page_date') or 'none'}: "
              f"{doc.get('page_date_verdict')})")  # fmt: skip
        for entry in entries:
            source = entry.get("source", {})
            detail = {k: v for k, v in source.items() if k != "kind"}
            print(f"[{', '.join(entry['channels'])}] {entry['template']} {entry['verdict']} "
                  f"{' '.join(entry.get('reasons', []))}")  # fmt: skip
            print("    " + entry["text"].replace("\n", "\n    "))
            print(f"    from {source.get('kind')}: {detail}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "summary"
    if command == "summary":
        print_summary(summary())
        return 0
    if command == "show":
        args = argv[1:]
        show([a for a in args if a != "--all"], everything="--all" in args)
        return 0
    if command not in ("render", "check"):
        print(f"usage: python -m tests.panel.panel render|check|summary|show, not {command!r}")
        return 2
    runs = render()
    dirty = 0
    for run_ in runs:
        diff = compare(run_)
        if diff.clean:
            continue
        dirty += 1
        print(f"== {run_.name}")
        if diff.page_date_changed:
            print(f"  page date now {run_.published or 'none'}")
        for post in diff.new:
            print(f"  + [{post.channel}] {post.text!r}")
        for channel, _status, text in diff.gone:
            print(f"  - [{channel}] {text!r}")
        if command == "render":
            write(merged(run_))
    if command == "render":
        known = {r.name for r in runs}
        for stale in VERDICTS.glob("*.toml"):
            if stale.stem not in known:
                print(f"== {stale.stem}: no article any more; verdict file removed")
                stale.unlink()
    unattributed = [(r.name, q) for r in runs for q in r.unattributed]
    for name, quote in unattributed:
        print(f"no speaker, not proposed: {name}: {quote[:70]!r}")
    print_summary(summary(runs))
    print(f"quotes found with no speaker (not proposed, not shown): {len(unattributed)}")
    return 1 if dirty and command == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
