"""Archives in, articles out, one at a time: the whole archive is never held in memory.

An archive is any mix of
- directories, searched recursively in name order, of `.txt` and `.md` files (a first line
  `date YYYY-MM-DD` gives the publication date) and `.html`/`.htm` files (saved web pages);
- JSON Lines files (`.jsonl`, `.jsonl.gz`), one object per line;
- CSV files (`.csv`, `.csv.gz`) with a header row;
- WARC crawls (`.warc`, `.warc.gz`), one input per record (`sitrep.run.warc`).
Rows and objects use the keys `text` (required), `published`, `source`, `url`, `title`, `id`.

Every input yields exactly one `InputItem`: an article, the reason it cannot be one, or the
kind it was skipped as, with its location (`path`, `path:line 7`, `path:row 3`,
`path:offset 12345`), so nothing read is ever lost. A web page, as a file or as the HTML text
of a row, is reduced to its article (`sitrep.run.pages`): its main text and the metadata it
gives (title, publication date, canonical URL, site), which a row's own fields override.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sitrep.errors import ArticleError
from sitrep.model.article import Article, split_date_line
from sitrep.run import pages
from sitrep.run.warc import WARC_SUFFIXES, count_warc, read_warc

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
_ARTICLE_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES + CSV_SUFFIXES + WARC_SUFFIXES
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


def read_archives(paths: Iterable[Path]) -> Iterator[InputItem]:
    for path in paths:
        if path.is_dir():
            yield from _read_directory(path)
        elif not path.exists():
            yield InputItem(str(path), error="no such file or directory")
        else:
            yield from _read_file(path)


def _read_directory(directory: Path) -> Iterator[InputItem]:
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(_ARTICLE_SUFFIXES):
                yield from _read_file(Path(root) / name)


def _read_file(path: Path) -> Iterator[InputItem]:
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        yield from _read_jsonl(path)
    elif name.endswith(CSV_SUFFIXES):
        yield from _read_csv(path)
    elif name.endswith(WARC_SUFFIXES):
        yield from _read_warc(path)
    elif name.endswith(HTML_SUFFIXES):
        yield _read_html_file(path)
    elif name.endswith(TEXT_SUFFIXES):
        yield _read_text_file(path)
    else:
        yield InputItem(str(path), error=f"unsupported file type: {path.suffix or 'no suffix'}")


def _read_text_file(path: Path) -> InputItem:
    location = str(path)
    try:
        article = Article.from_bytes(path.read_bytes(), source=location)
    except OSError as exc:
        return InputItem(location, error=f"cannot read: {exc.strerror}")
    except ArticleError as exc:
        return InputItem(location, error=str(exc))
    if _LOOKS_LIKE_HTML.match(article.text):
        return _from_fields(location, {"text": article.text}, published=article.published)
    return InputItem(location, article=article)


def _read_html_file(path: Path) -> InputItem:
    """A saved web page: its bytes decoded by the charset it declares, a leading
    `date YYYY-MM-DD` line (an archive's own) first."""
    location = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return InputItem(location, error=f"cannot read: {exc.strerror}")
    try:
        stated, html = split_date_line(pages.decode_page(data))
        article = pages.page_article(pages.read_page(html), location=location, published=stated)
    except (ArticleError, ValueError) as exc:
        return InputItem(location, error=str(exc))
    return InputItem(location, article=article)


def _read_warc(path: Path) -> Iterator[InputItem]:
    for entry in read_warc(path):
        location = f"{path}:offset {entry.offset}"
        if entry.skipped is not None:
            yield InputItem.skip(location, entry.skipped)
        else:
            yield InputItem(location, article=entry.article, error=entry.error)


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _lines(stream: io.BufferedIOBase) -> Iterator[bytes]:
    """Raw lines, a leading byte-order mark (as Excel writes) dropped."""
    first = True
    for raw in stream:
        yield raw.removeprefix(codecs.BOM_UTF8) if first else raw
        first = False


# Lines are decoded one at a time, so a bad byte fails its own line, not its neighbours.
_UNREADABLE = (OSError, EOFError, zlib.error)


def _read_jsonl(path: Path) -> Iterator[InputItem]:
    try:
        stream = _open_binary(path)
    except OSError as exc:
        yield InputItem(str(path), error=f"cannot read: {exc.strerror}")
        return
    number = 0
    with stream:
        try:
            for raw in _lines(stream):
                number += 1
                location = f"{path}:line {number}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield InputItem(location, error=_not_utf8(raw, exc))
                    continue
                if not line.strip():
                    continue
                try:
                    fields = json.loads(line)
                except ValueError as exc:
                    yield InputItem(location, error=f"not valid JSON: {exc}")
                    continue
                if not isinstance(fields, dict):
                    yield InputItem(location, error="not a JSON object")
                    continue
                yield _from_fields(location, fields)
        except _UNREADABLE as exc:
            yield InputItem(f"{path}:line {number + 1}", error=f"unreadable from here on: {exc}")


def _read_csv(path: Path) -> Iterator[InputItem]:
    try:
        stream = _open_binary(path)
    except OSError as exc:
        yield InputItem(str(path), error=f"cannot read: {exc.strerror}")
        return
    number = 0
    with stream:
        # surrogateescape keeps a bad byte in its row, where it is reported, instead of
        # failing the decoder for every row after it.
        text = (raw.decode("utf-8", "surrogateescape") for raw in _lines(stream))
        try:
            for row in csv.DictReader(text):
                number += 1
                location = f"{path}:row {number}"
                if any(_undecodable(v) for v in row.values() if isinstance(v, str)):
                    yield InputItem(location, error="row is not UTF-8 text")
                    continue
                yield _from_fields(location, row)
        except (*_UNREADABLE, csv.Error) as exc:
            yield InputItem(f"{path}:row {number + 1}", error=f"unreadable from here on: {exc}")


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"


def _undecodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _from_fields(
    location: str, fields: Mapping[str, Any], *, published: date | None = None
) -> InputItem:
    text = fields.get("text")
    if not isinstance(text, str) or not text.strip():
        return InputItem(location, error="no text")
    try:
        stated, text = split_date_line(text)
        published = _date(fields.get("published")) or published or stated
        source, url, title = (_optional(fields.get(key)) for key in ("source", "url", "title"))
        if _LOOKS_LIKE_HTML.match(text):
            article = pages.page_article(
                pages.read_page(text, url=url),
                location=location,
                published=published,
                source=source,
                url=url,
                title=title,
            )
        else:
            article = Article.from_text(
                text, published=published, source=source or location, url=url, title=title
            )
    except (ArticleError, ValueError) as exc:
        return InputItem(location, error=str(exc))
    given_id = _optional(fields.get("id"))
    if given_id is not None:
        article = article.model_copy(update={"id": given_id})
    return InputItem(location, article=article)


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


def count_inputs(paths: Iterable[Path]) -> int:
    """How many inputs `read_archives` will yield, counted without parsing articles."""
    total = 0
    for path in paths:
        if path.is_dir():
            for root, _dirs, files in os.walk(path):
                for name in files:
                    if not name.lower().endswith(_ARTICLE_SUFFIXES):
                        continue
                    total += (
                        count_inputs([Path(root) / name])
                        if name.lower().endswith(JSONL_SUFFIXES + CSV_SUFFIXES + WARC_SUFFIXES)
                        else 1
                    )
        elif path.name.lower().endswith(JSONL_SUFFIXES):
            total += _count_lines(path)
        elif path.name.lower().endswith(CSV_SUFFIXES):
            total += _count_rows(path)
        elif path.name.lower().endswith(WARC_SUFFIXES):
            total += count_warc(path)
        else:
            total += 1
    return total


def _count_lines(path: Path) -> int:
    try:
        with _open_binary(path) as stream:
            return sum(1 for raw in stream if raw.strip())
    except _UNREADABLE:
        return 1  # read_archives reports it as one unreadable input


def _count_rows(path: Path) -> int:
    try:
        with _open_binary(path) as stream:
            text = (raw.decode("utf-8", "surrogateescape") for raw in _lines(stream))
            return max(sum(1 for row in csv.reader(text) if row) - 1, 0)
    except (*_UNREADABLE, csv.Error):
        return 1
