"""Checking a post's attachments against its platform's limits before it is
queued (`MediaRules` on each adapter): type, size, dimensions, alt text, and
whether the platform can get the file at all. Problems are errors; alt text a
platform cannot show is a warning."""

from __future__ import annotations

from typing import Any

from scheduler.compose.length import graphemes
from scheduler.errors import MediaError
from scheduler.publishers.base import Publisher


def check_media(publisher: Publisher, media: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Raise MediaError for the first attachment the channel cannot send;
    return warnings. `names` say how to call each file in messages."""
    rules = publisher.media_rules
    platform = publisher.display_name or publisher.platform
    warnings: list[str] = []
    if not media:
        return warnings
    if rules.max_items == 0:
        raise MediaError(f"{platform} posts carry no media here; remove the attachment")
    if len(media) > rules.max_items:
        raise MediaError(f"{platform} takes at most {rules.max_items} per post, not {len(media)}")
    if rules.needs_url and not getattr(publisher.options, "media_base_url", None):
        raise MediaError(
            f"{platform} fetches media from a public URL: set the channel option "
            "media_base_url to where the media folder is served (channels edit -o media_base_url=…)"
        )
    for item, name in zip(media, names, strict=True):
        mime, size = item["mime"], item["size"]
        if mime.startswith("video/"):
            if mime not in rules.video_types:
                raise MediaError(f"{name}: {platform} takes no {mime} video here")
            limit = rules.max_video_bytes
        else:
            if mime not in rules.image_types:
                raise MediaError(f"{name}: {platform} takes no {mime} images")
            limit = rules.max_image_bytes
        if limit and size > limit:
            raise MediaError(f"{name}: {size} bytes, over {platform}'s {limit} bytes for {mime}")
        longest = max(item.get("width") or 0, item.get("height") or 0)
        if rules.max_side and longest > rules.max_side:
            raise MediaError(f"{name}: {longest} px on a side, over {platform}'s {rules.max_side}")
        alt = item.get("alt") or ""
        if rules.alt_limit is None:
            if alt:
                warnings.append(f"{name}: {platform} shows no alt text; it is kept but not sent")
        elif not alt.strip():
            raise MediaError(f"{name}: no alt text; add --alt TEXT (what the image shows)")
        elif graphemes(alt) > rules.alt_limit:
            raise MediaError(
                f"{name}: alt text is {graphemes(alt)} characters, over {platform}'s {rules.alt_limit}"
            )
    return warnings
