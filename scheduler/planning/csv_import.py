"""Bulk import of hand-written posts from CSV (`scheduler queue import FILE`).

Columns (a header row is required, order is free, UTF-8 with or without BOM):

    channel   a channel name                                    required
    text      the post text                                     required
    at        ISO 8601 (channel's zone if none), 'now', '+2h'   required
    link      a URL for the link card                           optional
    expires   ISO 8601, or '+6h' counted from `at`              optional
    media     image or video files, separated by `|`            optional
    alt       their alt texts, in the same order, by `|`        optional

Each `media` file is stored by content hash and checked against the
channel's platform (type, size, alt text) with the rest of its row.

All or nothing: every row is checked first; if any row is bad, nothing is
imported and the one-line error names each bad row (by the line it starts on).
A row identical to a post already in the queue (same channel, text and time) is
skipped, so importing the same file twice does not double the posts. A row
whose post a person cancelled or rejected is skipped too, as `plan` skips a
source removed by hand: importing the file again does not bring it back, unless
asked (`again`, `queue import --again`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from scheduler.accounts.channels import publisher_for
from scheduler.errors import PlanningError, SchedulerError
from scheduler.media.attach import attach_files
from scheduler.planning.plan import new_post, skip_because
from scheduler.storage.models import Channel, Post, utcnow
from scheduler.when import parse_when

REQUIRED = ("channel", "text", "at")
OPTIONAL = ("link", "expires", "media", "alt")
MAX_SHOWN = 3


@dataclass
class ImportResult:
    created: list[Post] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)  # file lines skipped
    #: File lines skipped because their post was cancelled or rejected by hand.
    removed: list[int] = field(default_factory=list)
    over_limit: list[int] = field(default_factory=list)  # indexes into created


def read_rows(data: str, name: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise PlanningError(f"{name} is empty; expected a header row: {','.join(REQUIRED)}")
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        what = []
        if missing:
            what.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            what.append(f"unknown column(s) {', '.join(unknown)}")
        raise PlanningError(
            f"{name}: {'; '.join(what)} (columns: {', '.join(REQUIRED + OPTIONAL)})"
        )
    reader.fieldnames = header
    rows = []
    try:
        line = reader.line_num + 1  # where the next row starts: a quoted row may span lines
        for record in reader:
            extra = record.pop(None, None)  # type: ignore[call-overload]
            if extra:
                rows.append((line, {"__error__": f"{len(extra)} value(s) more than columns"}))
            else:
                rows.append((line, {k: (v or "").strip() for k, v in record.items()}))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise PlanningError(f"{name} line {reader.line_num}: not valid CSV: {exc}") from None
    return rows


def import_csv(
    session: Session,
    data: str,
    name: str = "CSV",
    now: dt.datetime | None = None,
    again: bool = False,
) -> ImportResult:
    now = now or utcnow()
    rows = read_rows(data, name)
    if not rows:
        raise PlanningError(f"{name} has a header but no rows")
    channels = {c.name: c for c in session.exec(select(Channel))}
    errors: list[str] = []
    good: list[tuple[int, Channel, dict[str, Any]]] = []
    publishers: dict[str, Any] = {}
    for line, row in rows:
        try:
            if "__error__" in row:
                raise PlanningError(row["__error__"])
            channel, values = _check_row(row, channels, now)
            values["attached"] = None
            if values["media"]:
                if channel.name not in publishers:
                    publishers[channel.name] = publisher_for(channel, reveal=False)
                # Checked here; stored only once every row is good.
                attach_files(
                    session,
                    publishers[channel.name],
                    values["media"],
                    values["alts"],
                    store=False,
                )
            good.append((line, channel, values))
        except SchedulerError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        shown = "; ".join(errors[:MAX_SHOWN])
        more = f"; and {len(errors) - MAX_SHOWN} more" if len(errors) > MAX_SHOWN else ""
        raise PlanningError(f"{len(errors)} bad row(s) in {name}, nothing imported: {shown}{more}")
    result = ImportResult()
    seen: set[tuple[int, str, dt.datetime]] = set()
    fits = {}
    for line, channel, values in good:
        key = (channel.id or 0, values["text"], values["due_at"])
        skip = (
            "live"
            if key in seen
            else skip_because(_statuses(session, channel, values["text"], values["due_at"]), again)
        )
        if skip == "live":
            result.duplicates.append(line)
            continue
        if skip == "removed":
            result.removed.append(line)
            continue
        seen.add(key)
        if values["media"]:
            values["attached"], _ = attach_files(
                session, publisher_for(channel, reveal=False), values["media"], values["alts"]
            )
        post = new_post(channel, values["text"], values["due_at"], kind="csv")
        post.link = values["link"]
        post.media = values["attached"]
        post.expires_at = values["expires_at"]
        post.reason = f"imported from {name} line {line}"
        session.add(post)
        result.created.append(post)
        if channel.name not in fits:
            fits[channel.name] = publisher_for(channel, reveal=False).fits
        if not fits[channel.name](post.text):
            result.over_limit.append(len(result.created) - 1)
    session.flush()
    return result


def _check_row(
    row: dict[str, str], channels: dict[str, Channel], now: dt.datetime
) -> tuple[Channel, dict[str, Any]]:
    name = row.get("channel", "")
    if not name:
        raise PlanningError("no channel")
    channel = channels.get(name)
    if channel is None:
        raise PlanningError(f"no channel named {name!r}")
    text = row.get("text", "").replace("\r\n", "\n").strip()
    if not text:
        raise PlanningError("empty text")
    if not row.get("at"):
        raise PlanningError("no time in 'at'")
    due_at = parse_when(row["at"], channel.timezone, now=now)
    expires_at = None
    if row.get("expires"):
        expires_at = parse_when(row["expires"], channel.timezone, now=due_at)
        if expires_at <= due_at:
            raise PlanningError("'expires' is not after 'at'")
    link = row.get("link") or None
    if link and not link.startswith(("http://", "https://")):
        raise PlanningError(f"link must start with http:// or https://, not {link[:30]!r}")
    return channel, {
        "text": text,
        "due_at": due_at,
        "expires_at": expires_at,
        "link": link,
        "media": [f.strip() for f in row.get("media", "").split("|") if f.strip()],
        "alts": [a.strip() for a in row.get("alt", "").split("|")] if row.get("alt") else [],
    }


def _statuses(session: Session, channel: Channel, text: str, due_at: dt.datetime) -> set[str]:
    """The statuses of the posts identical to a row (same channel, text, time)."""
    return set(
        session.exec(
            select(Post.status).where(
                Post.channel_id == channel.id, Post.text == text, Post.due_at == due_at
            )
        )
    )


def import_posts(
    session: Session, data: str, name: str, again: bool = False
) -> tuple[list[dict[str, Any]], ImportResult]:
    """`import_csv`, with the new posts as plain data (`queue import`)."""
    from scheduler.desk.posts import planned_dict

    result = import_csv(session, data, name, again=again)
    by_id = {c.id: c for c in session.exec(select(Channel))}
    return [planned_dict(p, by_id[p.channel_id]) for p in result.created], result
