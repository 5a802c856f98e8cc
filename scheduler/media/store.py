"""Media files stored by content: the type read from the bytes (Pillow for
images; for MP4 and MOV the ISO box tree, for WebM the EBML element tree
(`media.ebml`), read for the sides and the length), the file written once under the media
folder as `sha256[:2]/sha256.ext`, one `media` row per distinct file. A post
names its files by hash, so what it carries cannot change under it; adapters
re-check the hash when they read the bytes (`MediaItem.read`)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from scheduler.errors import MediaError
from scheduler.media import ebml
from scheduler.publishers.base import LinkCard, MediaItem
from scheduler.storage.models import MediaFile

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
#: No platform takes more; refusing earlier keeps a typo from filling the disk.
MAX_BYTES = 512 * 1024 * 1024
#: Pillow's own bound against decompression bombs, made an error instead of a warning.
MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class VideoFacts:
    """What the box tree of an MP4 or MOV says without decoding a frame."""

    width: int | None
    height: int | None
    #: Length in seconds (movie header duration / timescale).
    seconds: float | None


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of each ISO BMFF box in data[start:end]."""
    at = start
    while at + 8 <= end:
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        head = 8
        if size == 1:  # a 64-bit size follows the type
            if at + 16 > end:
                raise MediaError("the video's box tree is cut short")
            size, head = int.from_bytes(data[at + 8 : at + 16], "big"), 16
        elif size == 0:  # the box runs to the end of the file
            size = end - at
        if size < head or at + size > end:
            raise MediaError("the video's box tree is cut short or damaged")
        yield kind, at + head, at + size
        at += size


def video_facts(data: bytes) -> VideoFacts:
    """Sides and length of a video: an MP4/MOV's boxes, a WebM's elements."""
    if data[:4] == ebml.MAGIC:
        facts = ebml.ebml_facts(data)
        return VideoFacts(facts.width, facts.height, facts.seconds)
    return mp4_facts(data)


def mp4_facts(data: bytes) -> VideoFacts:
    """Sides and length of an MP4/MOV from its `moov` box: `mvhd` for the
    length, the first `tkhd` with sides for the picture. Reading the boxes is
    cheap and needs no codec; a file without `moov` is not a whole video."""
    moov = next(((s, e) for kind, s, e in _boxes(data, 0, len(data)) if kind == b"moov"), None)
    if moov is None:
        raise MediaError("the video has no moov box (not a whole MP4/MOV file)")
    seconds = width = height = None
    for kind, start, end in _boxes(data, *moov):
        if kind == b"mvhd" and end - start >= 20:
            # version 1 has 64-bit times: timescale at 20, duration at 24; version 0 at 12 and 16.
            wide = data[start] == 1
            scale_at, length = (start + 20, 8) if wide else (start + 12, 4)
            scale = int.from_bytes(data[scale_at : scale_at + 4], "big")
            duration = int.from_bytes(data[scale_at + 4 : scale_at + 4 + length], "big")
            if scale:
                seconds = duration / scale
        elif kind == b"trak" and width is None:
            for inner, s, e in _boxes(data, start, end):
                if inner == b"tkhd" and e - s >= 8:
                    # The last 8 bytes are width and height, 16.16 fixed point.
                    w = int.from_bytes(data[e - 8 : e - 4], "big") >> 16
                    h = int.from_bytes(data[e - 4 : e], "big") >> 16
                    if w and h:
                        width, height = w, h
    return VideoFacts(width, height, seconds)


def sniff(data: bytes) -> tuple[str, int | None, int | None]:
    """(mime, width, height) from the bytes alone; MediaError if unknown."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        facts = mp4_facts(data)
        mime = "video/quicktime" if brand == b"qt  " else "video/mp4"
        return mime, facts.width, facts.height
    if data[:4] == ebml.MAGIC:
        found = ebml.ebml_facts(data)
        if found.doc_type != "webm":
            raise MediaError(
                "a Matroska (.mkv) video: no platform here takes it; convert it to WebM or MP4"
            )
        return "video/webm", found.width, found.height
    # Pillow is imported where an image is read: the daemon imports this module
    # for sends and reads no image for a text post (Pillow's import is 20 ms).
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = Image.MIME.get(image.format or "", "")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise MediaError(f"image is {width}x{height}, more pixels than any platform takes")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise MediaError(
            "not an image or video this scheduler knows (PNG, JPEG, GIF, WebP, MP4, MOV, WebM)"
        ) from None
    if mime not in EXTENSIONS:
        raise MediaError(f"{mime or 'this image type'} is not taken by any platform here")
    return mime, width, height


def stored_json(value: Any) -> Any:
    """A JSON column as read: parsed already, or raw text from a driver-level
    read (where SQL NULL and JSON `null` both mean none)."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


