"""The `queue` group: list, add, show, edit, move, approve, reject, cancel,
retry, reconcile and import the posts waiting to go out (or gone)."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.common import JsonOpt, edit_in_editor, print_created, read_input, state
from scheduler.output import console, gist, lit, print_json, styled_status, warn

app = typer.Typer(
    help="The queue of posts: list, add, show, edit, move, approve, reject, cancel, retry.",
    no_args_is_help=True,
)


@app.command("list")
def queue_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    after: Annotated[str | None, typer.Option(help="Cursor from the previous page.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Rows per page.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Posts in send order, a page at a time (keyset paging: fast at any depth)."""
    from sqlmodel import Session

    from scheduler.desk.posts import parse_cursor, queue_page
    from scheduler.errors import PlanningError
    from scheduler.storage.models import PostStatus

    if status is not None and status not in PostStatus.__members__:
        raise PlanningError(
            f"unknown status {status!r} (one of {', '.join(PostStatus.__members__)})"
        )
    cursor = parse_cursor(after) if after else None
    with Session(state(ctx).engine()) as session:
        rows, next_cursor = queue_page(
            session, status=status, channel=channel, after=cursor, limit=limit
        )
    if json_out:
        print_json({"posts": rows, "next": next_cursor})
        return
    from rich.table import Table

    table = Table("id", "channel", "status", "due (channel time)", "tries", "text / last error")
    for r in rows:
        detail = lit(gist(r["text"])[:60])
        if r["last_error"]:
            detail += f"\n[red]{lit(r['last_error'][:80])}[/]"
        if r["status"] == "queued" and r["next_attempt_local"]:
            detail += f"\n[yellow]next try {r['next_attempt_local']}[/]"
        table.add_row(
            str(r["id"]),
            lit(r["channel"]),
            styled_status(r["status"]),
            r["due_local"],
            str(r["attempts"]),
            detail,
        )
    console.print(table if rows else "the queue is empty")
    if next_cursor:
        console.print(f"more: scheduler queue list --after {next_cursor}")


