"""The `scheduler` command line: one module per command group, each command
thin (parse, call one service function, print). This module builds the app
from the groups; `common` holds what they share.

Heavy modules are imported inside commands so `--help` stays fast.

Contract: listing commands take `--json` and then print only JSON; exit 0 on
success, non-zero with one line on stderr otherwise; never a traceback for bad
input.
"""

from __future__ import annotations

import sys

import typer

from scheduler.cli import (
    channels,
    daemon,
    database,
    feeds,
    ingest,
    plan,
    previews,
    queue,
    review,
)
from scheduler.cli.common import root, run

# httpx imports its own command line (click, Pygments, Rich's progress and
# syntax: about 40 ms of CPU at every start) whenever click is installed, and
# click is, for `click.edit`. No command runs httpx's; a None here makes that
# import fail, which httpx allows for (its `main` then says what to install).
# Nothing above imports httpx (the commands import it when they run).
sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]

app = typer.Typer(
    name="scheduler",
    help="Turn news articles into social media posts and publish each one exactly once, on time.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.callback()(root)

# Top-level commands, in the order `scheduler --help` lists them; then the groups.
app.command()(database.init)
app.command()(ingest.ingest)
app.command()(plan.plan)
app.command()(previews.preview)
app.command()(daemon.daemon)
app.command()(daemon.status)
app.command()(previews.simulate)
app.command()(previews.explain)
app.command()(review.review)
app.command()(database.demo)
app.add_typer(ingest.quotes_app, name="quotes")
app.add_typer(ingest.milestones_app, name="milestones")
app.add_typer(channels.app, name="channels")
app.add_typer(queue.app, name="queue")
app.add_typer(feeds.app, name="feeds")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every expected failure ends as one line on stderr."""
    sys.exit(run(app, argv))
