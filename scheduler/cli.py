"""The `scheduler` command line. Thin: parse, call the modules that do the work,
print. Heavy modules are imported inside commands so `--help` stays fast.

Contract: listing commands take `--json` and then print only JSON; exit 0 on
success, non-zero with one line on stderr otherwise; never a traceback for bad
input.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler import __version__
from scheduler.errors import SchedulerError
from scheduler.output import console, error, print_json, progress, styled_status

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from scheduler.config import Settings

app = typer.Typer(
    name="scheduler",
    help="Turn news articles into social media posts and publish each one exactly once, on time.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
quotes_app = typer.Typer(help="Quotes extracted from articles.", no_args_is_help=True)
milestones_app = typer.Typer(help="Dated milestones extracted from articles.", no_args_is_help=True)
channels_app = typer.Typer(
    help="Where posts go: add, list, test, pause, resume.", no_args_is_help=True
)
queue_app = typer.Typer(
    help="The queue of posts: list, add, show, move, cancel, retry.", no_args_is_help=True
)
app.add_typer(quotes_app, name="quotes")
app.add_typer(milestones_app, name="milestones")
app.add_typer(channels_app, name="channels")
app.add_typer(queue_app, name="queue")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON.")]


@dataclass
class State:
    db: str | None = None
    templates: list[Path] = field(default_factory=list)
    _settings: Settings | None = None
    _engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from scheduler.config import load_settings

            self._settings = load_settings(db=self.db)
        return self._settings

    def engine(self, *, require_schema: bool = True) -> Engine:
        if self._engine is None:
            from scheduler.storage import database

            self._engine = database.make_engine(self.settings.db)
            if require_schema:
                database.require_schema(self._engine)
        return self._engine

    def template_env(self) -> Any:
        from scheduler.compose import make_environment

        return make_environment([*self.templates, *self.settings.templates])


def _state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


def _complete_channel(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of channel names, from the database when it can be read."""
    try:
        from sqlmodel import Session

        from scheduler.accounts import channels

        # While completing, the root callback has not run: read --db from its params.
        state = ctx.find_object(State) or State(db=ctx.find_root().params.get("db"))
        with Session(state.engine()) as session:
            names = [c.name for c in channels.list_channels(session)]
    except Exception:
        return []
    return [n for n in names if n.startswith(incomplete)]


ChannelArg = Annotated[str, typer.Argument(help="Channel name.", autocompletion=_complete_channel)]


