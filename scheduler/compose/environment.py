"""The Jinja2 environment posts are rendered in.

Sandboxed, because templates are user-editable files and must not reach Python
internals; StrictUndefined, because a typo must be an error, not a blank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from scheduler.compose.filters import FILTERS
from scheduler.errors import TemplateError
from scheduler.resources import templates_dir


def make_environment(extra_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """User folders are searched before the bundled templates, so a user can
    override `quote.j2` by writing their own."""
    search = [str(p) for p in extra_dirs] + [str(templates_dir())]
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


def template_file(name: str) -> str:
    return name if name.endswith(".j2") else f"{name}.j2"


def list_templates(env: jinja2.Environment) -> list[str]:
    return sorted({t.removesuffix(".j2") for t in env.list_templates(extensions=["j2"])})


def load(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Find and compile a template, so a missing or broken one fails before any work."""
    filename = template_file(name)
    try:
        return env.get_template(filename)
    except jinja2.TemplateNotFound:
        known = ", ".join(list_templates(env)) or "none"
        raise TemplateError(f"no template named {name!r} (available: {known})") from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or filename
        raise TemplateError(
            f"template {Path(where).name} line {exc.lineno}: {exc.message}"
        ) from None


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a template to post text, turning any template failure into one line."""
    filename = template_file(name)
    template = load(env, name)
    try:
        text = template.render(**context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template {filename}: not allowed: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {filename}{_line_of(exc)}: {exc.message}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise TemplateError(f"template {filename}{_line_of(exc)}: {exc}") from None
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if not text:
        raise TemplateError(f"template {filename} rendered an empty post")
    return text


def _line_of(exc: BaseException) -> str:
    """The template line from the traceback Jinja rewrites to point at the template."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" line {line}" if line else ""
