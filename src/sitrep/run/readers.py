"""Archives in, articles out, one at a time: the whole archive is never held in memory.

An archive is any mix of
- directories, searched recursively in name order;
- text files (`.txt`, `.md`: a first line `date YYYY-MM-DD` gives the publication date) and
  saved pages (`.html`, `.htm`), in any encoding (`sitrep.text.encoding.decode`; a page's own
  `<meta charset>` is taken as its declaration);
- JSON Lines files (`.jsonl`), one object per line, UTF-8 as JSON is (RFC 8259): a UTF-8
  byte-order mark is tolerated, and a UTF-16 or UTF-32 one honoured;
- CSV files (`.csv`) with a header row, in the encoding a leading sample shows, the delimiter
  (comma, tab, semicolon or bar) told from the header (`sitrep.run.streams` reads both);
- WARC crawls (`.warc`, `.warc.gz`), one input per record (`sitrep.run.warc`);
- any of these gzipped (`x.txt.gz`, `x.jsonl.gz`); a `.gz` whose name names no type is read
  for what its first bytes show (`_gzip_format`).
Rows and objects use the keys `text` (required), `published`, `source`, `url`, `title`, `id`.

Every input yields exactly one `InputItem`: an article, the reason it cannot be one, or the
kind of input sitrep does not read (`InputItem.skip`), with its location (`path`, `path:line
7`, `path:row 3`, `path:offset 12345`), so nothing is ever passed over in silence. In a
directory, a file of a type sitrep does not read is counted by its suffix (".pdf files");
hidden files and directories (`.DS_Store`, `.git/`: a system's or a tool's, never an archive's)
and editor backups (`notes.txt~`, a stale copy of a file read beside it) are counted, and never
read or searched; a linked directory is counted, not followed (a link can loop: name it to read
it). A file named directly is read even if hidden, and fails if sitrep does not read its type:
it was asked for. A web page, as a file or as the HTML text of a row, is reduced to its article
(`sitrep.run.pages`): its main text and the metadata it gives (title, publication date,
canonical URL, site), which a row's own fields override.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sitrep.errors import ArticleError
from sitrep.model.article import Article, split_date_line
from sitrep.run.pages import PageJob
from sitrep.run.parallel import ordered_map
from sitrep.run.streams import (
    SAMPLE_BYTES,
    STREAM_ERRORS,
    csv_rows,
    jsonl_lines,
    open_binary,
    sniff_delimiter,
    unreadable,
)
from sitrep.run.warc import WARC_SUFFIXES, count_warc, read_warc
from sitrep.text.encoding import UndecodableError, sniff

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
_LOOKS_LIKE_HTML = re.compile(r"\A\s*(?:<!doctype html|<html\b|<(?:body|article|p|div)\b)", re.I)


@dataclass(frozen=True, slots=True)
class InputItem:
    """One input: an article, why it could not be read as one, or what kind of input it is
    that sitrep does not read (`skipped`: a file type, a WARC record type), to be counted."""

    location: str
    article: Article | None = None
    error: str | None = None
    skipped: str | None = None

    @classmethod
    def skip(cls, location: str, kind: str) -> InputItem:
        """An input sitrep does not read by design, counted under `kind` (".pdf files")."""
        return cls(location, skipped=kind)

    @classmethod
    def from_article(cls, article: Article) -> InputItem:
        """An article given directly, located by its source, URL or id."""
        return cls(article.source or article.url or f"article {article.id}", article=article)

    @property
    def id(self) -> str:
        """The article's id; an unreadable input is keyed by its location instead."""
        if self.article is not None:
            return self.article.id
        return "input-" + hashlib.sha256(self.location.encode()).hexdigest()[:16]


def most_first(kinds: Mapping[str, int]) -> dict[str, int]:
    """Counts of inputs not read by kind, the most first, then by name (as the ledger sorts)."""
    return dict(sorted(kinds.items(), key=lambda kind: (-kind[1], kind[0])))


