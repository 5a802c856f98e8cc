"""A tiny WebM/Matroska writer for the tests: the EBML element tree a real
file has (the EBML header with its DocType, a Segment with Info, Tracks and a
Cluster), with the sides and length the test asks for. Its one frame is
filler, which is all the scheduler reads: sides and length come from the
elements, never a codec."""

from __future__ import annotations

import struct


def size(n: int | None, width: int | None = None) -> bytes:
    """An EBML size: the shortest that holds `n` (or `width` bytes); None is
    the "unknown" size of a live recording (all value bits set, 8 bytes)."""
    if n is None:
        return b"\x01" + b"\xff" * 7
    length = width or next(k for k in range(1, 9) if n < (1 << (7 * k)) - 1)
    return (n | (1 << (7 * length))).to_bytes(length, "big")


def el(ident: int, payload: bytes, *, unknown: bool = False, width: int | None = None) -> bytes:
    raw = ident.to_bytes((ident.bit_length() + 7) // 8, "big")
    return raw + size(None if unknown else len(payload), width) + payload


def uint(ident: int, value: int) -> bytes:
    return el(ident, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def webm(
    width: int = 640,
    height: int = 360,
    seconds: float | None = 3.0,
    *,
    doc_type: str = "webm",
    scale: int | None = 1_000_000,
    double: bool = False,
    live: bool = False,
    audio_first: bool = True,
    payload: int = 2048,
    seed: int = 0,
) -> bytes:
    """A WebM (or, with doc_type "matroska", an MKV) file. `scale`: the
    TimestampScale written (None writes none, so the default applies);
    `double`: Duration as an 8-byte float; `live`: Segment and Cluster of
    unknown size and no Duration, as a browser's recorder writes them."""
    header = el(
        0x1A45DFA3,
        uint(0x4286, 1)
        + uint(0x42F7, 1)
        + uint(0x42F2, 4)
        + uint(0x42F3, 8)
        + el(0x4282, doc_type.encode())
        + uint(0x4287, 4)
        + uint(0x4285, 2),
    )
    info = b""
    if scale is not None:
        info += uint(0x2AD7B1, scale)
    if seconds is not None and not live:
        ticks = seconds * 1e9 / (scale or 1_000_000)
        info += el(0x4489, struct.pack(">d" if double else ">f", ticks))
    info += el(0x4D80, b"scheduler-tests") + el(0x5741, b"scheduler-tests")
    audio = el(0xAE, uint(0xD7, 2) + uint(0x83, 2) + el(0x86, b"A_OPUS") + el(0xE1, uint(0x9F, 2)))
    video = el(
        0xAE,
        uint(0xD7, 1)
        + uint(0x83, 1)
        + el(0x86, b"V_VP9")
        + el(0xE0, uint(0xB0, width) + uint(0xBA, height)),
    )
    tracks = el(0x1654AE6B, audio + video if audio_first else video + audio)
    frame = bytes((seed + i * 7) % 251 for i in range(payload))
    block = el(0xA3, b"\x81\x00\x00\x80" + frame)
    cluster = el(0x1F43B675, uint(0xE7, 0) + block, unknown=live)
    body = el(0x1549A966, info) + tracks + cluster
    return header + el(0x18538067, body, unknown=live, width=8)
