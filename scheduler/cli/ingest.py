"""Commands about articles and what was extracted from them: `ingest`, and the
`quotes` (list, tag) and `milestones` (list) groups."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.common import JsonOpt, state
from scheduler.output import console, error, lit, print_json, progress

quotes_app = typer.Typer(help="Quotes extracted from articles.", no_args_is_help=True)
milestones_app = typer.Typer(help="Dated milestones extracted from articles.", no_args_is_help=True)


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
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Let URLs (and their redirects) reach private, loopback and link-local "
            "addresses (an intranet page); refused by default.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Extract quotes and milestones from articles and store them. A file that
    cannot be read is reported on its own line and the others go on."""
    import datetime as dt

    from scheduler.errors import IngestError
    from scheduler.ingest.service import ingest_sources

    dated = None
    if published is not None:
        try:
            dated = dt.date.fromisoformat(published)
        except ValueError:
            raise IngestError(f"bad --published date {published!r}: use YYYY-MM-DD") from None
    results = []
    failed = 0
    for row in ingest_sources(
        state(ctx).engine(),
        sources,
        published=dated,
        allow_private=allow_private,
        track=lambda paths: progress(paths, "ingesting", enabled=not json_out),
    ):
        results.append(row)
        if "error" in row:
            failed += 1
            error(row["error"])
            continue
        if not json_out:
            if row["updated"]:
                note = " [yellow](already stored; its date and milestones updated)[/]"
            elif not row["created"]:
                note = " [yellow](already stored; nothing added)[/]"
            else:
                note = ""
            console.print(
                f"article {row['article_id']}: {row['quotes']} quotes, "
                f"{row['milestones']} milestones from {lit(row['source'])}{note}"
            )
    if json_out:
        print_json(results if len(results) != 1 else results[0])
    if failed:
        raise typer.Exit(1)


@quotes_app.command("list")
def quotes_list(
    ctx: typer.Context,
    article: Annotated[int | None, typer.Option(help="Only this article's quotes.")] = None,
    speaker: Annotated[str | None, typer.Option(help="Only quotes by this speaker.")] = None,
    category: Annotated[str | None, typer.Option(help="Only quotes in this category.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Quotes with their speaker, category and where they stand in the article."""
    from sqlmodel import Session

    from scheduler.ingest.service import list_quotes

    with Session(state(ctx).engine()) as session:
        rows = list_quotes(session, article=article, speaker=speaker, category=category)
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
            lit(r["speaker"]) if r["speaker"] else "[dim]?[/]",
            lit(r["category"] or ""),
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
    from scheduler.errors import PlanningError
    from scheduler.ingest.service import tag_quotes
    from scheduler.storage import database

    if clear == (category is not None):
        raise PlanningError("give either --category NAME or --clear")
    if category is not None and not category.strip():
        raise PlanningError("--category cannot be empty")
    with database.session_scope(state(ctx).engine()) as session:
        tag_quotes(session, quote_ids, category.strip() if category else None)
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
    from sqlmodel import Session

    from scheduler.ingest.service import list_milestones

    with Session(state(ctx).engine()) as session:
        rows = list_milestones(session, article=article)
    if json_out:
        print_json(rows)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "article", "date", "precision", "tense", "person", "sentence")
    for r in rows:
        sentence = Text(r["text"])
        # How a post would put it, where that differs from the article.
        if r["wording"] == "":
            sentence.append("\n(no post: the sentence cannot stand alone)", style="dim")
        elif r["wording"] and r["wording"] != r["text"]:
            sentence.append(f"\nposted as: {r['wording']}", style="dim")
        table.add_row(
            str(r["id"]),
            str(r["article_id"]),
            r["date"],
            r["precision"],
            r["tense"],
            lit(r["person"] or ""),
            sentence,
        )
    console.print(table if rows else "no milestones yet")
