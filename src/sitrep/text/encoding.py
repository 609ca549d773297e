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
   decoded text is: the one library made for this that is kept up.

The result names the encoding used, in Python's canonical spelling (`cp1256`, `utf-16-le`), so
an article can say how it was read.
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
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise UndecodableError(
            f"not UTF-8 (byte 0x{data[first_bad]:02x} at offset {first_bad})"
            + (f", not {declared} as declared" if declared else "")
            + ": binary data, or text in an encoding no detector recognises"
        )
    encoding = canonical_encoding(best.encoding) or best.encoding
    return Decoded(str(best), encoding, "detected")


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
        raise UndecodableError(
            f"starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
            f"text: {exc.reason} at offset {exc.start + len(mark)}"
        ) from None