def _version(value: bool) -> None:
    if value:
        print(f"scheduler {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Database URL (default: SCHEDULER_DB or sqlite:///scheduler.db)."
        ),
    ] = None,
    templates: Annotated[
        list[Path] | None,
        typer.Option(
            "--templates",
            metavar="DIR",
            help="A folder of your own post templates (searched first).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = State(db=db, templates=list(templates or []))


# -- database -----------------------------------------------------------------


@app.command()
def init(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Create or migrate the database."""
    from scheduler.storage import database, migrations

    engine = _state(ctx).engine(require_schema=False)
    before, after = migrations.upgrade(engine)
    what = "created" if before is None else ("already current" if before == after else "migrated")
    if json_out:
        print_json({"database": database.describe(engine), "result": what, "revision": after})
    else:
        console.print(f"database {database.describe(engine)} {what} (revision {after})")


# -- ingest -------------------------------------------------------------------


@app.command()
def ingest(
    ctx: typer.Context,
    sources: Annotated[
        list[str], typer.Argument(help="Files, folders, http(s) URLs, or - for stdin.")
    ],
    published: Annotated[
        str | None,
        typer.Option(
            help="The article's date (YYYY-MM-DD): past and planned milestones and "
            "'last year' are read from it. Default: the date the page gives, else today."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Extract quotes and milestones from articles and store them."""
    import dataclasses
    import datetime as dt

    from scheduler.errors import IngestError
    from scheduler.ingest import extract, load_article
    from scheduler.ingest.articles import store_article
    from scheduler.storage import database

    dated = None
    if published is not None:
        try:
            dated = dt.date.fromisoformat(published)
        except ValueError:
            raise IngestError(f"bad --published date {published!r}: use YYYY-MM-DD") from None
    engine = _state(ctx).engine()
    paths = _expand_sources(sources)
    results = []
    for source in progress(paths, "ingesting", enabled=not json_out):
        loaded = load_article(source)
        if dated is not None:
            loaded = dataclasses.replace(loaded, published=dated)
        extraction = extract(loaded.text, published=loaded.published)
        with database.session_scope(engine) as session:
            stored = store_article(session, loaded, extraction)
        results.append(
            {
                "article_id": stored.article.id,
                "source": loaded.source,
                "title": stored.article.title,
                "created": stored.created,
                "quotes": stored.quotes,
                "milestones": stored.milestones,
            }
        )
        if not json_out:
            note = "" if stored.created else " [yellow](already stored; nothing added)[/]"
            console.print(
                f"article {stored.article.id}: {stored.quotes} quotes, "
                f"{stored.milestones} milestones from {loaded.source}{note}"
            )
    if json_out:
        print_json(results if len(results) != 1 else results[0])


def _expand_sources(sources: list[str]) -> list[str]:
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir():
            found = sorted(
                str(p)
                for p in path.iterdir()
                if p.suffix.lower() in {".txt", ".html", ".htm", ".md"}
            )
            if not found:
                raise SchedulerError(f"no .txt, .html or .md articles in {source}")
            out.extend(found)
        else:
            out.append(source)
    return out


@quotes_app.command("list")
def quotes_list(
    ctx: typer.Context,
    article: Annotated[int | None, typer.Option(help="Only this article's quotes.")] = None,
    speaker: Annotated[str | None, typer.Option(help="Only quotes by this speaker.")] = None,
    category: Annotated[str | None, typer.Option(help="Only quotes in this category.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Quotes with their speaker, category and where they stand in the article."""
    from sqlmodel import Session, select

    from scheduler.storage.models import Quote

    with Session(_state(ctx).engine()) as session:
        stmt = select(Quote).order_by(Quote.article_id, Quote.start)
        if article is not None:
            stmt = stmt.where(Quote.article_id == article)
        if speaker:
            stmt = stmt.where(Quote.speaker == speaker)
        if category:
            stmt = stmt.where(Quote.category == category)
        rows = [
            {
                "id": q.id,
                "article_id": q.article_id,
                "speaker": q.speaker,
                "cue": q.cue,
                "start": q.start,
                "end": q.end,
                "category": q.category,
                "text": q.text,
            }
            for q in session.exec(stmt)
        ]
    if json_out:
        print_json(rows)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "article", "speaker", "category", "chars", "quote")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["article_id"]),
            r["speaker"] or "[dim]?[/]",
            r["category"] or "",
            f"{r['start']}-{r['end']}",
            Text(r["text"]),
        )
    console.print(table if rows else "no quotes yet; try `scheduler ingest ARTICLE`")


@quotes_app.command("tag")
def quotes_tag(
    ctx: typer.Context,
    quote_ids: Annotated[list[int], typer.Argument(help="Quote ids.")],
    category: Annotated[
        str | None,
        typer.Option(help="Category for evergreen recycling, e.g. grit (omit with --clear)."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the category.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Put quotes in a category that a channel can recycle (`channels evergreen`)."""
    from scheduler.errors import NotFoundError, PlanningError
    from scheduler.storage import database
    from scheduler.storage.models import Quote

    if clear == (category is not None):
        raise PlanningError("give either --category NAME or --clear")
    if category is not None and not category.strip():
        raise PlanningError("--category cannot be empty")
    with database.session_scope(_state(ctx).engine()) as session:
        for quote_id in quote_ids:
            quote = session.get(Quote, quote_id)
            if quote is None:
                raise NotFoundError(f"no quote with id {quote_id}")
            quote.category = category.strip() if category else None
            session.add(quote)
    if json_out:
        print_json({"quotes": quote_ids, "category": category})
    else:
        label = f"in category {category}" if category else "without a category"
        console.print(f"quotes {', '.join(map(str, quote_ids))} now {label}")


@milestones_app.command("list")
def milestones_list(
    ctx: typer.Context,
    article: Annotated[int | None, typer.Option(help="Only this article's milestones.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Dated milestones with their precision, tense and person."""
    from sqlmodel import Session, select

    from scheduler.storage.models import Milestone

    with Session(_state(ctx).engine()) as session:
        stmt = select(Milestone).order_by(Milestone.article_id, Milestone.start)
        if article is not None:
            stmt = stmt.where(Milestone.article_id == article)
        rows = [
            {
                "id": m.id,
                "article_id": m.article_id,
                "date": m.date.isoformat(),
                "precision": m.precision,
                "tense": m.tense,
                "person": m.person,
                "start": m.start,
                "end": m.end,
                "text": m.text,
            }
            for m in session.exec(stmt)
        ]
    if json_out:
        print_json(rows)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "article", "date", "precision", "tense", "person", "sentence")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["article_id"]),
            r["date"],
            r["precision"],
            r["tense"],
            r["person"] or "",
            Text(r["text"]),
        )
    console.print(table if rows else "no milestones yet")


# -- channels -------------------------------------------------------------------


@channels_app.command("add")
def channels_add(
    ctx: typer.Context,
    name: str,
    platform: Annotated[
        str, typer.Option(help="Adapter: webhook, outbox, or an installed plugin.")
    ],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="Adapter option key=value (repeat).")
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(help="NAME of the environment variable holding the credential."),
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone for slots and display.")] = "UTC",
    slots: Annotated[str, typer.Option(help="Posting slots, e.g. 'mon-fri 09:00,13:00'.")] = (
        "mon-sun 09:00"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Add a channel. Credentials stay in the environment; only the variable's name is stored."""
    from scheduler.accounts import channels
    from scheduler.storage import database

    with database.session_scope(_state(ctx).engine()) as session:
        channel = channels.add_channel(
            session,
            name,
            platform,
            options=channels.parse_options(option or []),
            secret_env=secret_env,
            timezone=timezone,
            slots=slots,
        )
        data = channels.as_dict(channel)
    if json_out:
        print_json(data)
    else:
        console.print(f"channel {name} added ({platform}, {timezone}, slots {slots})")


@channels_app.command("list")
def channels_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The channels, with their platform, zone, slots and state."""
    from sqlmodel import Session

    from scheduler.accounts import channels

    with Session(_state(ctx).engine()) as session:
        rows = [
            channels.as_dict(c) | {"recurring": c.recurring}
            for c in channels.list_channels(session)
        ]
    if json_out:
        print_json(rows)
        return
    from rich.table import Table

    from scheduler.planning.rules import describe

    table = Table("name", "platform", "timezone", "slots", "secret from", "recurring", "state")
    for r in rows:
        table.add_row(
            r["name"],
            r["platform"],
            r["timezone"],
            r["slots"],
            r["secret_env"] or "",
            describe(r["recurring"]),
            "[yellow]paused[/]" if r["paused"] else "[green]active[/]",
        )
    console.print(table if rows else "no channels yet; add one with `scheduler channels add`")


def _set_paused(ctx: typer.Context, name: str, paused: bool, json_out: bool) -> None:
    from scheduler.accounts import channels
    from scheduler.storage import database

    with database.session_scope(_state(ctx).engine()) as session:
        channel = channels.get_channel(session, name)
        channel.paused = paused
        session.add(channel)
    if json_out:
        print_json({"channel": name, "paused": paused})
    else:
        console.print(f"channel {name} {'paused' if paused else 'resumed'}")


@channels_app.command("pause")
def channels_pause(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Stop sending on a channel; its posts stay queued."""
    _set_paused(ctx, name, True, json_out)


@channels_app.command("resume")
def channels_resume(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Send on a paused channel again."""
    _set_paused(ctx, name, False, json_out)


@channels_app.command("evergreen")
def channels_evergreen(
    ctx: typer.Context,
    name: ChannelArg,
    category: Annotated[str, typer.Option(help="Quote category to recycle (`quotes tag`).")],
    every: Annotated[
        str | None,
        typer.Option(help="Cadence as posting slots, e.g. 'wed 12:00' or 'mon,thu 18:00'."),
    ] = None,
    cooldown: Annotated[
        str, typer.Option(help="Never repeat a quote on this channel within this time.")
    ] = "30d",
    template: Annotated[str, typer.Option(help="Post template.")] = "evergreen",
    off: Annotated[bool, typer.Option("--off", help="Stop recycling this category.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Recycle a category of quotes on a cadence (queued by the daemon, or `plan --recurring`)."""
    from scheduler.accounts import channels
    from scheduler.errors import ConfigError
    from scheduler.planning.rules import EvergreenRule, parse_duration_days, set_evergreen
    from scheduler.storage import database

    if not off and not every:
        raise ConfigError("give --every 'SLOTS' (e.g. 'wed 12:00'), or --off")
    rule = (
        None
        if off
        else EvergreenRule(category, every or "", parse_duration_days(cooldown), template)
    )
    with database.session_scope(_state(ctx).engine()) as session:
        channel = channels.get_channel(session, name)
        if rule is not None:
            rule.template = _checked_template(ctx, template)
        set_evergreen(channel, rule, category=category)
        session.add(channel)
        data = {"channel": name, "recurring": channel.recurring}
    if json_out:
        print_json(data)
    elif rule is None:
        console.print(f"channel {name} no longer recycles {category!r}")
    else:
        console.print(
            f"channel {name} recycles {category!r} quotes at '{rule.slots}' "
            f"({rule.cooldown_days:g}-day cooldown); run `scheduler plan --recurring` to queue them"
        )


@channels_app.command("calendar")
def channels_calendar(
    ctx: typer.Context,
    name: ChannelArg,
    on_this_day: Annotated[
        bool,
        typer.Option(
            "--on-this-day/--no-on-this-day",
            help="Post day-precise past milestones on their anniversary.",
        ),
    ] = True,
    throwback: Annotated[
        str | None,
        typer.Option(help="Slots for throwbacks of year/month-only milestones, e.g. 'thu 12:00'."),
    ] = None,
    countdown: Annotated[
        str, typer.Option(help="Days before a planned milestone to post, e.g. '30,7,1,0'.")
    ] = "",
    at: Annotated[str, typer.Option(help="Local time on a day without a slot.")] = "09:00",
    leap_day: Annotated[
        str,
        typer.Option(help="29 February milestones in other years: feb28, mar1 or skip."),
    ] = "feb28",
    person: Annotated[str | None, typer.Option(help="Only milestones about this person.")] = None,
    off: Annotated[bool, typer.Option("--off", help="Turn calendar posts off.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """On-this-day, throwback and countdown posts from milestones (`plan --recurring`).
    Replaces the channel's calendar settings with the ones given."""
    from scheduler.accounts import channels
    from scheduler.errors import ConfigError
    from scheduler.planning.rules import CalendarRule, set_calendar
    from scheduler.storage import database

    try:
        days = [int(d) for d in countdown.replace(" ", "").split(",") if d]
    except ValueError:
        raise ConfigError(f"--countdown takes whole days like 7,1,0, not {countdown!r}") from None
    rule = None if off else CalendarRule(on_this_day, throwback, days, at, leap_day, person)
    with database.session_scope(_state(ctx).engine()) as session:
        channel = channels.get_channel(session, name)
        set_calendar(channel, rule)
        session.add(channel)
        data = {"channel": name, "recurring": channel.recurring}
    if json_out:
        print_json(data)
    else:
        from scheduler.planning.rules import describe

        console.print(f"channel {name}: {describe(data['recurring']) or 'no recurring posts'}")


@channels_app.command("test")
def channels_test(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Check a channel's credentials and show the account."""
    from sqlmodel import Session

    from scheduler.accounts import channels
    from scheduler.delivery.outgoing import make_client

    with Session(_state(ctx).engine()) as session:
        channel = channels.get_channel(session, name)
        publisher = channels.publisher_for(channel, reveal=True)

    async def check() -> dict[str, Any]:
        async with make_client() as client:
            return await publisher.check(client)

    info = asyncio.run(check())
    if json_out:
        print_json({"channel": name, "ok": True, "account": info})
    else:
        details = ", ".join(f"{k}={v}" for k, v in info.items())
        console.print(f"[green]ok[/] channel {name}: {details}")


# -- planning -------------------------------------------------------------------


@app.command()
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
            autocompletion=_complete_channel,
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
    json_out: JsonOpt = False,
) -> None:
    """Turn an article's quotes and milestones into queued posts over the channel's slots,
    or (--recurring) queue the evergreen and calendar posts channels ask for."""
    import datetime as dt

    from sqlmodel import select

    from scheduler.accounts import channels
    from scheduler.desk.posts import post_dict
    from scheduler.errors import PlanningError
    from scheduler.planning.expiry import annotate_planned
    from scheduler.planning.plan import plan_article
    from scheduler.planning.rules import parse_duration_days
    from scheduler.storage import database
    from scheduler.storage.models import Article
    from scheduler.when import parse_when

    state = _state(ctx)
    engine = state.engine()
    lifetime = dt.timedelta(days=parse_duration_days(expires_after)) if expires_after else None
    if recurring:
        if article is not None:
            raise PlanningError("--recurring plans from channel settings; drop the article")
        _plan_recurring(ctx, channel, start, until, lifetime, json_out)
        return
    if article is None or channel is None:
        raise PlanningError("give an ARTICLE and --channel NAME, or use --recurring")
    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    bad = [k for k in wanted if k not in ("quote", "milestone", "link")]
    if bad or not wanted:
        raise PlanningError(f"unknown kind {', '.join(bad) or kinds!r}: use quote, milestone, link")
    names = {}
    for item in template or []:
        kind, sep, name = item.partition("=")
        if not sep or kind not in ("quote", "milestone", "link"):
            raise PlanningError(f"--template takes kind=name, not {item!r}")
        names[kind] = name
    env = state.template_env()
    with database.session_scope(engine) as session:
        chan = channels.get_channel(session, channel)
        if article == "latest":
            article_id = session.exec(select(Article.id).order_by(Article.id.desc())).first()
            if article_id is None:
                raise PlanningError("no articles yet; run `scheduler ingest` first")
        else:
            try:
                article_id = int(article)
            except ValueError:
                raise PlanningError(f"article must be an id or 'latest', not {article!r}") from None
        when = parse_when(start, chan.timezone) if start else None
        publisher = channels.publisher_for(chan, reveal=False)
        result = plan_article(
            session,
            env,
            article_id,
            chan,
            kinds=wanted,
            templates=names,
            start=when,
            limit=limit,
            fits=publisher.fits,
        )
        annotate_planned(
            session, result.created, chan, when or dt.datetime.now(dt.UTC), expires_after=lifetime
        )
        session.flush()
        rows = [post_dict(p, chan) | _extra(p) for p in result.created]
    _report_created(
        rows,
        result.over_limit,
        json_out,
        f"{len(rows)} posts queued on {channel}"
        + (f", {result.skipped} already planned" if result.skipped else ""),
        skipped=result.skipped,
    )


def _report_created(
    rows: list[dict[str, Any]],
    over_limit: list[int],
    json_out: bool,
    summary: str,
    *,
    notes: list[str] | None = None,
    **extra: Any,
) -> None:
    """What `plan` and `queue import` print: the new posts, then warnings."""
    over_ids = [rows[i]["id"] for i in over_limit]
    if json_out:
        data = {"created": rows, **extra, "over_limit": over_ids}
        if notes is not None:
            data["notes"] = notes
        print_json(data)
        return
    from rich.text import Text

    for r in rows:
        line = Text(f"post {r['id']} {r['channel']} {r['due_local']}  ")
        line.append(r["text"].splitlines()[0][:70])
        console.print(line)
    console.print(summary)
    for note in notes or []:
        console.print(Text(f"note: {note}"))
    for post_id in over_ids:
        console.print(
            f"[yellow]warning:[/] post {post_id} is over its platform's limit; "
            f"see `scheduler preview {post_id}`"
        )


def _extra(post: Any) -> dict[str, Any]:
    return {
        "expires_at": post.expires_at.isoformat() if post.expires_at else None,
        "reason": post.reason,
    }


def _plan_recurring(
    ctx: typer.Context,
    channel: str | None,
    start: str | None,
    until: str,
    lifetime: Any,
    json_out: bool,
) -> None:
    from sqlmodel import select

    from scheduler.accounts import channels
    from scheduler.desk.posts import post_dict
    from scheduler.planning.recurring import plan_recurring
    from scheduler.storage import database
    from scheduler.storage.models import Channel, utcnow
    from scheduler.when import parse_when

    state = _state(ctx)
    env = state.template_env()
    first = parse_when(start) if start else utcnow()
    end = parse_when(until, now=first)
    with database.session_scope(state.engine()) as session:
        chosen = [channels.get_channel(session, channel)] if channel else None
        result = plan_recurring(
            session,
            env,
            first,
            end,
            channels=chosen,
            fits=lambda c: channels.publisher_for(c, reveal=False).fits,
        )
        if lifetime is not None:
            for post in result.created:
                end_of_life = post.due_at + lifetime
                post.expires_at = min(post.expires_at or end_of_life, end_of_life)
                session.add(post)
            session.flush()
        by_id = {c.id: c for c in session.exec(select(Channel))}
        rows = [post_dict(p, by_id[p.channel_id]) | _extra(p) for p in result.created]
    _report_created(
        rows,
        result.over_limit,
        json_out,
        f"{len(rows)} recurring posts queued"
        + (f", {result.skipped} already planned" if result.skipped else ""),
        notes=result.notes,
        skipped=result.skipped,
    )


def _checked_template(ctx: typer.Context, name: str) -> str:
    from scheduler.compose import load

    load(_state(ctx).template_env(), name)
    return name


# -- queue ----------------------------------------------------------------------


@queue_app.command("list")
def queue_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    after: Annotated[str | None, typer.Option(help="Cursor from the previous page.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Rows per page.")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Posts in send order, a page at a time (keyset paging: fast at any depth)."""
    from sqlmodel import Session, select

    from scheduler.accounts import channels
    from scheduler.desk import posts
    from scheduler.desk.posts import post_dict
    from scheduler.errors import PlanningError
    from scheduler.storage.models import Channel, PostStatus

    if status is not None and status not in PostStatus.__members__:
        raise PlanningError(
            f"unknown status {status!r} (one of {', '.join(PostStatus.__members__)})"
        )
    cursor = _parse_cursor(after) if after else None
    with Session(_state(ctx).engine()) as session:
        channel_id = channels.get_channel(session, channel).id if channel else None
        posts = posts.page_posts(
            session, status=status, channel_id=channel_id, after=cursor, limit=limit
        )
        by_id = {c.id: c for c in session.exec(select(Channel))}
        rows = [post_dict(p, by_id[p.channel_id]) for p in posts]
    next_cursor = f"{posts[-1].due_at.isoformat()}/{posts[-1].id}" if len(posts) == limit else None
    if json_out:
        print_json({"posts": rows, "next": next_cursor})
        return
    from rich.table import Table

    table = Table("id", "channel", "status", "due (channel time)", "tries", "text / last error")
    for r in rows:
        detail = r["text"].splitlines()[0][:60]
        if r["last_error"]:
            detail += f"\n[red]{r['last_error'][:80]}[/]"
        if r["status"] == "queued" and r["next_attempt_local"]:
            detail += f"\n[yellow]next try {r['next_attempt_local']}[/]"
        table.add_row(
            str(r["id"]),
            r["channel"],
            styled_status(r["status"]),
            r["due_local"],
            str(r["attempts"]),
            detail,
        )
    console.print(table if rows else "the queue is empty")
    if next_cursor:
        console.print(f"more: scheduler queue list --after {next_cursor}")


def _parse_cursor(value: str) -> tuple[Any, int]:
    import datetime as dt

    from scheduler.errors import PlanningError

    when, _, ident = value.rpartition("/")
    try:
        return dt.datetime.fromisoformat(when), int(ident)
    except ValueError:
        raise PlanningError(f"bad cursor {value!r}; use the one `queue list` printed") from None


@queue_app.command("add")
def queue_add(
    ctx: typer.Context,
    channel: str,
    text: Annotated[str, typer.Argument(help="The post text, or - to read it from stdin.")],
    at: Annotated[str, typer.Option(help="When: ISO 8601 (channel's zone if none), 'now', '+2h'.")],
    json_out: JsonOpt = False,
) -> None:
    """Queue a post written by hand."""
    from scheduler.accounts import channels
    from scheduler.desk.posts import add_post, post_dict
    from scheduler.storage import database
    from scheduler.when import parse_when

    if text == "-":
        text = sys.stdin.read()
    with database.session_scope(_state(ctx).engine()) as session:
        chan = channels.get_channel(session, channel)
        post = add_post(session, chan, text, parse_when(at, chan.timezone))
        data = post_dict(post, chan)
    if json_out:
        print_json(data)
    else:
        console.print(f"post {data['id']} queued on {channel} for {data['due_local']}")


@queue_app.command("show")
def queue_show(ctx: typer.Context, post_id: int, json_out: JsonOpt = False) -> None:
    """One post with its attempts and where its words came from."""
    from sqlmodel import Session

    from scheduler.desk.posts import attempts_of, get_post, post_dict
    from scheduler.previews.preview import provenance
    from scheduler.storage.models import Channel

    with Session(_state(ctx).engine()) as session:
        post = get_post(session, post_id)
        chan = session.get(Channel, post.channel_id)
        assert chan is not None
        data = post_dict(post, chan)
        data["source_detail"] = provenance(session, post)
        data["attempts_detail"] = [
            {
                "started_at": a.started_at.isoformat(),
                "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error": a.error,
                "owner": a.owner,
            }
            for a in attempts_of(session, post_id)
        ]
    if json_out:
        print_json(data)
        return
    console.print(
        f"[bold]post {data['id']}[/] on {data['channel']}: {styled_status(data['status'])}, due {data['due_local']}"
    )
    console.print(data["text"], markup=False)
    if data["source_detail"]:
        src = data["source_detail"]
        console.print(
            f"[dim]from article {src['article_id']} chars {src['start']}-{src['end']}: {src['sentence']}[/]",
            markup=True,
        )
    if data["last_error"]:
        console.print(f"[red]last error:[/] {data['last_error']}")
    if data["status"] == "queued" and data["next_attempt_local"]:
        console.print(f"[yellow]next try:[/] {data['next_attempt_local']}")
    for a in data["attempts_detail"]:
        console.print(
            f"  attempt {a['started_at']} -> {a['outcome'] or 'in flight'} {a['error'] or ''}"
        )


@queue_app.command("move")
def queue_move(
    ctx: typer.Context,
    post_id: int,
    at: Annotated[str, typer.Option(help="New time: ISO 8601, 'now', '+2h'.")],
    json_out: JsonOpt = False,
) -> None:
    """Give a queued post a new time."""
    from scheduler.desk.posts import get_post, move_post
    from scheduler.storage import database
    from scheduler.storage.models import Channel
    from scheduler.when import parse_when, show

    with database.session_scope(_state(ctx).engine()) as session:
        post = get_post(session, post_id)
        chan = session.get(Channel, post.channel_id)
        assert chan is not None
        post = move_post(session, post, parse_when(at, chan.timezone))
        data = {"id": post_id, "due_at": post.due_at.isoformat()}
        data["due_local"] = show(post.due_at, chan.timezone)
    if json_out:
        print_json(data)
    else:
        console.print(f"post {post_id} moved to {data['due_local']}")


@queue_app.command("cancel")
def queue_cancel(ctx: typer.Context, post_ids: list[int], json_out: JsonOpt = False) -> None:
    """Cancel queued posts (they are kept, marked cancelled)."""
    from scheduler.desk.posts import cancel_post, get_post
    from scheduler.storage import database

    with database.session_scope(_state(ctx).engine()) as session:
        for post_id in post_ids:
            cancel_post(session, get_post(session, post_id))
    if json_out:
        print_json({"cancelled": post_ids})
    else:
        console.print(f"cancelled {', '.join(map(str, post_ids))}")


@queue_app.command("retry")
def queue_retry(ctx: typer.Context, post_ids: list[int], json_out: JsonOpt = False) -> None:
    """Queue failed, cancelled, missed or unknown posts again."""
    from scheduler.desk.posts import get_post, retry_post
    from scheduler.storage import database

    with database.session_scope(_state(ctx).engine()) as session:
        for post_id in post_ids:
            retry_post(session, get_post(session, post_id))
    if json_out:
        print_json({"queued": post_ids})
    else:
        console.print(f"queued again: {', '.join(map(str, post_ids))}")


@queue_app.command("reconcile")
def queue_reconcile(
    ctx: typer.Context,
    post_ids: Annotated[
        list[int] | None, typer.Argument(help="Posts to settle (default: every unknown post).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask each platform whether `unknown` posts landed: sent, queued again, or still unknown."""
    from scheduler.delivery.reconcile import reconcile

    settled = reconcile(_state(ctx).engine(), post_ids or [])
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


@queue_app.command("import")
def queue_import(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="CSV file (or - for stdin): channel,text,at[,link,expires].")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Queue many hand-written posts from CSV. All or nothing: one bad row imports none."""
    from scheduler.accounts import channels
    from scheduler.desk.posts import post_dict
    from scheduler.errors import PlanningError
    from scheduler.planning.csv_import import import_csv
    from scheduler.storage import database

    if file == "-":
        data, name = sys.stdin.read(), "stdin"
    else:
        path = Path(file)
        try:
            data = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PlanningError(f"no such file: {file}") from None
        except UnicodeDecodeError:
            raise PlanningError(f"{file} is not UTF-8 text") from None
        except OSError as exc:
            raise PlanningError(f"cannot read {file}: {exc.strerror}") from None
        name = path.name
    with database.session_scope(_state(ctx).engine()) as session:
        result = import_csv(session, data, name)
        by_id = {c.id: c for c in channels.list_channels(session)}
        rows = [post_dict(p, by_id[p.channel_id]) | _extra(p) for p in result.created]
    _report_created(
        rows,
        result.over_limit,
        json_out,
        f"{len(rows)} posts imported from {name}"
        + (
            f"; lines {', '.join(map(str, result.duplicates))} already queued, skipped"
            if result.duplicates
            else ""
        ),
        duplicate_lines=result.duplicates,
    )


# -- preview, daemon, simulate, demo ---------------------------------------------------


@app.command()
def preview(
    ctx: typer.Context,
    post_ids: Annotated[
        list[int] | None, typer.Argument(help="Posts to preview (default: queued).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many when no ids are given.")
    ] = 50,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel", "-c", help="Only this channel.", autocompletion=_complete_channel
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only posts due by then: ISO 8601 (the channel's zone) or '+7d'."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML page."),
    ] = None,
    requests: Annotated[
        bool, typer.Option("--requests/--no-requests", help="Show the exact requests.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Dry run: each post as it will appear (text, thread parts, counted length, link,
    hashtags), its local send time, its source, and the exact request."""
    from sqlmodel import Session

    from scheduler.accounts.channels import get_channel
    from scheduler.previews.preview import preview_posts
    from scheduler.previews.terminal import print_previews
    from scheduler.when import parse_when

    with Session(_state(ctx).engine()) as session:
        # A time without a zone is the channel's, as everywhere else.
        zone = get_channel(session, channel).timezone if channel is not None else "UTC"
        due_by = parse_when(until, zone) if until else None
        items = preview_posts(session, post_ids or [], limit=limit, channel=channel, until=due_by)
    if post_ids:
        missing = set(post_ids) - {i.id for i in items}
        if missing:
            raise SchedulerError(f"no post with id {', '.join(map(str, sorted(missing)))}")
    written = None
    if html is not None:
        from scheduler.previews.html import write_page

        written = write_page(items, html)
    if json_out:
        print_json([i.as_dict() for i in items])
        return
    print_previews(items, show_requests=requests)
    if written is not None:
        console.print(f"wrote {written} ({len(items)} posts)", highlight=False)


@app.command()
def daemon(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build every request, send nothing.")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Publish what is due now, then exit.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Publish posts as they fall due (stop with Ctrl-C or SIGTERM)."""
    import logging

    from scheduler.delivery.daemon import Daemon
    from scheduler.previews.terminal import print_event

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Each send already prints its own line; httpx's INFO line per request
    # repeats it with the URL (where some platforms carry a token).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    state = _state(ctx)
    events: list[Any] = []

    advance: Any = None

    def on_event(event: Any) -> None:
        events.append(event)
        if not json_out:
            print_event(event)
        if advance is not None:
            advance()

    runner = Daemon(state.engine(), state.settings, dry_run=dry_run, on_event=on_event)
    if once:
        import datetime as dt

        from sqlmodel import Session

        from scheduler.delivery import claims
        from scheduler.output import counting

        with Session(state.engine()) as session:
            due = claims.count_due(session, dt.datetime.now(dt.UTC))
        with counting(due, "catching up", enabled=not json_out) as advance:
            asyncio.run(runner.run_once())
        if json_out:
            print_json([e.as_dict() for e in events])
        elif not events:
            console.print("nothing due")
        return
    console.print(f"daemon running{' (dry run)' if dry_run else ''}; Ctrl-C to stop", style="dim")
    asyncio.run(runner.run_forever())


@app.command()
def simulate(
    ctx: typer.Context,
    until: Annotated[str, typer.Option(help="Simulate up to this time: ISO 8601 or '+7d'.")],
    start: Annotated[
        str | None, typer.Option(help="Start the virtual clock here (default: now).")
    ] = None,
    recurring: Annotated[
        bool,
        typer.Option(
            "--recurring/--queued-only",
            help="Include evergreen and calendar posts not planned yet (default) or not.",
        ),
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """The timeline the daemon would follow from now, on a virtual clock; nothing is sent
    and nothing is written (recurring posts are planned in a transaction rolled back)."""
    from scheduler.previews.simulation import simulate as run_simulation
    from scheduler.previews.terminal import print_timeline
    from scheduler.when import parse_when

    state = _state(ctx)
    first = parse_when(start) if start else None
    steps = run_simulation(
        state.engine(),
        state.settings,
        parse_when(until, now=first),
        start=first,
        env=state.template_env() if recurring else None,
        track=lambda moments: progress(moments, "simulating", enabled=not json_out),
    )
    if json_out:
        print_json([s.as_dict() for s in steps])
        return
    if not steps:
        console.print("nothing would go out in that time")
        return
    print_timeline(steps)
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.outcome] = counts.get(step.outcome, 0) + 1
    new = sum(1 for s in steps if s.planned)
    console.print(
        f"{counts.get('dry-run', 0)} posts would go out"
        + "".join(f", {n} {k}" for k, n in sorted(counts.items()) if k != "dry-run")
        + (f" ({new} recurring, not queued yet: `scheduler plan --recurring`)" if new else "")
    )


@app.command()
def explain(
    ctx: typer.Context,
    post_id: Annotated[int, typer.Argument(help="Post id.")],
    json_out: JsonOpt = False,
) -> None:
    """Why a post goes out when it does (or why it will not)."""
    from sqlmodel import Session

    from scheduler.previews.explain import explain as explain_post

    state = _state(ctx)
    with Session(state.engine()) as session:
        data = explain_post(session, post_id, state.settings)
    if json_out:
        print_json(data)
        return
    from rich.text import Text

    console.print(
        f"[bold]post {data['id']}[/] on {data['channel']}: {styled_status(data['status'])}, "
        f"due {data['due_local']}"
    )
    for line in data["explanation"]:
        console.print(Text("• " + line))


@app.command()
def demo(
    ctx: typer.Context,
    keep: Annotated[bool, typer.Option(help="Keep the demo database afterwards.")] = True,
) -> None:
    """The whole path on a bundled sample article, offline: ingest, plan, preview, dry-run daemon."""
    from scheduler.demo import run_demo

    run_demo(_state(ctx), keep=keep)


# -- entry point ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every expected failure ends as one line on stderr."""
    code = 0
    try:
        result = app(args=argv, standalone_mode=False, prog_name="scheduler")
        if isinstance(result, int):
            code = result
    except SchedulerError as exc:
        error(str(exc))
        code = exc.exit_code
    except typer.TyperException as exc:  # Typer's (vendored click) usage errors
        code = _usage(exc)
    except (typer.Abort, KeyboardInterrupt):
        error("interrupted")
        code = 130
    except Exception as exc:
        code = _unexpected(exc)
    sys.exit(code)


def _usage(exc: typer.TyperException) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        print(ctx.get_help())
        return 0
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    error(f"{exc.format_message()}{hint}")
    return int(getattr(exc, "exit_code", 2))


def _unexpected(exc: Exception) -> int:
    """Database failures a user can cause (locked, unreachable) are one line too;
    anything else is a bug and keeps its traceback."""
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OperationalError):
        message = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        if "locked" in message:
            message += " (another process holds the database; try again)"
        error(f"database error: {message}")
        return 1
    raise exc
