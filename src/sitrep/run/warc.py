"""WARC crawls (`.warc`, `.warc.gz`) read one record at a time: each HTML page an article.

Every record becomes one entry, located by the offset of its first byte in the file (for a
`.warc.gz`, the offset of its gzip member, which `warcio extract FILE OFFSET` takes):
- a `response` record of an HTML page (`text/html` or `application/xhtml+xml`) with HTTP
  status 200 is read as a page (`sitrep.run.pages`): its `WARC-Target-URI` is the article's URL
  and its `WARC-Date` the publication date when the page states none;
- any other record is skipped and counted under its kind: "WARC request records", "WARC
  responses of application/pdf", "WARC responses with HTTP status 404" (a redirect or an error
  page is not the article);
- a record that is truncated, whose `Content-Length` does not match its content, or whose body
  cannot be decoded fails with its reason, and the file goes on;
- when the stream itself cannot be read on (a broken gzip member in the middle of the file),
  one last entry fails for everything from that offset on.

warcio reads the records. It was chosen over FastWARC by measurement (benchmarks/extractors.py,
BENCHMARKS.md "Reading"): FastWARC is twice as fast, but both read a page's records in a
twentieth of the time the page takes to reduce, and warcio recovers where FastWARC loses the
rest of the file: after a corrupt record it carries on with the next gzip member, and it tells
exactly how many bytes a truncated record lacks.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from warcio.archiveiterator import WARCIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from sitrep.run.pages import PageJob, charset_param

WARC_SUFFIXES: Final = (".warc", ".warc.gz")
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
# What may go wrong inside one record's body (its chunked or gzip'd transfer) and what ends
# the stream: a gzip member or a header line that cannot be parsed.
_BODY_FAULTS: Final = (OSError, EOFError, ValueError, zlib.error)
# warcio fails with AttributeError on a record cut short inside its header.
_STREAM_FAULTS: Final = (
    ArchiveLoadFailed,
    StatusAndHeadersParserException,
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    AttributeError,
)


@dataclass(frozen=True, slots=True)
class WarcEntry:
    """One record: its page, to be read as an article (`PageJob.article`, in this process or
    a worker), why it is not one (`error`), or the kind it was skipped as."""

    offset: int
    page: PageJob | None = None
    error: str | None = None
    skipped: str | None = None


def read_warc(path: Path) -> Iterator[WarcEntry]:
    """One entry per record of the WARC file at `path`, each HTML page a `PageJob`."""
    return _entries(path, read_pages=True)


def count_warc(path: Path) -> int:
    """How many entries `read_warc` yields for `path`: every record is walked, no page read."""
    return sum(1 for _ in _entries(path, read_pages=False))


def _entries(path: Path, *, read_pages: bool) -> Iterator[WarcEntry]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        yield WarcEntry(0, error=f"cannot read: {exc.strerror}")
        return
    with stream:
        records = WARCIterator(stream)  # WARC only: an ARC file or any other is refused
        end = 0  # where the last record read ends
        while True:
            try:
                with _quiet():  # warcio writes a warning on stderr for a bad Content-Length
                    record = next(records, None)
                if record is None:
                    break
                read = _read(records, record, body=read_pages)
            except _STREAM_FAULTS as exc:
                where = _next_start(stream, end)
                yield WarcEntry(where, error=f"unreadable from here on: {_reason(exc)}")
                return
            end = read.end
            if read.body is None or read.entry is not None:
                yield read.entry or WarcEntry(read.offset)  # counting only: no page is read
            else:
                yield _page(f"{path}:offset {read.offset}", read.offset, record, read.body)
        if (where := _next_start(stream, end)) < path.stat().st_size:
            yield WarcEntry(where, error="unreadable from here on: truncated or not a WARC record")


@dataclass(frozen=True, slots=True)
class _Read:
    offset: int
    end: int
    entry: WarcEntry | None  # a failed or skipped record; None for a page
    body: bytes | None  # a page's body, when it was asked for


def _read(records: Any, record: Any, *, body: bool) -> _Read:
    """One record read to its end: whether it is a page, its body if so, and where it ends."""
    kind = _skipped_kind(record)
    content: bytes | None = None
    fault: str | None = None
    if kind is None and body:
        try:
            content = record.content_stream().read()
        except _BODY_FAULTS as exc:
            fault = f"the HTTP body cannot be decoded: {_reason(exc)}"
    warnings = io.StringIO()
    with contextlib.redirect_stderr(warnings):
        offset: int = records.get_record_offset()  # reads the rest of the record
        end = offset + records.get_record_length()
    if record.rec_type is None:
        fault = "not a WARC record: its header cannot be parsed"
    elif missing := record.raw_stream.limit:
        fault = f"truncated: {missing} bytes short of its Content-Length"
    elif warnings.getvalue():
        fault = "its Content-Length does not match its content (no blank line after it)"
    if fault is not None:
        return _Read(offset, end, WarcEntry(offset, error=fault), None)
    if kind is not None:
        return _Read(offset, end, WarcEntry(offset, skipped=kind), None)
    return _Read(offset, end, None, content)


def _skipped_kind(record: Any) -> str | None:
    """The kind a record is counted as when it is not an HTML page, or None for a page (or
    for a record with no type, which fails)."""
    if record.rec_type is None:
        return "WARC records with no type"
    if record.rec_type != "response":
        return f"WARC {record.rec_type} records"
    http = record.http_headers
    if http is None:
        media = record.rec_headers.get_header("Content-Type") or "no content type"
        return f"WARC responses of {media.split(';')[0].strip()}"
    status = http.get_statuscode()
    if status != "200":
        return f"WARC responses with HTTP status {status}"
    content_type = http.get_header("Content-Type")
    if content_type is None:
        return None  # a page that does not say what it is: read it, as a browser would
    media = content_type.split(";")[0].strip().lower()
    return None if media in _HTML_TYPES else f"WARC responses of {media}"


def _page(location: str, offset: int, record: Any, body: bytes) -> WarcEntry:
    headers = record.rec_headers
    page = PageJob(
        location,
        body,
        declared=charset_param(record.http_headers.get_header("Content-Type")),
        url=headers.get_header("WARC-Target-URI"),
        crawled=_warc_date(headers.get_header("WARC-Date")),
    )
    return WarcEntry(offset, page=page)


def _warc_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        return None


def _next_start(stream: io.BufferedReader, end: int) -> int:
    """Where the record after `end` starts: past the blank lines that close a record."""
    stream.seek(end)
    following = stream.read(64)
    return end + len(following) - len(following.lstrip(b"\r\n"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AttributeError):
        return "a record header cut short"
    return str(exc).strip() or type(exc).__name__


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stderr(io.StringIO()):
        yield
