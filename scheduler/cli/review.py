"""The `review` command: walk the drafts one by one in a terminal and decide
each (a approve, e edit in $EDITOR, s skip, r reject, q quit). Every decision
is committed at once, so quitting keeps what was decided."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from scheduler.cli.common import complete_channel, edit_in_editor, state
from scheduler.output import console, error, lit, styled_status

KEYS = {"a": "approve", "e": "edit", "s": "skip", "r": "reject", "q": "quit"}


def review(
    ctx: typer.Context,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel", "-c", help="Only this channel's drafts.", autocompletion=complete_channel
        ),
    ] = None,
) -> None:
    """Walk the drafts one by one: the text, its counted length against the limit, the
    source sentence and the send time; a=approve e=edit s=skip r=reject q=quit."""
    from sqlmodel import Session

    from scheduler.desk.review import draft_ids

    current = state(ctx)
    engine = current.engine()
    with Session(engine) as session:
        ids = draft_ids(session, channel)
    if not ids:
        console.print("no drafts to review")
        return
    tally = dict.fromkeys(("approved", "edited", "rejected", "skipped"), 0)
    for n, post_id in enumerate(ids, 1):
        if _decide(engine, post_id, n, len(ids), tally, current.settings) == "quit":
            break
    with Session(engine) as session:
        left = len(draft_ids(session, channel))
    console.print(
        f"approved {tally['approved']}, edited {tally['edited']}, rejected {tally['rejected']}, "
        f"skipped {tally['skipped']}; {left} drafts left"
    )


def _decide(
    engine: Any, post_id: int, n: int, total: int, tally: dict[str, int], settings: Any
) -> str:
    """Show one draft and act on keys until it is decided, skipped or the person quits."""
    from sqlmodel import Session

    from scheduler.desk import review
    from scheduler.desk.editing import edit_post
    from scheduler.errors import NotVerbatimError, SchedulerError
    from scheduler.storage import database

    while True:
        with Session(engine) as session:
            card = review.card(session, post_id)
        if card["status"] != "draft":  # decided elsewhere meanwhile
            return "skip"
        _show(card, n, total)
        key = _ask()
        try:
            if key == "a":
                with database.session_scope(engine) as session:
                    console.print(
                        review.approve(session, post_id, settings=settings)["message"], markup=False
                    )
                tally["approved"] += 1
                return "approve"
            if key == "r":
                with database.session_scope(engine) as session:
                    review.reject(session, post_id)
                console.print(f"post {post_id} rejected")
                tally["rejected"] += 1
                return "reject"
            if key == "s":
                tally["skipped"] += 1
                return "skip"
            if key == "q":
                return "quit"
            text = edit_in_editor(card["text"])
            if text is None:
                console.print(f"post {post_id} unchanged")
                continue
            try:
                with database.session_scope(engine) as session:
                    edit_post(session, post_id, text=text, templates=settings.templates)
            except NotVerbatimError as exc:
                error(str(exc))
                if not _confirm("keep the edit, marked not verbatim?"):
                    continue
                with database.session_scope(engine) as session:
                    edit_post(
                        session, post_id, text=text, not_verbatim=True, templates=settings.templates
                    )
            console.print(f"post {post_id} edited")
            tally["edited"] += 1
        except SchedulerError as exc:  # over the limit, expired, changed meanwhile
            error(str(exc))


def _ask() -> str:
    from rich.prompt import Prompt

    try:
        return Prompt.ask(
            " ".join(f"{k}={v}" for k, v in KEYS.items()),
            choices=list(KEYS),
            show_choices=False,
            console=console,
        )
    except EOFError:  # stdin ran out: as good as quitting
        return "q"


def _confirm(question: str) -> bool:
    from rich.prompt import Confirm

    try:
        return Confirm.ask(question, default=False, console=console)
    except EOFError:
        return False


def _show(card: dict[str, Any], n: int, total: int) -> None:
    from scheduler.planning.held import is_held, what_is_missing

    console.rule(f"draft {n} of {total}: post {card['id']} on {lit(card['channel'])}")
    due = f"due {card['due_local']} ({styled_status(card['status'])})"
    if card["slot_passed"]:
        due += " [yellow]its slot has passed: approving moves it to the next free slot[/]"
    console.print(due)
    if is_held(card.get("reason")):
        # Planning could not finish this post (no speaker, a fragment): say so first.
        console.print(
            f"[yellow]held for review: {lit(what_is_missing(card['reason']))}; "
            "edit it (e) before approving, or reject it[/]"
        )
    console.print(card["text"], markup=False, highlight=False)
    for m in card["lengths"]:
        mark = "[green]ok[/]" if m["ok"] else "[red]over the limit[/]"
        part = f" (part {m['part']})" if len(card["lengths"]) > 1 else ""
        console.print(f"length{part}: {m['count']}/{m['limit']} {m['unit']} {mark}")
    src = card["source_detail"]
    if src:
        tick = "verbatim" if src.get("verbatim") else "[red]NOT verbatim[/]"
        who = f", {lit(src['speaker'])}" if src.get("speaker") else ""
        console.print(
            f"[dim]source: article {src['article_id']}{who} ({tick}[dim]):[/] "
            f"{lit(src['sentence'])}"
        )
