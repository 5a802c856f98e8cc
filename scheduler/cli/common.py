"""What every command of the `scheduler` CLI shares: the state the root options
set (--db, --templates), the option types used by several groups, printing new
posts, and turning failures into one line on stderr.

Nothing heavy is imported here at module level: `scheduler --help` loads this.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler import __version__
from scheduler.errors import SchedulerError
from scheduler.output import console, error, gist, print_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from scheduler.config import Settings

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


def state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


def complete_channel(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of channel names, from the database when it can be read."""
    try:
        from sqlmodel import Session

        from scheduler.accounts import channels

        # While completing, the root callback has not run: read --db from its params.
        found = ctx.find_object(State) or State(db=ctx.find_root().params.get("db"))
        with Session(found.engine()) as session:
            names = [c.name for c in channels.list_channels(session)]
    except Exception:
        return []
    return [n for n in names if n.startswith(incomplete)]


ChannelArg = Annotated[str, typer.Argument(help="Channel name.", autocompletion=complete_channel)]


def _version(value: bool) -> None:
    if value:
        print(f"scheduler {__version__}")
        raise typer.Exit()


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


def read_input(file: str, error_type: type[SchedulerError]) -> tuple[str, str]:
    """The text of a FILE argument (- for stdin) and the name to report it by."""
    if file == "-":
        # Read as bytes, so stdin is held to the same rules as a file: UTF-8
        # (else one line saying so) and any line endings (CR-only included).
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise error_type("stdin is not UTF-8 text") from None
        return text.replace("\r\n", "\n").replace("\r", "\n"), "stdin"
    path = Path(file)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except FileNotFoundError:
        raise error_type(f"no such file: {file}") from None
    except UnicodeDecodeError:
        raise error_type(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise error_type(f"cannot read {file}: {exc.strerror}") from None


def edit_in_editor(text: str) -> str | None:
    """`text` after $VISUAL/$EDITOR, or None when it came back unchanged."""
    import click  # click.edit: a temporary file in the editor (Typer's copy lacks it)

    try:
        edited = click.edit(text + "\n", extension=".txt", require_save=True)
    except click.ClickException as exc:  # the editor failed to start, or exited non-zero
        raise SchedulerError(f"could not edit in $EDITOR: {exc.format_message()}") from None
    if edited is None or edited.strip() == text.strip():
        return None
    return edited


def print_created(
    rows: list[dict[str, Any]],
    over_ids: list[int],
    json_out: bool,
    summary: str,
    *,
    notes: list[str] | None = None,
    **extra: Any,
) -> None:
    """What `plan` and `queue import` print: the new posts, then warnings."""
    if json_out:
        data = {"created": rows, **extra, "over_limit": over_ids}
        if notes is not None:
            data["notes"] = notes
        print_json(data)
        return
    from rich.text import Text

    for r in rows:
        line = Text(f"post {r['id']} {r['channel']} {r['due_local']}  ")
        line.append(gist(r["text"])[:70])
        console.print(line)
    console.print(summary, markup=False)
    for note in notes or []:
        console.print(Text(f"note: {note}"))
    for post_id in over_ids:
        console.print(
            f"[yellow]warning:[/] post {post_id} is over its platform's limit; "
            f"see `scheduler preview {post_id}`"
        )


# -- failures -----------------------------------------------------------------


def run(app: typer.Typer, argv: list[str] | None) -> int:
    """Run the CLI and give its exit code; every expected failure ends as one line on stderr."""
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
    return code


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
