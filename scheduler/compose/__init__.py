"""Composing post text: templates, filters and per-platform length rules."""

from scheduler.compose.environment import list_templates, load, make_environment, render

__all__ = ["list_templates", "load", "make_environment", "render"]
