"""User data and file names are printed literally: square brackets in a post,
a quote's words or an error are text, never terminal markup."""

from __future__ import annotations

import subprocess
import sys


def test_brackets_in_posts_survive_every_listing(ready_cli):
    cli = ready_cli
    assert cli("channels", "add", "team", "--platform", "outbox").code == 0
    added = cli("queue", "add", "team", "Go [bold]team[/bold] [red]now[/red]", "--at", "+1d")
    assert added.code == 0, added.stderr
    queue = cli("queue", "list")
    assert "[bold]team[/bold] [red]now[/red]" in queue.stdout
    preview = cli("preview", "1")
    assert "[bold]team[/bold]" in preview.stdout


def test_error_lines_keep_their_brackets():
    """The PostgreSQL hint names `scheduler[postgres]` whole (it used to print
    `pip install 'scheduler'`)."""
    code = "from scheduler.output import error; error(\"pip install 'scheduler[postgres]'\")"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.strip() == "error: pip install 'scheduler[postgres]'"
