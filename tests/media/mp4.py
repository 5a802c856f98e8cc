"""A tiny MP4 writer for the tests: the box tree a real file has (ftyp, moov
with mvhd and a video trak's tkhd, mdat), with the sides and length the test
asks for. It decodes to no picture (mdat holds filler), which is all the
scheduler reads: type, sides and length come from the boxes, never a codec."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

from scheduler.publishers.base import MediaItem


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mvhd(timescale: int, duration: int, *, version: int = 0) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    rest = struct.pack(">IH", 0x00010000, 0x0100) + b"\x00" * 10 + _matrix() + b"\x00" * 24
    return box(b"mvhd", bytes([version, 0, 0, 0]) + times + rest + struct.pack(">I", 2))


def tkhd(width: int, height: int, duration: int) -> bytes:
    head = struct.pack(">IIIII", 0, 0, 1, 0, duration) + b"\x00" * 8
    layer = struct.pack(">hhhH", 0, 0, 0, 0)
    sides = struct.pack(">II", width << 16, height << 16)
    return box(b"tkhd", bytes([0, 0, 0, 3]) + head + layer + _matrix() + sides)


def _matrix() -> bytes:
    return struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def mp4(
    width: int = 640,
    height: int = 360,
    seconds: float = 3.0,
    *,
    payload: int = 2048,
    brand: bytes = b"isom",
    version: int = 0,
    moov_last: bool = False,
    seed: int = 0,
) -> bytes:
    """An MP4 (`brand` b"qt  " makes a MOV) of `payload` filler bytes in mdat;
    `seed` changes the filler so two files differ by content."""
    timescale = 1000
    duration = round(seconds * timescale)
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0x200) + brand + b"mp41")
    audio = box(b"trak", tkhd(0, 0, duration))  # an audio track has no sides
    video = box(b"trak", tkhd(width, height, duration))
    moov = box(b"moov", mvhd(timescale, duration, version=version) + audio + video)
    filler = bytes((seed + i * 7) % 251 for i in range(payload))
    mdat = box(b"mdat", filler)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


def mp4_item(
    folder: Path,
    width: int,
    height: int,
    seconds: float,
    *,
    seed: int = 0,
    alt: str = "A rower crossing the line",
    **kw: Any,
) -> MediaItem:
    """An MP4 written to `folder` as an adapter gets it: a `MediaItem` with
    its hash, sides and length."""
    data = mp4(width, height, seconds, seed=seed, **kw)
    path = folder / f"clip-{seed}.mp4"
    path.write_bytes(data)
    return MediaItem(
        sha256=hashlib.sha256(data).hexdigest(),
        mime="video/mp4",
        size=len(data),
        path=str(path),
        alt=alt,
        width=width,
        height=height,
        seconds=seconds,
    )
