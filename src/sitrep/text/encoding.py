"""Bytes to text, whatever the encoding: the one decoder every reader uses.

The order is the one a careful person follows:
1. a byte-order mark decides (UTF-32 and UTF-16, either byte order, and UTF-8), and the mark is
   not part of the text;
2. otherwise a NUL byte means binary data: text in any single-byte or UTF-8 encoding has none,
   and UTF-16 without a mark is too rare to guess at;
3. UTF-8, strictly: most text is UTF-8, and ASCII is both;
4. the encoding the document declares (an HTTP `Content-Type` charset or an HTML `<meta>`), if
   its bytes decode in it;
5. detection by charset-normalizer, which scores every candidate encoding by how plausible the
   decoded text is: the one library made for this that is kept up. When it finds several
   equally plausible (a short text, Spanish it cannot tell from Polish) and Windows-1252 is
   one of them, that is taken: the Encoding Standard's reading of text labelled Latin-1, and
   what browsers assume of Western text that declares nothing.

The result names the encoding used, in Python's canonical spelling (`cp1256`, `utf-16-le`), so
an article can say how it was read.

A file too large to hold (a CSV export) is read as a stream instead: `sniff` applies the same
rule, without a declaration, to a leading sample, and names the codec to read the rest with.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import charset_normalizer

# Longest marks first: UTF-32 LE's mark begins with UTF-16 LE's.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class UndecodableError(ValueError):
    """The bytes are not text in any encoding sitrep can tell."""


class BinaryDataError(UndecodableError):
    """The bytes are binary data (they hold NUL bytes and no byte-order mark)."""


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # Python's canonical codec name
    how: str  # "byte-order mark", "utf-8", "declared" or "detected"


def decode(data: bytes, *, declared: str | None = None) -> Decoded:
    """Decode `data` as text; raise `BinaryDataError` or `UndecodableError` with the reason."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return _decode_marked(data, mark, encoding)
    if (nul := data.find(b"\x00")) >= 0:
        raise BinaryDataError(
            f"NUL byte at offset {nul} and no byte-order mark: binary data, not text"
        )
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if (named := canonical_encoding(declared)) is not None and named != "utf-8":
        try:
            return Decoded(data.decode(named), named, "declared")
        except UnicodeDecodeError:
            pass  # the declaration is wrong: pages often say one thing and are another
    detected = _detect(data)
    if detected is None:
        raise UndecodableError(
            f"not UTF-8 (byte 0x{data[first_bad]:02x} at offset {first_bad})"
            + (f", not {declared} as declared" if declared else "")
            + ": binary data, or text in an encoding no detector recognises"
        )
    return Decoded(detected[1], detected[0], "detected")


# Taken among candidates charset-normalizer scores alike (module docstring).
_TIE_BREAK = "cp1252"


def _detect(data: bytes) -> tuple[str, str] | None:
    """charset-normalizer's encoding for `data` (canonical name) and the text decoded in it,
    or None if it has none."""
    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        return None
    for match in results:
        tied = (match.chaos, match.coherence) == (best.chaos, best.coherence)
        if tied and _TIE_BREAK in match.could_be_from_charset:
            try:
                return _TIE_BREAK, data.decode(_TIE_BREAK)
            except UnicodeDecodeError:
                break
    return canonical_encoding(best.encoding) or best.encoding, str(best)


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The encoding of a stream, told from its first bytes."""

    encoding: str  # Python's canonical codec name
    how: str  # "byte-order mark", "utf-8" or "detected"
    mark: int  # bytes of byte-order mark before the text


def sniff(sample: bytes, *, complete: bool) -> Sniffed:
    """The encoding of a stream that begins with `sample` (all of it when `complete`).

    The rule of `decode`, without a declaration: a byte-order mark, else NUL bytes mean binary
    (`BinaryDataError`), else UTF-8 if the sample is (a character cut at its end is not held
    against it), else charset-normalizer's best guess from the sample (`UndecodableError` if
    it has none). Bytes further on may still not be in that encoding: the reader that decodes
    them reports where.
    """
    if (marked := byte_order_mark(sample)) is not None:
        return Sniffed(marked[0], "byte-order mark", marked[1])
    if (nul := sample.find(b"\x00")) >= 0:
        raise BinaryDataError(
            f"NUL byte at offset {nul} and no byte-order mark: binary data, not text"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    else:
        return Sniffed("utf-8", "utf-8", 0)
    detected = _detect(sample)
    if detected is None:
        raise UndecodableError(
            f"not UTF-8 (byte 0x{sample[first_bad]:02x} at offset {first_bad}): binary data, "
            "or text in an encoding no detector recognises"
        )
    return Sniffed(detected[0], "detected", 0)


def byte_order_mark(data: bytes) -> tuple[str, int] | None:
    """The encoding a leading byte-order mark names and the mark's length, if there is one."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return encoding, len(mark)
    return None


def canonical_encoding(name: str | None) -> str | None:
    """Python's name for the codec `name` (`latin-1` → `iso8859-1`), or None if unknown."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def _decode_marked(data: bytes, mark: bytes, encoding: str) -> Decoded:
    try:
        return Decoded(data[len(mark) :].decode(encoding), encoding, "byte-order mark")
    except UnicodeDecodeError as exc:
        offset = exc.start + len(mark)
        raise UndecodableError(
            f"starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
            f"text: {exc.reason} (byte 0x{data[offset]:02x}) at offset {offset}"
        ) from None