def read_archives(paths: Iterable[Path], *, workers: int = 1) -> Generator[InputItem, None, None]:
    """Every input of the archives at `paths`, in order. Web pages are reduced to their
    article in `workers` processes (`sitrep.run.parallel`; 1: in this one), a few ahead of
    the input being yielded; the items are the same, in the same order, for any number.
    Closing the generator stops the workers."""
    return ordered_map(
        _entries(paths), _read_page, job_type=PageJob, failed=_page_failed, workers=workers
    )


# What `read_archives` yields, before the pages among it are read.
_Entry = InputItem | PageJob


def _entries(paths: Iterable[Path]) -> Iterator[_Entry]:
    for path in paths:
        if path.is_dir():
            for entry in _walk(path):
                yield from (entry,) if isinstance(entry, InputItem) else _read_file(entry)
        elif not path.exists():
            yield InputItem(str(path), error="no such file or directory")
        else:
            yield from _read_file(path)


def _read_page(page: PageJob) -> InputItem:
    """A web page as its article, or the reason it is none; run in a worker process too."""
    try:
        return InputItem(page.location, article=page.article())
    except (ArticleError, ValueError) as exc:
        return InputItem(page.location, error=str(exc))


def _page_failed(page: PageJob, exc: Exception) -> InputItem:
    """A page whose reading raised what no page should (a fault in the HTML libraries), or
    whose worker process died: that page fails, and the run goes on."""
    return InputItem(
        page.location, error=f"the page could not be read: {exc or type(exc).__name__}"
    )


def count_inputs(paths: Iterable[Path]) -> int:
    """How many inputs `read_archives` will yield (skipped ones too), without parsing articles."""
    total = 0
    for path in paths:
        if path.is_dir():
            for entry in _walk(path):
                total += 1 if isinstance(entry, InputItem) else _count_file(entry)
        elif not path.exists():
            total += 1
        else:
            total += _count_file(path)
    return total


def _walk(directory: Path) -> Iterator[Path | InputItem]:
    """The files under `directory` to read, in name order, and an item for each entry that is
    not read (module docstring) or cannot be listed."""
    unlisted: list[OSError] = []
    for root, dirs, files in os.walk(directory, onerror=unlisted.append):
        yield from _unlisted(unlisted, root)
        here = Path(root)
        searched = []
        for name in sorted(dirs):
            if name.startswith("."):
                yield InputItem.skip(str(here / name), "hidden directories (not searched)")
            elif (here / name).is_symlink():
                yield InputItem.skip(str(here / name), "linked directories (not followed)")
            else:
                searched.append(name)
        dirs[:] = searched
        for name in sorted(files):
            if (kind := _not_read(name)) is not None:
                yield InputItem.skip(str(here / name), kind)
            else:
                yield here / name
    yield from _unlisted(unlisted, str(directory))


def _unlisted(errors: list[OSError], root: str) -> Iterator[InputItem]:
    for exc in errors:
        yield InputItem(exc.filename or root, error=f"cannot list directory: {exc.strerror}")
    errors.clear()


def _not_read(name: str) -> str | None:
    """The kind a file of this name in a directory is counted as, or None to read it."""
    if name.startswith("."):
        return "hidden files"
    if name.endswith("~"):
        return "editor backups (ending in ~)"
    if _format_of(name) is not None:
        return None
    suffix = Path(name).suffix.lower()
    return f"{suffix} files" if suffix else "files with no suffix"


def _read_file(path: Path) -> Iterator[_Entry]:
    found = _format_of(path.name)
    if found is None:
        suffix = path.suffix.lower() or "no suffix"
        yield InputItem(str(path), error=f"unsupported file type: {suffix} ({_SUPPORTED})")
    else:
        yield from found.read(path)


def _count_file(path: Path) -> int:
    found = _format_of(path.name)
    return 1 if found is None else found.count(path)


