"""Bytes to clean text: pick the encoding, repair mojibake, refuse what is not text.

Loading the same bytes must always give the same text, because storage
recognises a re-ingested article by a hash of it.
"""

from __future__ import annotations

import codecs
import unicodedata

import charset_normalizer
import ftfy
import ftfy.badness
import regex

from scheduler.errors import IngestError

# Curly quotes and dashes carry meaning for quote extraction, so ftfy must not
# straighten them; everything else it repairs (double-encoded UTF-8, C1 controls,
# ligatures, fullwidth letters) is what a mis-encoded article needs.
_FIX = ftfy.TextFixerConfig(uncurl_quotes=False)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = regex.compile(r"[\p{Cc}--[\n\t\r\f]]", regex.V1)
_BLANK_RUN = regex.compile(r"\n[ \t\f\v]*(?:\n[ \t\f\v]*)+")
_TRAILING = regex.compile(r"[ \t\f\v]+\n")


def decode_bytes(raw: bytes, name: str, declared: str | None = None) -> str:
    """Decode article bytes; raise IngestError when they are not readable text."""
    if not raw.strip():
        raise IngestError(f"{name} is empty")
    text = _decode(raw, name, declared)
    if "\ufffd" in text and text.count("\ufffd") > max(2, len(text) // 200):
        raise IngestError(f"{name} has too many undecodable characters to be repaired")
    text = ftfy.fix_text(text, _FIX)
    # What ftfy could not repair is still visibly garbled ("Ã©", "â€œ"); storing
    # it would put that into posts, so refuse it.
    if ftfy.badness.badness(text) > max(2, len(text) // 2000):
        raise IngestError(f"{name} has garbled characters (mojibake) that could not be repaired")
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        raise IngestError(f"{name} looks like a binary file, not an article")
    letters = sum(1 for ch in text if ch.isalpha())
    if letters < max(1, len(text.strip()) // 3):
        raise IngestError(f"{name} does not look like article text (too few letters)")
    return text


def normalise_text(text: str) -> str:
    """One canonical form of an article's text: NFC, \\n line ends, at most one blank line."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\u00a0", " ").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _TRAILING.sub("\n", text)
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip()


def _decode(raw: bytes, name: str, declared: str | None) -> str:
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                raise IngestError(f"{name} starts with a {codec} mark but is not {codec}") from None
    if b"\x00" in raw:
        raise IngestError(f"{name} looks like a binary file, not an article")
    if declared:
        try:
            return raw.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass  # servers often lie about the charset; fall back to detection
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _detect(raw, name)


def _detect(raw: bytes, name: str) -> str:
    results = charset_normalizer.from_bytes(raw)
    best = results.best()
    # A high chaos score means the bytes decode only to gibberish in every
    # encoding tried: refuse rather than store nonsense.
    if best is None or best.chaos > 0.25:
        raise IngestError(f"{name} is not UTF-8 and its encoding cannot be recognised")
    # On short Western text several single-byte codecs fit about equally well;
    # Windows-1252 is by far the likeliest for English news, so it wins ties.
    for match in results:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.05:
            return str(match)
    return str(best)
