"""A WebM or Matroska file's sides and length, read from its EBML element
tree without decoding a frame (as `store.video_facts` reads an MP4's boxes).

EBML, as the Matroska specification (RFC 8794 for EBML, RFC 9559 for
Matroska) lays it out: every element is an ID (a variable-length integer of 1
to 4 bytes, its length marker kept), a size (a variable-length integer of 1 to
8 bytes, the marker dropped; all value bits set means "unknown", as a live
recording's Segment and Clusters often are) and the payload. A file opens
with the EBML header (0x1A45DFA3), whose DocType (0x4282) says "webm" or
"matroska", then one Segment (0x18538067) holding, before the media Clusters
(0x1F43B675):
- Info (0x1549A966): TimestampScale (0x2AD7B1, nanoseconds per tick, 1,000,000
  when absent) and Duration (0x4489, a 4- or 8-byte float in ticks, absent in
  files written live);
- Tracks (0x1654AE6B), each TrackEntry (0xAE) with TrackType (0x83, 1 is
  video) and Video (0xE0) with PixelWidth (0xB0) and PixelHeight (0xBA).
Reading stops at the first Cluster once both are known; a Segment declared
longer than the file is a cut file and is refused, like a cut MP4.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scheduler.errors import MediaError

MAGIC = b"\x1a\x45\xdf\xa3"
_DOC_TYPE = 0x4282
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMESTAMP_SCALE = 0x2AD7B1
_DURATION = 0x4489
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83
_VIDEO = 0xE0
_PIXEL_WIDTH = 0xB0
_PIXEL_HEIGHT = 0xBA
_CLUSTER = 0x1F43B675
_VIDEO_TRACK = 1


@dataclass(frozen=True)
class EbmlFacts:
    #: "webm" or "matroska" (the header's DocType).
    doc_type: str
    width: int | None
    height: int | None
    seconds: float | None


def _vint(data: bytes, at: int, end: int, *, most: int, marker: bool) -> tuple[int, int, bool]:
    """(value, bytes used, unknown size) of the variable-length integer at `at`."""
    if at >= end:
        raise MediaError("the video's EBML tree is cut short")
    first = data[at]
    length = 9 - first.bit_length()
    if first == 0 or length > most:
        raise MediaError("the video's EBML tree is damaged (a bad element length)")
    if at + length > end:
        raise MediaError("the video's EBML tree is cut short")
    value = int.from_bytes(data[at : at + length], "big")
    bits = (1 << (7 * length)) - 1
    if marker:
        return value, length, False
    return value & bits, length, value & bits == bits


def elements(data: bytes, start: int, end: int):
    """(id, payload start, payload end, size unknown) of each element in
    data[start:end]; an unknown size runs to `end`. A payload past `end` is a
    cut file."""
    at = start
    while at < end:
        ident, used, _ = _vint(data, at, end, most=4, marker=True)
        size, size_used, unknown = _vint(data, at + used, end, most=8, marker=False)
        payload = at + used + size_used
        stop = end if unknown else payload + size
        if stop > end:
            raise MediaError("the video's EBML tree is cut short")
        yield ident, payload, stop, unknown
        if unknown:
            return
        at = stop


def _uint(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big")


def _float(data: bytes, start: int, end: int) -> float | None:
    if end - start == 4:
        return struct.unpack(">f", data[start:end])[0]
    if end - start == 8:
        return struct.unpack(">d", data[start:end])[0]
    return None  # a 0-byte Duration is the default, which says nothing


def ebml_facts(data: bytes) -> EbmlFacts:
    """Doc type, sides and length of a WebM/Matroska file; MediaError for a
    file that is not one, is cut short, or has no video track."""
    top = elements(data, 0, len(data))
    ident, start, end, _ = next(top, (None, 0, 0, False))
    if ident != int.from_bytes(MAGIC, "big"):
        raise MediaError("not an EBML file (no EBML header)")
    doc_type = ""
    for kind, s, e, _ in elements(data, start, end):
        if kind == _DOC_TYPE:
            doc_type = data[s:e].rstrip(b"\x00").decode("ascii", errors="replace")
    if doc_type not in ("webm", "matroska"):
        raise MediaError(f"an EBML file of type {doc_type or 'unknown'!r}, not WebM or Matroska")
    segment = next(((s, e) for kind, s, e, _ in top if kind == _SEGMENT), None)
    if segment is None:
        raise MediaError("the video has no Segment (not a whole WebM/Matroska file)")
    scale, duration = 1_000_000, None
    width = height = None
    seen_info = seen_tracks = False
    for kind, s, e, unknown in elements(data, *segment):
        if kind == _INFO:
            seen_info = True
            for inner, a, b, _ in elements(data, s, e):
                if inner == _TIMESTAMP_SCALE:
                    scale = _uint(data, a, b) or scale
                elif inner == _DURATION:
                    duration = _float(data, a, b)
        elif kind == _TRACKS:
            seen_tracks = True
            width, height = _video_sides(data, s, e)
        elif kind == _CLUSTER and seen_info and seen_tracks:
            break  # the media itself: nothing further is needed
        elif unknown:
            break  # an element of unknown size cannot be stepped over
    if width is None or height is None:
        raise MediaError("the WebM/Matroska file has no video track with its sides")
    seconds = duration * scale / 1e9 if duration and duration > 0 else None
    return EbmlFacts(doc_type, width, height, seconds)


def _video_sides(data: bytes, start: int, end: int) -> tuple[int | None, int | None]:
    """PixelWidth and PixelHeight of the first video track in Tracks."""
    for kind, s, e, _ in elements(data, start, end):
        if kind != _TRACK_ENTRY:
            continue
        track_type, sides = None, (None, None)
        for inner, a, b, _ in elements(data, s, e):
            if inner == _TRACK_TYPE:
                track_type = _uint(data, a, b)
            elif inner == _VIDEO:
                width = height = None
                for field, c, d, _ in elements(data, a, b):
                    if field == _PIXEL_WIDTH:
                        width = _uint(data, c, d)
                    elif field == _PIXEL_HEIGHT:
                        height = _uint(data, c, d)
                sides = (width, height)
        if track_type == _VIDEO_TRACK and sides[0] and sides[1]:
            return sides
    return None, None
