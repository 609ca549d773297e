"""JSON Lines and CSV files read as streams of text, a line or a row at a time, in their encoding.

    jsonl_lines(path)   each non-blank line: UTF-8 as JSON is (RFC 8259), a UTF-8 byte-order
                        mark tolerated and a UTF-16 or UTF-32 one honoured; a bad byte fails
                        its own line, by byte and column
    csv_rows(path)      each row as a dict of column to text, the encoding told from the first
                        64 KiB (`sitrep.text.encoding.sniff`), the delimiter from the header

Each yields one `Entry` per input it will become, with its location (`path:line 7`,
`path:row 3`, or the path for the whole file), so that counting them (`sum(1 for ...)`) gives
what reading them gives. A file of `.gz` name is decompressed as it is read.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitrep.text.encoding import UndecodableError, byte_order_mark, sniff

# What a stream's encoding, a CSV's delimiter or a bare gzip's content is told from.
SAMPLE_BYTES = 1 << 16
# Raised while reading a file or a gzip stream that is cut short or corrupt.
STREAM_ERRORS = (OSError, EOFError, zlib.error)

Binary = gzip.GzipFile | io.BufferedReader


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a JSON Lines file or one row of a CSV file, or why it cannot be read."""

    location: str
    value: Any = None  # the line (str), or the row (dict of column to str); None on a problem
    encoding: str = "utf-8"
    problem: str | None = None


def open_binary(path: Path) -> Binary:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def unreadable(exc: BaseException) -> str:
    """Why a file could not be read at all, from the error reading it raised."""
    if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error):
        return f"not a readable gzip file: {exc}"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return str(exc)


def jsonl_lines(path: Path) -> Iterator[Entry]:
    """Each non-blank line of a JSON Lines file, or why it cannot be read.

    Lines are decoded one at a time, so a bad byte fails its own line, not its neighbours. A
    file with no line to read is one problem, so that it is never passed over in silence.
    """
    number = read = 0
    try:
        with open_binary(path) as stream:
            encoding, mark = byte_order_mark(stream.read(4)) or ("utf-8", 0)
            stream.seek(mark)
            for number, line, problem in _numbered_lines(stream, encoding):
                location = f"{path}:line {number}"
                if problem is not None:
                    yield Entry(location, problem=problem)
                elif line.strip():
                    yield Entry(location, line, encoding)
                else:
                    continue
                read += 1
    except (*STREAM_ERRORS, UnicodeDecodeError) as exc:
        if number == 0:
            yield Entry(str(path), problem=unreadable(exc))
        else:
            yield Entry(f"{path}:line {number + 1}", problem=f"unreadable from here on: {exc}")
        return
    if read == 0:
        empty = "holds only blank lines" if number else "is empty"
        yield Entry(str(path), problem=f"no articles: the file {empty}")


def _numbered_lines(stream: Binary, encoding: str) -> Iterator[tuple[int, str, str | None]]:
    if encoding == "utf-8":
        for number, raw in enumerate(stream, start=1):
            try:
                yield number, raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                problem = f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"
                yield number, "", problem
        return
    # UTF-16 and UTF-32 lines cannot be split as bytes; an unpaired surrogate is let through
    # to be reported on its line.
    text = io.TextIOWrapper(stream, encoding, errors="surrogatepass", newline="\n")
    for number, line in enumerate(text, start=1):
        if (column := _first_undecoded(line)) is not None:
            yield number, "", f"not {encoding.upper()} text: unpaired surrogate at column {column}"
        else:
            yield number, line, None


def _first_undecoded(value: str) -> int | None:
    """The 1-based column of the first character that stands for bytes not decoded, if any."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start + 1
    return None


def csv_rows(path: Path) -> Iterator[Entry]:
    """Each row of a CSV file as a dict of column to text, or why it cannot be read.

    The encoding is told from the first 64 KiB, as `sitrep.text.encoding.sniff` tells it: a
    byte-order mark (Excel's "Unicode text" export is UTF-16 with one, tab-separated), else
    UTF-8 if the sample is, else charset-normalizer's guess (Excel's plain "CSV" is the
    Windows code page: cp1252, cp1256...); the rest is read as a stream in that encoding,
    never held whole. A byte further on that is not in it fails its own row.
    """
    number = 0
    try:
        with open_binary(path) as stream:
            sample = stream.read(SAMPLE_BYTES)
            try:
                found = sniff(sample, complete=len(sample) < SAMPLE_BYTES)
            except UndecodableError as exc:
                yield Entry(str(path), problem=f"not CSV text: {exc}")
                return
            stream.seek(found.mark)
            # surrogateescape keeps a bad byte in its row, where it is reported, instead of
            # failing the decoder for every row after it; surrogatepass does it for UTF-16/32.
            wide = found.encoding.startswith(("utf-16", "utf-32"))
            errors = "surrogatepass" if wide else "surrogateescape"
            text = io.TextIOWrapper(stream, found.encoding, errors=errors, newline="")
            header = text.readline()
            if not header.strip():
                yield Entry(str(path), problem="no articles: the file has no header row")
                return
            delimiter = sniff_delimiter(header)
            rows = csv.DictReader(itertools.chain([header], text), delimiter=delimiter)
            columns = len(rows.fieldnames or ())
            for row in rows:
                number += 1
                location = f"{path}:row {number}"
                if problem := _row_problem(row, columns, delimiter, found.encoding, wide):
                    yield Entry(location, problem=problem)
                else:
                    row.pop(None, None)  # empty trailing fields
                    yield Entry(location, row, found.encoding)
    except (*STREAM_ERRORS, csv.Error, UnicodeDecodeError) as exc:
        if number == 0 and not isinstance(exc, csv.Error | UnicodeDecodeError):
            yield Entry(str(path), problem=unreadable(exc))
        else:
            yield Entry(f"{path}:row {number + 1}", problem=f"unreadable from here on: {exc}")
        return
    if number == 0:
        yield Entry(str(path), problem="no articles: the file has a header row and no rows")


def sniff_delimiter(header: str) -> str:
    """The header's delimiter as `csv.Sniffer` finds it among comma, tab, semicolon and bar
    (a comma when there is one column).

    Only the delimiter is taken: the sniffed dialect says no doubled quotes from a header that
    has none to show, and Excel doubles them.
    """
    try:
        return csv.Sniffer().sniff(header, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _row_problem(
    row: Mapping[str | None, Any], columns: int, delimiter: str, encoding: str, wide: bool
) -> str | None:
    extra = row.get(None)
    if extra and any(value.strip() for value in extra):
        shown = "tab" if delimiter == "\t" else f"'{delimiter}'"
        return (
            f"the row has {columns + len(extra)} fields, the header {columns}: a field that "
            f"holds the delimiter ({shown}) must be quoted"
        )
    for column, value in row.items():
        if isinstance(value, str) and (at := _first_undecoded(value)) is not None:
            code = ord(value[at - 1])
            # surrogateescape keeps an undecoded byte b as the character U+DC00 + b.
            what = "an unpaired surrogate" if wide else f"byte 0x{code - 0xDC00:02x}"
            return f"row is not {encoding.upper()} text: {what} in `{column}` at character {at}"
    if row.get("text", "") is None:
        return f"no `text` value: the row has fewer fields than the header's {columns}"
    return None
