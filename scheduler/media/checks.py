"""Checking a post's attachments against its platform's limits before it is
queued (`MediaRules` on each adapter): type, size, dimensions, a video's
length, how many videos and whether they mix with images, alt text, and
whether the platform can get the file at all. Problems are errors; a platform
that shows no alt text (Telegram, X on videos) gets a warning instead."""

from __future__ import annotations

from typing import Any

from scheduler.compose.length import graphemes
from scheduler.errors import MediaError
from scheduler.publishers.base import MediaRules, Publisher


def _alt_limit(rules: MediaRules, video: bool) -> int:
    assert rules.alt_limit is not None
    if video and rules.video_alt_limit is not None:
        return rules.video_alt_limit
    return rules.alt_limit


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
    videos = [item for item in media if item["mime"].startswith("video/")]
    if videos and not rules.video_types:
        raise MediaError(
            f"{names[media.index(videos[0])]}: "
            + (rules.no_video or f"{platform} takes no video here")
        )
    if len(videos) > rules.max_videos:
        raise MediaError(f"{platform} takes at most {rules.max_videos} video per post")
    if videos and len(videos) < len(media) and not rules.mix_video:
        raise MediaError(f"{platform} takes a video or images in one post, not both")
    if rules.needs_url and not getattr(publisher.options, "media_base_url", None):
        raise MediaError(
            f"{platform} fetches media from a public URL: set the channel option "
            "media_base_url to where the media folder is served (channels edit -o media_base_url=…)"
        )
    for item, name in zip(media, names, strict=True):
        mime, size = item["mime"], item["size"]
        video = mime.startswith("video/")
        if video:
            if mime not in rules.video_types:
                raise MediaError(f"{name}: {platform} takes no {mime} video here")
            limit = rules.max_video_bytes
        else:
            if mime not in rules.image_types:
                raise MediaError(f"{name}: {platform} takes no {mime} images")
            limit = rules.max_image_bytes
        if limit and size > limit:
            raise MediaError(f"{name}: {size} bytes, over {platform}'s {limit} bytes for {mime}")
        if video and size < rules.min_video_bytes:
            raise MediaError(
                f"{name}: {size} bytes, under the {rules.min_video_bytes} bytes {platform} "
                "takes for a video"
            )
        longest = max(item.get("width") or 0, item.get("height") or 0)
        side = rules.max_video_side if video else rules.max_side
        if side and longest > side:
            raise MediaError(f"{name}: {longest} px on a side, over {platform}'s {side}")
        seconds = item.get("seconds")
        if video and rules.max_video_seconds and seconds and seconds > rules.max_video_seconds:
            raise MediaError(
                f"{name}: {seconds:g} s long, over {platform}'s {rules.max_video_seconds:g} s"
            )
        if video and rules.min_video_seconds and seconds and seconds < rules.min_video_seconds:
            raise MediaError(
                f"{name}: {seconds:g} s long, under the {rules.min_video_seconds:g} s "
                f"{platform} takes"
            )
        alt = item.get("alt") or ""
        if rules.alt_limit is None or (video and not rules.video_alt):
            what = "videos" if rules.alt_limit is not None else "media"
            if alt:
                warnings.append(f"{name}: {platform} shows no alt text on {what}; kept, not sent")
            else:
                warnings.append(f"{name}: {platform} shows no alt text on {what}")
        elif not alt.strip():
            raise MediaError(f"{name}: no alt text; add --alt TEXT (what the image shows)")
        elif graphemes(alt) > (limit := _alt_limit(rules, video)):
            raise MediaError(
                f"{name}: alt text is {graphemes(alt)} characters, over {platform}'s {limit}"
                + (" for a video" if video and limit != rules.alt_limit else "")
            )
    return warnings
