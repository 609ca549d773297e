"""Articles: the text sitrep reads, identified by a hash of its content."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sitrep.errors import ArticleError
from sitrep.text.encoding import UndecodableError, decode

# Archives write the publication date as a first line `date YYYY-MM-DD`, sometimes with the
# article's first words after it on the same line.
_DATE_LINE = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})(?=\s|\Z)[ \t]*(?:\r?\n)?")


class Article(BaseModel):
    """One article. `id` is derived from the text, so the same text always has the same id.

    `encoding` says how its bytes were read (Python's codec name: `utf-8`, `utf-16-le`,
    `cp1256`), or is None for an article given as text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    text: str = Field(min_length=1)
    published: date | None = None
    source: str | None = None
    url: str | None = None
    title: str | None = None
    encoding: str | None = None

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        published: date | None = None,
        source: str | None = None,
        url: str | None = None,
        title: str | None = None,
        encoding: str | None = None,
    ) -> Article:
        """Build an article, rejecting text no model should be sent."""
        if "\x00" in text:
            raise ArticleError("article text contains NUL characters: binary data, not text")
        if not text.strip():
            raise ArticleError("article text is empty")
        return cls(
            id=content_id(text),
            text=text,
            published=published,
            source=source,
            url=url,
            title=title,
            encoding=encoding,
        )

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        published: date | None = None,
        source: str | None = None,
        declared: str | None = None,
    ) -> Article:
        """Decode text in any encoding (`sitrep.text.encoding.decode`: a byte-order mark,
        UTF-8, the `declared` charset, detection), honouring a leading `date YYYY-MM-DD` line."""
        try:
            decoded = decode(data, declared=declared)
        except UndecodableError as exc:  # binary data too; the message says which
            raise ArticleError(str(exc)) from exc
        stated, text = split_date_line(decoded.text)
        return cls.from_text(
            text, published=published or stated, source=source, encoding=decoded.encoding
        )

    @classmethod
    def from_file(cls, path: Path, *, published: date | None = None) -> Article:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArticleError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            return cls.from_bytes(data, published=published, source=str(path))
        except ArticleError as exc:
            raise ArticleError(f"{path}: {exc}") from exc


def content_id(text: str) -> str:
    """The article id: the first 16 hex digits of the SHA-256 of its UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def split_date_line(text: str) -> tuple[date | None, str]:
    """Split a leading `date YYYY-MM-DD` line off `text`; return the date and the rest."""
    found = _DATE_LINE.match(text)
    if found is None:
        return None, text
    try:
        published = date.fromisoformat(found.group(1))
    except ValueError as exc:
        raise ArticleError(
            f"the leading date line has an impossible date: {found.group(1)}"
        ) from exc
    return published, text[found.end() :]
