"""Commands that make a database: `init` (create or migrate the real one) and
`demo` (a throwaway one, played through from ingest to a dry-run daemon)."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.common import JsonOpt, state
from scheduler.output import console, print_json


def init(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Create or migrate the database."""
    from scheduler.storage import database

    data = database.init_database(state(ctx).engine(require_schema=False))
    if json_out:
        print_json(data)
    else:
        console.print(f"database {data['database']} {data['result']} (revision {data['revision']})")


def demo(
    ctx: typer.Context,
    keep: Annotated[bool, typer.Option(help="Keep the demo database afterwards.")] = True,
) -> None:
    """The whole path on a bundled sample article, offline: ingest, plan, preview, dry-run daemon."""
    from scheduler.demo import run_demo

    run_demo(state(ctx), keep=keep)