def _read_text_file(path: Path) -> Iterator[_Entry]:
    location = str(path)
    try:
        with open_binary(path) as stream:
            data = stream.read()
    except STREAM_ERRORS as exc:
        yield InputItem(location, error=unreadable(exc))
        return
    if path.name.lower().removesuffix(".gz").endswith(HTML_SUFFIXES) or _looks_like_html(data):
        # A leading `date YYYY-MM-DD` line (an archive's own) may come before the page.
        yield PageJob(location, data, date_line=True)
        return
    try:
        yield InputItem(location, article=Article.from_bytes(data, source=location))
    except ArticleError as exc:
        yield InputItem(location, error=str(exc))


def _read_warc(path: Path) -> Iterator[_Entry]:
    for entry in read_warc(path):
        location = f"{path}:offset {entry.offset}"
        if entry.page is not None:
            yield entry.page
        elif entry.skipped is not None:
            yield InputItem.skip(location, entry.skipped)
        else:
            yield InputItem(location, error=entry.error)


def _looks_like_html(data: bytes) -> bool:
    return _LOOKS_LIKE_HTML.match(data[:1024].decode("latin-1")) is not None


def _read_jsonl(path: Path) -> Iterator[_Entry]:
    for entry in jsonl_lines(path):
        if entry.problem is not None:
            yield InputItem(entry.location, error=entry.problem)
            continue
        try:
            fields = json.loads(entry.value)
        except ValueError as exc:
            yield InputItem(entry.location, error=f"not valid JSON: {exc}")
            continue
        if not isinstance(fields, dict):
            yield InputItem(entry.location, error="not a JSON object")
            continue
        yield _from_fields(entry.location, fields, encoding=entry.encoding)


def _count_lines(path: Path) -> int:
    return sum(1 for _ in jsonl_lines(path))


def _read_csv(path: Path) -> Iterator[_Entry]:
    for entry in csv_rows(path):
        if entry.problem is not None:
            yield InputItem(entry.location, error=entry.problem)
        else:
            yield _from_fields(entry.location, entry.value, encoding=entry.encoding, noun="column")


def _count_rows(path: Path) -> int:
    return sum(1 for _ in csv_rows(path))


def _from_fields(
    location: str,
    fields: Mapping[str, Any],
    *,
    published: date | None = None,
    encoding: str | None = None,
    noun: str = "key",
) -> _Entry:
    """A row's or object's input: its article, or its page to read, or why it is neither."""
    if (problem := _text_problem(fields, noun)) is not None:
        return InputItem(location, error=problem)
    text: str = fields["text"]
    given_id = _optional(fields.get("id"))
    try:
        stated, text = split_date_line(text)
        published = _date(fields.get("published")) or published or stated
        source, url, title = (_optional(fields.get(key)) for key in ("source", "url", "title"))
        if _LOOKS_LIKE_HTML.match(text):
            return PageJob(
                location,
                text,
                published=published,
                source=source,
                url=url,
                title=title,
                encoding=encoding,
                article_id=given_id,
            )
        article = Article.from_text(
            text,
            published=published,
            source=source or location,
            url=url,
            title=title,
            encoding=encoding,
        )
    except (ArticleError, ValueError) as exc:
        return InputItem(location, error=str(exc))
    if given_id is not None:
        article = article.model_copy(update={"id": given_id})
    return InputItem(location, article=article)


# Names an archive gives its article text under, looked for when there is no `text`.
_TEXT_LIKE = ("body", "content", "article", "article_text", "full_text", "fulltext", "maintext")
_TYPE_NAMES = ((bool, "a boolean"), (int, "a number"), (float, "a number"), (list, "a list"))
_KEYS_SHOWN = 12


