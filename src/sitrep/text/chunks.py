"""Long texts split into overlapping chunks that each fit one request. Pure functions.

    split_text(text, max_chars, overlap) → [Chunk(number, count, start, end), ...]

Rules:
- A text of at most `max_chars` characters is one chunk: the whole text.
- Otherwise each chunk holds at most `max_chars` characters and ends at the best boundary in the
  second half of that reach: the last paragraph break (a blank line), else the last line break,
  else the last sentence end (., !, ?, … and the full stops of Chinese, Japanese, Arabic and
  Devanagari script, closing quotes and brackets included), else the last whitespace. Only a
  stretch with no whitespace at all (a script written without spaces and with no sentence mark,
  a dump of one token) is cut at exactly `max_chars`, never inside a character's combining marks.
- The next chunk starts at most `overlap` characters before that end and at least half that
  many, at the earliest boundary of the best kind there (the same kinds, best first), so a
  passage shorter than half the overlap that one chunk's end cuts is whole in the next. With no
  whitespace in that stretch it starts exactly `overlap` characters back.
- `overlap` is capped at a quarter of `max_chars`, so each chunk reads mostly new text and only
  neighbouring chunks share any text.

The chunks cover the text: the first starts at 0, the last ends at `len(text)`, each starts
after the one before it starts and before it ends. Offsets count characters (code points) of
`text`: `text[chunk.start:chunk.end]` is the chunk, and `ChunkText` locates quotes in a chunk
with offsets into the whole text.

Sentence ends are found by punctuation, so an abbreviation ("U.S. forces") can pass for one; a
chunk that ends there still ends between two words, and the overlap carries the sentence on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from sitrep.text.evidence import NormalizedText, QuoteSpan

__all__ = ["Chunk", "ChunkText", "split_text"]

# Written here rather than taken from a text-splitting library: semantic-text-splitter makes
# its overlap of whole units of the level it split at, so paragraphs longer than the overlap
# leave neighbouring chunks sharing nothing, and semchunk cuts text written without spaces in
# mid-sentence. A boundary with no overlap can cut an incident's report in two.
_CLOSERS: Final = "\"')\\]\u00bb\u201d\u2019\u300d\u300f\uff09"
# Best first. Each boundary is where a pattern's match ends: the start of the next text.
_BOUNDARIES: Final = (
    re.compile(r"\n[^\S\n]*\n\s*"),  # a blank line: a paragraph break
    re.compile(r"\n\s*"),  # a line break
    re.compile(
        rf"[.!?\u2026\u061f\u06d4\u0964]+[{_CLOSERS}]*\s+"  # Latin, Arabic, Devanagari
        rf"|[\u3002\uff01\uff1f]+[{_CLOSERS}]*\s*"  # Chinese and Japanese need no space after
    ),
    re.compile(r"\s+"),
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Chunk `number` of `count` (from 1): `text[start:end]` of the text it was split from."""

    number: int
    count: int
    start: int
    end: int

    @property
    def label(self) -> str:
        """How the chunk is named to people: "chunk 3 of 5 (characters 80,000-120,000)"."""
        return f"chunk {self.number} of {self.count} (characters {self.start:,}-{self.end:,})"

    def __len__(self) -> int:
        return self.end - self.start


def split_text(text: str, max_chars: int, overlap: int = 0) -> list[Chunk]:
    """`text` in chunks of at most `max_chars` characters, neighbours sharing up to `overlap`
    characters (capped at a quarter of `max_chars`); see the module's rules."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, not {max_chars}")
    if overlap < 0:
        raise ValueError(f"overlap cannot be negative, not {overlap}")
    overlap = min(overlap, max_chars // 4)
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > max_chars:
        end = _end(text, start, max_chars)
        spans.append((start, end))
        start = _next_start(text, end, overlap)
    spans.append((start, len(text)))
    return [Chunk(n, len(spans), s, e) for n, (s, e) in enumerate(spans, start=1)]


def _end(text: str, start: int, max_chars: int) -> int:
    """The best boundary after the first half of `max_chars` from `start`, the last of its kind."""
    low, high = start + max_chars // 2, start + max_chars
    for pattern in _BOUNDARIES:
        ends = [found.end() for found in pattern.finditer(text, low, high)]
        if ends:
            return ends[-1]
    return _off_marks(text, high, low + 1)


def _next_start(text: str, end: int, overlap: int) -> int:
    """The earliest best boundary between `overlap` and half of it before `end`."""
    if overlap == 0:
        return end
    low, high = end - overlap, end - overlap // 2
    for pattern in _BOUNDARIES:
        for found in pattern.finditer(text, low, high):
            if low < found.end() <= high:
                return found.end()
    return _off_marks(text, low, high)


def _off_marks(text: str, cut: int, bound: int) -> int:
    """`cut` moved towards `bound` (never past it) off any combining mark, so that marks stay
    with the letter they mark."""
    step = 1 if bound > cut else -1
    while cut != bound and unicodedata.category(text[cut]).startswith("M"):
        cut += step
    return cut


class ChunkText:
    """One chunk of a text, for locating quotes in it with offsets into the whole text.

    Quotes are located as `sitrep.text.evidence` locates them, in the chunk alone: a passage the
    model was not shown is not found, even where the rest of the text holds it.
    """

    __slots__ = ("_located", "_offset")

    def __init__(self, text: str, chunk: Chunk) -> None:
        self._located = NormalizedText(text[chunk.start : chunk.end])
        self._offset = chunk.start

    def locate(self, quote: str) -> QuoteSpan | None:
        """Where `quote` is in the chunk, in offsets of the whole text; None if it is not."""
        span = self._located.locate(quote)
        if span is None:
            return None
        return QuoteSpan(span.start + self._offset, span.end + self._offset, span.match)
