"""Composing post text: templates, filters and per-platform length rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.compose.environment import list_templates, load, make_environment, render

__all__ = ["list_templates", "load", "make_environment", "render"]


def __getattr__(name: str) -> Any:
    # The template environment (Jinja2, the `regex` filters: 70 ms) is loaded
    # when first asked for, not by every importer of a `compose` submodule:
    # the daemon reads channels' post options from `compose.options` and
    # renders nothing.
    if name in __all__:
        from scheduler.compose import environment

        return getattr(environment, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