def _text_problem(fields: Mapping[str, Any], noun: str) -> str | None:
    """Why `fields` give no article text, precisely, or None when they give one."""
    if "text" not in fields:
        names = [str(name) for name in fields]
        shown = ", ".join(names[:_KEYS_SHOWN])
        if len(names) > _KEYS_SHOWN:
            shown += f", and {len(names) - _KEYS_SHOWN} more"
        present = f"{noun}s present: {shown}" if names else f"no {noun}s at all"
        return f"no `text` {noun} ({present})" + _hint(fields)
    value = fields["text"]
    if value is None:
        return "`text` is null" + _hint(fields)
    if not isinstance(value, str):
        kind = next((name for cls, name in _TYPE_NAMES if isinstance(value, cls)), "an object")
        return f"`text` is {kind}, not a string"
    if not value:
        return "`text` is empty" + _hint(fields)
    if not value.strip():
        return "`text` is only whitespace" + _hint(fields)
    return None


def _hint(fields: Mapping[str, Any]) -> str:
    """Where the text may be instead: a `Text` key, or a key archives often use for it."""
    for name in fields:
        if isinstance(name, str) and name != "text" and name.lower() == "text":
            return f"; names are case-sensitive: rename `{name}` to `text`"
    for name, value in fields.items():
        text_like = isinstance(name, str) and name.lower() in _TEXT_LIKE
        if text_like and isinstance(value, str) and value.strip():
            return f"; if `{name}` holds the article, rename it to `text`"
    return ""


def _date(value: object) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            raise ValueError(f"published is not an ISO date: {value!r}") from None
    raise ValueError(f"published is not an ISO date: {value!r}")


def _optional(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


@dataclass(frozen=True, slots=True)
class _Format:
    """A file type: the name endings that say it, how to read it, how to count its inputs."""

    suffixes: tuple[str, ...]
    read: Callable[[Path], Iterator[_Entry]]
    count: Callable[[Path], int]


def _one(_path: Path) -> int:
    return 1


def _gzip_format(path: Path) -> _Format | InputItem:
    """What a `.gz` of no known type holds, told from its first 64 KiB decompressed: JSON
    Lines if its first character other than space is `{`, CSV if its first line is a header
    with a `text` column, text otherwise (HTML if it looks like a page). Binary data is
    failed here, never decompressed whole."""
    try:
        with gzip.open(path, "rb") as stream:
            sample = stream.read(SAMPLE_BYTES)
        found = sniff(sample, complete=len(sample) < SAMPLE_BYTES)
    except STREAM_ERRORS as exc:
        return InputItem(str(path), error=unreadable(exc))
    except UndecodableError as exc:
        return InputItem(str(path), error=f"not text once decompressed: {exc}")
    head = sample[found.mark :].decode(found.encoding, "replace")
    if head.lstrip().startswith("{"):
        return _JSONL
    first_line = head.lstrip().split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([first_line], delimiter=sniff_delimiter(first_line)), [])
    if "text" in (field.strip().lower() for field in header):
        return _CSV
    return _TEXT


def _read_gzip(path: Path) -> Iterator[_Entry]:
    found = _gzip_format(path)
    yield from (found,) if isinstance(found, InputItem) else found.read(path)


def _count_gzip(path: Path) -> int:
    found = _gzip_format(path)
    return 1 if isinstance(found, InputItem) else found.count(path)


def _and_gzipped(suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return suffixes + tuple(suffix + ".gz" for suffix in suffixes)


_WARC = _Format(WARC_SUFFIXES, _read_warc, count_warc)
_JSONL = _Format(JSONL_SUFFIXES, _read_jsonl, _count_lines)
_CSV = _Format(CSV_SUFFIXES, _read_csv, _count_rows)
_TEXT = _Format(_and_gzipped(TEXT_SUFFIXES + HTML_SUFFIXES), _read_text_file, _one)
# The first whose suffix ends the name reads the file; a `.gz` of no type listed before its
# row is read for what it holds.
_FORMATS = (_WARC, _JSONL, _CSV, _TEXT, _Format((".gz",), _read_gzip, _count_gzip))
_SUPPORTED = "sitrep reads {}, each also gzipped".format(
    ", ".join(s for f in _FORMATS for s in f.suffixes if not s.endswith(".gz"))
)


def _format_of(name: str) -> _Format | None:
    lowered = name.lower()
    return next((f for f in _FORMATS if lowered.endswith(f.suffixes)), None)