@app.command("add")
def queue_add(
    ctx: typer.Context,
    channel: str,
    text: Annotated[str, typer.Argument(help="The post text, or - to read it from stdin.")],
    at: Annotated[
        str | None, typer.Option(help="When: ISO 8601 (channel's zone if none), 'now', '+2h'.")
    ] = None,
    next_slot: Annotated[
        bool, typer.Option("--next-slot", help="At the channel's next free slot.")
    ] = False,
    media: Annotated[
        list[str] | None,
        typer.Option("--media", help="An image or video to attach (repeat for more)."),
    ] = None,
    alt: Annotated[
        list[str] | None,
        typer.Option("--alt", help="Alt text of each --media, in the same order."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Queue a post written by hand, --at a time or at the --next-slot, with images
    or video if given."""
    from scheduler.desk.posts import add_by_hand
    from scheduler.errors import PlanningError
    from scheduler.storage import database

    if (at is None) == (not next_slot):
        raise PlanningError("give --at WHEN or --next-slot (one of them)")
    if text == "-":
        text, _ = read_input("-", PlanningError)
    with database.session_scope(state(ctx).engine()) as session:
        data = add_by_hand(session, channel, text, at, media or [], alt or [])
    for message in data["warnings"]:
        warn(message)
    if data["late_seconds"]:
        warn(
            f"post {data['id']} is due {data['due_local']}, {_ago(data['late_seconds'])}: the "
            "daemon sends it at once, or marks it missed when that is past the grace period"
        )
    if json_out:
        print_json(data)
    else:
        with_media = f" with {len(data['media'])} file(s)" if data["media"] else ""
        console.print(
            f"post {data['id']} queued on {lit(channel)} for {data['due_local']}{with_media}"
        )


@app.command("show")
def queue_show(ctx: typer.Context, post_id: int, json_out: JsonOpt = False) -> None:
    """One post with its attempts and where its words came from."""
    from sqlmodel import Session

    from scheduler.desk.posts import show_post
    from scheduler.planning.held import HELD, is_held

    with Session(state(ctx).engine()) as session:
        data = show_post(session, post_id)
    if json_out:
        print_json(data)
        return
    console.print(
        f"[bold]post {data['id']}[/] on {lit(data['channel'])}: {styled_status(data['status'])}, due {data['due_local']}"
    )
    if is_held(data["reason"]):
        # Planning could not finish it (no speaker, a fragment): a person must.
        console.print(
            f"[yellow]held for review:[/] {lit(data['reason'][len(HELD) :])}", highlight=False
        )
    console.print(data["text"], markup=False)
    for m in data["media"]:
        console.print(
            f"media: {m['path']} ({m['mime']}, {m['width']}x{m['height']}), alt: {m['alt'] or '(none)'}",
            markup=False,
        )
    if data["source_detail"]:
        src = data["source_detail"]
        console.print(
            f"[dim]from article {src['article_id']} chars {src['start']}-{src['end']}: {lit(src['sentence'])}[/]",
            markup=True,
        )
        if src["kind"] == "quote" and not src["verbatim"]:
            console.print("[red]NOT verbatim:[/] the quote was edited away from its source")
    if data["status"] == "held" and data["last_error"]:
        # Source watch: the quoted words changed on the page; a person decides.
        console.print(f"[yellow]held:[/] {lit(data['last_error'])}")
        console.print(
            f"send it as it is with `scheduler queue retry {data['id']}`,"
            f" or drop it with `scheduler queue cancel {data['id']}`"
        )
    elif data["last_error"]:
        console.print(f"[red]last error:[/] {lit(data['last_error'])}")
    if data["status"] == "queued" and data["next_attempt_local"]:
        console.print(f"[yellow]next try:[/] {data['next_attempt_local']}")
    for a in data["attempts_detail"]:
        console.print(
            f"  attempt {a['started_at']} -> {a['outcome'] or 'in flight'} {a['error'] or ''}"
        )


@app.command("edit")
def queue_edit(
    ctx: typer.Context,
    post_id: int,
    text: Annotated[
        str | None,
        typer.Option(help="New text (- reads stdin). Neither this nor --at: edit in $EDITOR."),
    ] = None,
    at: Annotated[str | None, typer.Option(help="New time: ISO 8601, 'now', '+2h'.")] = None,
    not_verbatim: Annotated[
        bool,
        typer.Option("--not-verbatim", help="Accept a quote no longer word for word; mark it so."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Change a draft's or queued post's words or time. Words are counted again for the
    platform, a quote checked against its source, a quote card drawn again from the
    new words and name, and the post gets a new key."""
    from scheduler.desk.editing import edit_post
    from scheduler.errors import PlanningError
    from scheduler.storage import database

    if text == "-":
        text, _ = read_input("-", PlanningError)
    current = state(ctx)
    engine = current.engine()
    if text is None and at is None:
        from sqlmodel import Session

        from scheduler.desk.posts import get_post

        with Session(engine) as session:
            text = edit_in_editor(get_post(session, post_id).text)
        if text is None:
            console.print(f"post {post_id} unchanged")
            return
    with database.session_scope(engine) as session:
        data = edit_post(
            session,
            post_id,
            text=text,
            at=at,
            not_verbatim=not_verbatim,
            templates=[*current.templates, *current.settings.templates],
        )
    if data["late_seconds"]:
        warn(f"post {post_id} is due {data['due_local']}, {_ago(data['late_seconds'])}")
    if json_out:
        print_json(data)
        return
    said = []
    if data["text_changed"]:
        m = max(data["lengths"], key=lambda m: m["count"] / max(m["limit"], 1))
        said.append(f"new text, {m['count']}/{m['limit']} {m['unit']}, new key")
        if data["verbatim"] is False:
            said.append("marked not verbatim")
        if data["card_redrawn"]:
            said.append("quote card drawn again")
    elif text is not None:
        said.append("text unchanged")
    if data["moved"]:
        said.append(f"due {data['due_local']}")
    console.print(f"post {post_id} ({data['status']}): {', '.join(said)}")


@app.command("approve")
def queue_approve(ctx: typer.Context, post_ids: list[int], json_out: JsonOpt = False) -> None:
    """Queue drafts. A draft whose time has passed takes the channel's next free slot."""
    from scheduler.desk.review import approve_posts
    from scheduler.storage import database

    current = state(ctx)
    with database.session_scope(current.engine()) as session:
        done = approve_posts(session, post_ids, settings=current.settings)
    if json_out:
        print_json({"approved": done})
        return
    for d in done:
        console.print(d["message"], markup=False)


@app.command("reject")
def queue_reject(ctx: typer.Context, post_ids: list[int], json_out: JsonOpt = False) -> None:
    """Reject drafts: kept, never sent, and not planned again (`plan --again` aside)."""
    from scheduler.desk.review import reject_posts
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        reject_posts(session, post_ids)
    if json_out:
        print_json({"rejected": post_ids})
    else:
        console.print(f"rejected {', '.join(map(str, post_ids))}")


@app.command("move")
def queue_move(
    ctx: typer.Context,
    post_id: int,
    at: Annotated[str, typer.Option(help="New time: ISO 8601, 'now', '+2h'.")],
    json_out: JsonOpt = False,
) -> None:
    """Give a queued post a new time."""
    from scheduler.desk.posts import move_to
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        data = move_to(session, post_id, at)
    if json_out:
        print_json(data)
    else:
        console.print(f"post {post_id} moved to {data['due_local']}")


@app.command("cancel")
def queue_cancel(ctx: typer.Context, post_ids: list[int], json_out: JsonOpt = False) -> None:
    """Cancel queued posts (they are kept, marked cancelled)."""
    from scheduler.desk.posts import cancel_posts
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        cancel_posts(session, post_ids)
    if json_out:
        print_json({"cancelled": post_ids})
    else:
        console.print(f"cancelled {', '.join(map(str, post_ids))}")


@app.command("retry")
def queue_retry(ctx: typer.Context, post_ids: list[int], json_out: JsonOpt = False) -> None:
    """Queue failed, cancelled, missed or unknown posts again."""
    from scheduler.desk.posts import retry_posts
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        retry_posts(session, post_ids)
    if json_out:
        print_json({"queued": post_ids})
    else:
        console.print(f"queued again: {', '.join(map(str, post_ids))}")


@app.command("reconcile")
def queue_reconcile(
    ctx: typer.Context,
    post_ids: Annotated[
        list[int] | None, typer.Argument(help="Posts to settle (default: every unknown post).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask each platform whether `unknown` posts landed: sent, queued again, or still unknown."""
    from scheduler.delivery.reconcile import reconcile

    settled = reconcile(state(ctx).engine(), post_ids or [])
    if json_out:
        print_json([s.__dict__ for s in settled])
        return
    if not settled:
        console.print("no unknown posts to settle")
    for item in settled:
        console.print(
            f"post {item.post_id} on {item.channel}: {styled_status(item.result)}"
            + (f"  {item.detail}" if item.detail else "")
        )


@app.command("import")
def queue_import(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(help="CSV file (or - for stdin): channel,text,at[,link,expires,media,alt]."),
    ],
    again: Annotated[
        bool,
        typer.Option(
            "--again", help="Also import rows whose post was cancelled or rejected by hand."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Queue many hand-written posts from CSV. All or nothing: one bad row imports none.
    Rows already queued, and rows whose post was cancelled or rejected, are skipped."""
    from scheduler.errors import PlanningError
    from scheduler.planning.csv_import import import_posts
    from scheduler.storage import database

    data, name = read_input(file, PlanningError)
    with database.session_scope(state(ctx).engine()) as session:
        rows, result = import_posts(session, data, name, again=again)
    print_created(
        rows,
        [rows[i]["id"] for i in result.over_limit],
        json_out,
        f"{len(rows)} posts imported from {name}"
        + (
            f"; lines {', '.join(map(str, result.duplicates))} already queued, skipped"
            if result.duplicates
            else ""
        )
        + (
            f"; lines {', '.join(map(str, result.removed))} cancelled or rejected by hand, "
            "skipped (--again imports them)"
            if result.removed
            else ""
        ),
        duplicate_lines=result.duplicates,
        removed_lines=result.removed,
    )


def _ago(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{seconds:.0f} seconds ago"
