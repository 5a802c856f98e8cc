"""The `channels` group: add, edit, remove, list, pause, resume, test, connect
(OAuth), rotate-key, and a channel's recurring posts (evergreen, calendar)."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.common import ChannelArg, JsonOpt, state
from scheduler.output import console, lit, print_json

app = typer.Typer(
    help="Where posts go: add, edit, remove, list, test, pause, resume, connect (OAuth).",
    no_args_is_help=True,
)

OptionOpt = Annotated[
    list[str] | None, typer.Option("--option", "-o", help="Adapter option key=value (repeat).")
]
SecretOpt = Annotated[
    str | None,
    typer.Option(help="NAME of the environment variable holding the credential."),
]
ReviewOpt = Annotated[
    bool | None,
    typer.Option(
        "--review/--no-review",
        help="Planned posts are drafts until approved (default: the `review` setting).",
        show_default=False,
    ),
]


@app.command("add")
def channels_add(
    ctx: typer.Context,
    name: str,
    platform: Annotated[
        str, typer.Option(help="Adapter: webhook, outbox, or an installed plugin.")
    ],
    option: OptionOpt = None,
    secret_env: SecretOpt = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone for slots and display.")] = "UTC",
    slots: Annotated[str, typer.Option(help="Posting slots, e.g. 'mon-fri 09:00,13:00'.")] = (
        "mon-sun 09:00"
    ),
    review: ReviewOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a channel. Credentials stay in the environment; only the variable's name is stored."""
    from scheduler.accounts import channels
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        channel = channels.add_channel(
            session,
            name,
            platform,
            options=channels.parse_options(option or []),
            secret_env=secret_env,
            timezone=timezone,
            slots=slots,
            review=review,
        )
        data = channels.as_dict(channel)
    if json_out:
        print_json(data)
    else:
        console.print(
            f"channel {lit(name)} added ({platform}, {timezone}, slots {lit(slots)}"
            + (", posts need review" if review else "")
            + ")"
        )