def media_root() -> Path:
    """The media folder from the settings (`SCHEDULER_MEDIA_DIR`, `media_dir`)."""
    from scheduler.config import load_settings

    return load_settings().media_dir


def without_metadata(data: bytes, mime: str) -> bytes:
    """A JPEG without its EXIF and XMP (APP1) segments: camera, time and GPS
    position never leave with a photo (Bluesky asks clients to strip them).
    Lossless: the image data is copied byte for byte. A photo whose EXIF turns
    it (orientation) is turned first and saved again at quality 95, since the
    turn would be lost with the tag."""
    if mime != "image/jpeg" or data[:2] != b"\xff\xd8":
        return data
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        orientation = image.getexif().get(0x0112, 1)
        if orientation not in (1, None):
            turned = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            turned.save(out, format="JPEG", quality=95)
            data = out.getvalue()
    kept = bytearray(data[:2])
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker != 0xE1:
            kept += data[at:end]
        at = end
    kept += data[at:]
    return bytes(kept)


def describe(data: bytes) -> tuple[bytes, MediaFile]:
    """The bytes to store (metadata stripped) and the row they would get,
    without storing anything."""
    if not data:
        raise MediaError("the file is empty")
    if len(data) > MAX_BYTES:
        raise MediaError(f"the file is {len(data)} bytes; at most {MAX_BYTES} are stored")
    mime, width, height = sniff(data)
    cleaned = without_metadata(data, mime)
    if cleaned != data:  # a turned photo has its sides swapped
        data = cleaned
        mime, width, height = sniff(data)
    digest = hashlib.sha256(data).hexdigest()
    return data, MediaFile(
        sha256=digest,
        mime=mime,
        size=len(data),
        width=width,
        height=height,
        path=f"{digest[:2]}/{digest}.{EXTENSIONS[mime]}",
    )


def store_bytes(session: Session, data: bytes, root: Path | None = None) -> MediaFile:
    """Store `data` (once) and return its row."""
    data, described = describe(data)
    digest, relative = described.sha256, described.path
    target = (root or media_root()) / relative
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a crash never leaves half a file under the hash.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)
    row = session.exec(select(MediaFile).where(MediaFile.sha256 == digest)).first()
    if row is None:
        row = described
        session.add(row)
        session.flush()
    return row


def read_file(path: str | Path) -> tuple[bytes, MediaFile]:
    """The bytes of the file at `path` and the row they would get; errors
    name the file. Nothing is stored."""
    source = Path(path)
    try:
        if source.stat().st_size > MAX_BYTES:
            raise MediaError(f"{source}: larger than {MAX_BYTES} bytes")
        data = source.read_bytes()
    except OSError as exc:
        raise MediaError(f"{source}: cannot read it ({exc.strerror})") from None
    try:
        return describe(data)
    except MediaError as exc:
        raise MediaError(f"{source}: {exc}") from None


def attachment(row: MediaFile, alt: str = "", seconds: float | None = None) -> dict[str, Any]:
    """What a post keeps of one file (`Post.media`); `seconds`, a video's length."""
    item = {
        "sha256": row.sha256,
        "mime": row.mime,
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "path": row.path,
        "alt": alt,
    }
    if seconds is not None:
        item["seconds"] = round(seconds, 3)
    return item


def items(
    media: Any, root: Path | None = None, base_url: str | None = None
) -> tuple[MediaItem, ...]:
    """A post's stored attachments as adapters get them."""
    media = stored_json(media)
    if not media:
        return ()
    folder = (root or media_root()).absolute()
    return tuple(
        MediaItem(
            sha256=m["sha256"],
            mime=m["mime"],
            size=int(m["size"]),
            path=str(folder / m["path"]),
            alt=m.get("alt") or "",
            width=m.get("width"),
            height=m.get("height"),
            seconds=m.get("seconds"),
            url=f"{base_url.rstrip('/')}/{m['path']}" if base_url else None,
        )
        for m in media
    )


def card_data(
    session: Session, uri: str, title: str, description: str, image_sha256: str | None
) -> dict[str, Any]:
    """What a post keeps of its link card (`Post.link_card`)."""
    thumb = None
    if image_sha256:
        row = session.exec(select(MediaFile).where(MediaFile.sha256 == image_sha256)).first()
        thumb = attachment(row) if row is not None else None
    return {"uri": uri, "title": title, "description": description, "thumb": thumb}


def link_card(data: Any, root: Path | None = None) -> LinkCard:
    """A post's stored link card as adapters get it."""
    data = stored_json(data)
    thumb = items([data["thumb"]], root) if data.get("thumb") else ()
    return LinkCard(
        uri=data["uri"],
        title=data.get("title") or "",
        description=data.get("description") or "",
        thumb=thumb[0] if thumb else None,
    )
