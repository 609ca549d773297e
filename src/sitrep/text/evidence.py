"""Locate verbatim quotes in article text with character offsets.

Rules:
- The quote is cleaned first, because models wrap what they quote: surrounding whitespace, quote
  marks (straight, curly, low-9, guillemets, primes, backtick) and a leading or trailing ellipsis
  ("..." or "…") are removed, repeatedly. A quote that is empty after cleaning is not found.
- Exact: the first occurrence of the cleaned quote in the text.
- Normalized, only if there is no exact occurrence: quote and text are compared after folding
  runs of whitespace (newlines, tabs, NBSP ...) to one space, typographic quotes to ' or ",
  dashes to "-", "…" to "...", dropping invisible format characters (soft hyphen, zero-width
  space), Unicode NFKC and casefolding. The first occurrence that covers whole original
  characters is mapped back to the original text: the span runs from the first to the last
  original character matched, so `text[start:end]` is the passage as the article writes it.
- Nothing fuzzier: a passage that differs in any other way is not found, so that fabricated or
  paraphrased quotes are rejected.

`NormalizedText` normalizes an article once so that many quotes can be located in it; the cost
is linear in the article's length.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from sitrep.model.vocab import MatchKind

__all__ = ["NormalizedText", "QuoteSpan", "locate_quote", "normalize"]


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """`text[start:end]` is the quoted passage in the original text."""

    start: int
    end: int
    match: MatchKind


# Written as escapes because they are easy to mistake for ASCII when read.
# Double: curly pair, low-9, high-reversed-9, guillemets, double prime, CJK double primes.
_DOUBLE_QUOTES: Final = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e"
# Single: curly pair, low-9, high-reversed-9, single guillemets, prime.
_SINGLE_QUOTES: Final = "\u2018\u2019\u201a\u201b\u2039\u203a\u2032"
# Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign.
_DASHES: Final = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
# Applied before and after NFKC: NFKC maps some characters onto others in this table
# (e.g. the double prime becomes two primes) and leaves most of them alone.
_PUNCTUATION: Final = MappingProxyType(
    {
        **dict.fromkeys(map(ord, _DOUBLE_QUOTES), '"'),
        **dict.fromkeys(map(ord, _SINGLE_QUOTES), "'"),
        **dict.fromkeys(map(ord, _DASHES), "-"),
        ord("\u2026"): "...",  # horizontal ellipsis
    }
)
_WRAPPERS: Final = "\"'`" + _DOUBLE_QUOTES + _SINGLE_QUOTES
_ELLIPSES: Final = ("...", "…")


def _clean_quote(quote: str) -> str:
    previous = None
    while quote != previous:
        previous = quote
        quote = quote.strip().strip(_WRAPPERS)
        for ellipsis in _ELLIPSES:
            quote = quote.removeprefix(ellipsis).removesuffix(ellipsis)
    return quote


def _is_mark(char: str) -> bool:
    # Combining marks belong to the character before them; the ASCII test is a fast path.
    return char >= "\u0300" and unicodedata.category(char).startswith("M")


def _fold_cluster(cluster: str) -> str:
    folded = unicodedata.normalize("NFKC", cluster.translate(_PUNCTUATION))
    # Casefolding can produce text that is not NFKC-normal (e.g. "İ"), so normalize again.
    folded = unicodedata.normalize("NFKC", folded.casefold()).translate(_PUNCTUATION)
    return "".join(c for c in folded if unicodedata.category(c) != "Cf")


def _normalize_mapped(text: str) -> tuple[str, list[int], list[int]]:
    """The normalized text, and for each of its characters the original span it came from.

    Every character produced from one base character with its combining marks (a cluster)
    maps to that whole cluster; a folded whitespace run maps to the whole run.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cache: dict[str, str] = {}
    size = len(text)
    i = 0
    while i < size:
        j = i + 1
        while j < size and _is_mark(text[j]):
            j += 1
        cluster = text[i:j]
        folded = cache.get(cluster)
        if folded is None:
            folded = cache[cluster] = _fold_cluster(cluster)
        for char in folded:
            if not char.isspace():
                chars.append(char)
                starts.append(i)
                ends.append(j)
            elif chars and chars[-1] == " ":
                ends[-1] = j  # extend the run already folded to one space
            else:
                chars.append(" ")
                starts.append(i)
                ends.append(j)
        i = j
    return "".join(chars), starts, ends


def normalize(text: str) -> str:
    """The form in which quotes and text are compared when there is no exact match."""
    return _normalize_mapped(text)[0]


class NormalizedText:
    """An article normalized at most once, for locating many quotes in it.

    The normalized form is built on the first quote that is not found exactly: most quotes
    are, and normalizing an article costs more than every exact search in it together.
    """

    __slots__ = ("_mapped", "text")

    def __init__(self, text: str) -> None:
        self.text: Final = text
        self._mapped: tuple[str, list[int], list[int]] | None = None

    @property
    def normalized(self) -> str:
        return self._mapping()[0]

    @property
    def _starts(self) -> list[int]:
        return self._mapping()[1]

    @property
    def _ends(self) -> list[int]:
        return self._mapping()[2]

    def _mapping(self) -> tuple[str, list[int], list[int]]:
        if self._mapped is None:
            self._mapped = _normalize_mapped(self.text)
        return self._mapped

    def locate(self, quote: str) -> QuoteSpan | None:
        """Where `quote` is in the text: exact first, then normalized; None if it is not."""
        cleaned = _clean_quote(quote)
        if not cleaned:
            return None
        return _exact(cleaned, self.text) or self._normalized(cleaned)

    def _normalized(self, cleaned: str) -> QuoteSpan | None:
        needle = normalize(cleaned)
        if not needle.strip():
            return None
        found = self.normalized.find(needle)
        while found >= 0:
            last = found + len(needle) - 1
            if self._boundary(found) and self._boundary(last + 1):
                return self._span(self._starts[found], self._ends[last])
            found = self.normalized.find(needle, found + 1)
        return None

    def _boundary(self, index: int) -> bool:
        # A match may not begin or end inside the expansion of one original character,
        # e.g. "i" inside the "fi" that the ligature "ﬁ" becomes.
        starts = self._starts
        return index in (0, len(starts)) or starts[index - 1] != starts[index]

    def _span(self, start: int, end: int) -> QuoteSpan | None:
        text = self.text
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return QuoteSpan(start, end, MatchKind.NORMALIZED) if start < end else None


def _exact(cleaned: str, text: str) -> QuoteSpan | None:
    start = text.find(cleaned)
    return None if start < 0 else QuoteSpan(start, start + len(cleaned), MatchKind.EXACT)


def locate_quote(quote: str, text: str) -> QuoteSpan | None:
    """Where `quote` is in `text`: exact first, then normalized; None if it is not there."""
    cleaned = _clean_quote(quote)
    if not cleaned:
        return None
    # Normalizing the whole article is the expensive part; skip it when the quote is exact.
    return _exact(cleaned, text) or NormalizedText(text)._normalized(cleaned)