@app.command("edit")
def channels_edit(
    ctx: typer.Context,
    name: ChannelArg,
    slots: Annotated[str | None, typer.Option(help="New posting slots.")] = None,
    timezone: Annotated[str | None, typer.Option(help="New IANA time zone.")] = None,
    option: OptionOpt = None,
    secret_env: SecretOpt = None,
    review: ReviewOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a channel; what is not given stays. Options merge into the channel's own.
    Posts already planned keep their times."""
    from scheduler.accounts import channels
    from scheduler.errors import ConfigError
    from scheduler.storage import database

    if not (slots or timezone or option or secret_env or review is not None):
        raise ConfigError(
            "nothing to change: give --slots, --timezone, -o, --secret-env or --review/--no-review"
        )
    with database.session_scope(state(ctx).engine()) as session:
        channel = channels.edit_channel(
            session,
            name,
            slots=slots,
            timezone=timezone,
            options=channels.parse_options(option or []),
            secret_env=secret_env,
            review=review,
        )
        data = channels.as_dict(channel)
    if json_out:
        print_json(data)
    else:
        review_word = {None: "the review setting", True: "review", False: "no review"}
        console.print(
            f"channel {lit(name)}: {data['platform']}, {data['timezone']}, slots "
            f"{lit(data['slots'])}, {review_word[data['review']]}"
        )


@app.command("remove")
def channels_remove(
    ctx: typer.Context,
    name: ChannelArg,
    cancel_posts: Annotated[
        bool, typer.Option("--cancel-posts", help="Cancel its drafts and queued posts first.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Retire a channel. Its sent posts and their attempts are kept; the name is free again."""
    from scheduler.accounts import channels
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        data = channels.remove_channel(session, name, cancel_posts=cancel_posts)
    if json_out:
        print_json(data)
    else:
        kept = sum(data["kept"].values()) - data["cancelled"]
        console.print(
            f"channel {lit(name)} removed"
            + (f"; {data['cancelled']} posts cancelled" if data["cancelled"] else "")
            + (f"; {kept} earlier posts kept" if kept else "")
        )


@app.command("list")
def channels_list(
    ctx: typer.Context,
    removed: Annotated[bool, typer.Option("--removed", help="Include removed channels.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The channels: platform, zone, slots, state, the last post sent, the last
    error and the next post due."""
    from sqlmodel import Session

    from scheduler.accounts import channels

    current = state(ctx)
    with Session(current.engine()) as session:
        rows = channels.channel_rows(
            session, removed=removed, review_default=current.settings.review
        )
    if json_out:
        print_json(rows)
        return
    from rich.table import Table

    from scheduler.planning.rules import describe

    # Four columns of stacked lines, so ten facts per channel still read in
    # an 80-column terminal.
    table = Table("channel", "posting", "state", "activity", show_lines=True)
    for r in rows:
        state_word = "[yellow]paused[/]" if r["paused"] else "[green]active[/]"
        if r["removed_at"]:
            state_word = "[dim]removed[/]"
        if r["needs_review"]:
            state_word += f"\nreview ({r['drafts']} drafts)"
        sent, failed, due = r["last_sent"], r["last_error"], r["next_due"]
        posting = [lit(r["timezone"]), lit(r["slots"])]
        if r["secret_env"]:
            posting.append(f"secret from {lit(r['secret_env'])}")
        recurring = describe(r["recurring"])
        if recurring:
            posting.append(lit(recurring))
        activity = []
        if sent:
            activity.append(f"last sent {sent['at_local']} (post {sent['id']})")
        if due:
            activity.append(f"next due {due['at_local']} (post {due['id']})")
        if failed:
            activity.append(
                f"[red]last error {failed['at_local']} (post {failed['id']}): "
                f"{lit(failed['error'][:60])}[/]"
            )
        table.add_row(
            f"{lit(r['name'])}\n{r['platform']}",
            "\n".join(posting),
            state_word,
            "\n".join(activity) or "[dim]nothing yet[/]",
        )
    console.print(table if rows else "no channels yet; add one with `scheduler channels add`")
    # Connected channels: one line each on the state of their tokens.
    for r in rows:
        if r.get("credential"):
            console.print(f"{lit(r['name'])}: {lit(r['credential'])}", soft_wrap=True)


def _set_paused(ctx: typer.Context, name: str, paused: bool, json_out: bool) -> None:
    from scheduler.accounts import channels
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        channels.set_paused(session, name, paused)
    if json_out:
        print_json({"channel": name, "paused": paused})
    else:
        console.print(f"channel {lit(name)} {'paused' if paused else 'resumed'}")


@app.command("pause")
def channels_pause(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Stop sending on a channel; its posts stay queued."""
    _set_paused(ctx, name, True, json_out)


@app.command("resume")
def channels_resume(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Send on a paused channel again."""
    _set_paused(ctx, name, False, json_out)


@app.command("evergreen")
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
    from scheduler.planning.rules import EvergreenRule, parse_duration_days
    from scheduler.storage import database

    if not off and not every:
        raise ConfigError("give --every 'SLOTS' (e.g. 'wed 12:00'), or --off")
    rule = (
        None
        if off
        else EvergreenRule(category, every or "", parse_duration_days(cooldown), template)
    )
    current = state(ctx)
    with database.session_scope(current.engine()) as session:
        data = channels.set_evergreen_rule(
            session, name, rule, category=category, templates=current.template_env
        )
    if json_out:
        print_json(data)
    elif rule is None:
        console.print(f"channel {lit(name)} no longer recycles {lit(repr(category))}")
    else:
        console.print(
            f"channel {name} recycles {category!r} quotes at '{rule.slots}' "
            f"({rule.cooldown_days:g}-day cooldown); run `scheduler plan --recurring` to queue them"
        )


@app.command("calendar")
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
    share_slots: Annotated[
        bool,
        typer.Option(
            "--share-slots",
            help="Let calendar posts take a minute another post of the channel holds.",
        ),
    ] = False,
    off: Annotated[bool, typer.Option("--off", help="Turn calendar posts off.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """On-this-day, throwback and countdown posts from milestones (`plan --recurring`).
    Replaces the channel's calendar settings with the ones given."""
    from scheduler.accounts import channels
    from scheduler.errors import ConfigError
    from scheduler.planning.rules import CalendarRule
    from scheduler.storage import database

    try:
        days = [int(d) for d in countdown.replace(" ", "").split(",") if d]
    except ValueError:
        raise ConfigError(f"--countdown takes whole days like 7,1,0, not {countdown!r}") from None
    rule = (
        None
        if off
        else CalendarRule(on_this_day, throwback, days, at, leap_day, person, share_slots)
    )
    with database.session_scope(state(ctx).engine()) as session:
        data = channels.set_calendar_rule(session, name, rule)
    if json_out:
        print_json(data)
    else:
        from scheduler.planning.rules import describe

        console.print(
            f"channel {lit(name)}: {lit(describe(data['recurring']) or 'no recurring posts')}"
        )


@app.command("test")
def channels_test(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Check a channel's credentials and show the account."""
    from scheduler.accounts import channels

    info = channels.check_account(state(ctx).engine(), name)
    if json_out:
        print_json({"channel": name, "ok": True, "account": info})
    else:
        details = ", ".join(f"{k}={v}" for k, v in info.items())
        console.print(f"[green]ok[/] channel {lit(name)}: {lit(details)}")


@app.command("connect")
def channels_connect(
    ctx: typer.Context,
    name: ChannelArg,
    client_id: Annotated[
        str | None, typer.Option(help="The app's OAuth 2 client id (X, LinkedIn, Threads).")
    ] = None,
    client_secret_env: Annotated[
        str | None,
        typer.Option(help="NAME of the environment variable holding the app's client secret."),
    ] = None,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the page in a browser.")
    ] = True,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Loopback port for the callback (0: any free).")
    ] = 0,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the browser.")] = 300.0,
    json_out: JsonOpt = False,
) -> None:
    """Connect a channel's account with OAuth (X, LinkedIn, Threads, Mastodon); tokens
    are stored encrypted and refreshed by themselves. Again: renews it in place."""
    import os
    import sys

    from scheduler.accounts import oauth
    from scheduler.errors import ConfigError

    secret = None
    if client_secret_env:
        secret = os.environ.get(client_secret_env)
        if not secret:
            raise ConfigError(f"environment variable {client_secret_env} is not set")
    opener = None
    if browser:
        import webbrowser

        opener = webbrowser.open
    data = oauth.connect(
        state(ctx).engine(),
        name,
        client_id=client_id,
        client_secret=secret,
        open_url=opener,
        # The URL goes to stderr under --json, so stdout stays only JSON.
        say=lambda text: print(text, file=sys.stderr if json_out else sys.stdout, flush=True),
        port=port,
        timeout=timeout,
    )
    if json_out:
        print_json(data)
    else:
        who = ", ".join(f"{k}={v}" for k, v in data["account"].items())
        console.print(f"[green]connected[/] channel {lit(name)}: {lit(who)}", soft_wrap=True)
        console.print(lit(data["status"]), soft_wrap=True)


@app.command("disconnect")
def channels_disconnect(ctx: typer.Context, name: ChannelArg, json_out: JsonOpt = False) -> None:
    """Forget a connected channel's stored tokens; its posts stay queued. A channel
    with no --secret-env to fall back on is paused until it is connected again."""
    from scheduler.accounts import channels

    data = channels.disconnect(state(ctx).engine(), name)
    if json_out:
        print_json(data)
        return
    console.print(f"disconnected channel {lit(name)}: its stored tokens are deleted")
    if data["paused"]:
        console.print(
            f"paused it (no --secret-env to fall back on): its posts wait; run "
            f"`scheduler channels connect {name}`, then `scheduler channels resume {name}`",
            soft_wrap=True,
        )
    elif data["secret_env"]:
        console.print(f"it sends with ${lit(data['secret_env'])} again", soft_wrap=True)
    console.print(
        "the app stays authorised at the platform until you revoke it in the account's settings",
        soft_wrap=True,
    )


@app.command("rotate-key")
def channels_rotate_key(
    ctx: typer.Context,
    new_key_env: Annotated[
        str | None,
        typer.Option(
            help="NAME of the environment variable holding the new key "
            "(default: a new key, kept in the system keyring)."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-encrypt every stored credential under a new key, in one transaction."""
    import os

    from scheduler.accounts import secrets
    from scheduler.errors import ConfigError

    new_key = None
    if new_key_env:
        new_key = os.environ.get(new_key_env)
        if not new_key:
            raise ConfigError(f"environment variable {new_key_env} is not set")
    data = secrets.rotate(state(ctx).engine(), new_key)
    if json_out:
        print_json(data)
    else:
        console.print(f"re-encrypted {data['re_encrypted']} credential(s) under the new key")
        if data["key_in"] == "env":
            console.print(
                f"now set {secrets.ENV} to the new key (the old one no longer opens them)"
            )
