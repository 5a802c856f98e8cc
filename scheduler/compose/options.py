"""What a channel asks of its post text, beside what its platform adapter takes.

Set with `channels add/edit -o key=value`, kept in the channel's options, and
handed to templates as `channel.credit`, `channel.hashtags`, `channel.link`,
`channel.headline`:

- `credit`: a line crediting the outlet ("via Speed Weekly"), shown as written;
- `hashtags`: `true` adds tags from the article's subject (`compose.hashtags`);
- `link`: `true` ends the post with the article's address;
- `headline`: `false` leaves the article's headline off quote posts, for an
  account whose link card under the post already shows it (planning then
  plans the quote without its `lead_in`).

The adapter never sees these keys (`split` takes them out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PostOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit: str | None = Field(default=None, max_length=200)
    hashtags: bool = False
    link: bool = False
    headline: bool = True


KEYS = frozenset(PostOptions.model_fields)


def split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(post options, adapter options) from a channel's options."""
    post = {k: v for k, v in options.items() if k in KEYS}
    rest = {k: v for k, v in options.items() if k not in KEYS}
    return post, rest


def read(options: Mapping[str, Any] | None) -> PostOptions:
    """The channel's post options (validated when the channel was saved)."""
    post, _ = split(options or {})
    return PostOptions.model_validate(post)
