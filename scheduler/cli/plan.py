"""The `plan` command: queue posts from an article's quotes and milestones, or
(--recurring) the evergreen and calendar posts the channels ask for."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.common import JsonOpt, complete_channel, print_created, state

KINDS = ("quote", "milestone", "link")


def plan(
    ctx: typer.Context,
    article: Annotated[
        str | None, typer.Argument(help="Article id, or 'latest' (not with --recurring).")
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            "-c",
            help="Channel to plan for (--recurring: default all).",
            autocompletion=complete_channel,
        ),
    ] = None,
    recurring: Annotated[
        bool,
        typer.Option(
            "--recurring",
            help="Plan the channels' evergreen and calendar posts up to --until instead.",
        ),
    ] = False,
    until: Annotated[
        str, typer.Option(help="With --recurring: plan up to this time (ISO 8601 or '+30d').")
    ] = "+30d",
    expires_after: Annotated[
        str | None,
        typer.Option(help="Posts not sent within this long after their time never go ('2d')."),
    ] = None,
    kinds: Annotated[str, typer.Option(help="What to post: quote, milestone, link (commas).")] = (
        "quote,milestone"
    ),
    template: Annotated[
        list[str] | None,
        typer.Option("--template", "-t", help="kind=template, e.g. quote=quote_short (repeat)."),
    ] = None,
    start: Annotated[str | None, typer.Option(help="Plan from this time (default: now).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many posts.")] = None,
    again: Annotated[
        bool,
        typer.Option(
            "--again", help="Plan again the sources whose post was cancelled or rejected."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Turn an article's quotes and milestones into queued posts over the channel's slots,
    or (--recurring) queue the evergreen and calendar posts channels ask for."""
    import datetime as dt

    from scheduler.errors import PlanningError
    from scheduler.planning.rules import parse_duration_days
    from scheduler.planning.service import plan_from_article, plan_recurring_posts
    from scheduler.storage import database
    from scheduler.storage.models import utcnow
    from scheduler.when import parse_when

    current = state(ctx)
    engine = current.engine()
    lifetime = dt.timedelta(days=parse_duration_days(expires_after)) if expires_after else None
    if recurring:
        if article is not None:
            raise PlanningError("--recurring plans from channel settings; drop the article")
        env = current.template_env()
        first = parse_when(start) if start else utcnow()
        end = parse_when(until, now=first)
        with database.session_scope(engine) as session:
            planned = plan_recurring_posts(
                session, env, first, end, channel=channel, lifetime=lifetime
            )
        drafts = sum(1 for r in planned.rows if r["status"] == "draft")
        print_created(
            planned.rows,
            planned.over_limit,
            json_out,
            f"{len(planned.rows)} recurring posts queued"
            + (f" ({drafts} of them drafts to review)" if drafts else "")
            + (f", {planned.skipped} already planned" if planned.skipped else ""),
            notes=planned.notes,
            skipped=planned.skipped,
        )
        return
    if article is None or channel is None:
        raise PlanningError("give an ARTICLE and --channel NAME, or use --recurring")
    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    bad = [k for k in wanted if k not in KINDS]
    if bad or not wanted:
        raise PlanningError(f"unknown kind {', '.join(bad) or kinds!r}: use quote, milestone, link")
    names = {}
    for item in template or []:
        kind, sep, name = item.partition("=")
        if not sep or kind not in KINDS:
            raise PlanningError(f"--template takes kind=name, not {item!r}")
        names[kind] = name
    env = current.template_env()
    with database.session_scope(engine) as session:
        planned = plan_from_article(
            session,
            env,
            article,
            channel,
            kinds=wanted,
            templates=names,
            start=start,
            limit=limit,
            lifetime=lifetime,
            again=again,
            review=current.settings.review,
            settings=current.settings,
        )
    drafts = sum(1 for r in planned.rows if r["status"] == "draft")
    live = planned.skipped - planned.removed
    print_created(
        planned.rows,
        planned.over_limit,
        json_out,
        (
            f"{drafts} drafts on {channel} to review (`scheduler review`)"
            if drafts == len(planned.rows) and drafts
            else f"{len(planned.rows) - drafts} posts queued and {drafts} drafts to review on "
            f"{channel} (`scheduler review`)"
            if drafts
            else f"{len(planned.rows)} posts queued on {channel}"
        )
        + (f", {live} already planned" if live else "")
        + (
            f", {planned.removed} cancelled or rejected before (`plan --again` plans them)"
            if planned.removed
            else ""
        ),
        notes=planned.notes,
        skipped=planned.skipped,
        removed=planned.removed,
        drafts=drafts,
    )
