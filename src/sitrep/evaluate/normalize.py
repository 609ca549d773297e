"""Text folded for comparison: the same name written two ways compares equal.

Folding, in order: Unicode NFKD with the combining marks dropped ("Kirkūk" is "kirkuk"),
casefolding, apostrophes removed inside words ("Sana'a" is "sanaa"), every other character that
is not a letter or digit (hyphens included) read as a space, so "al-Assad", "al Assad" and
"al - Assad" are the same tokens. Then words that carry no identity are dropped: articles
("the", "a", and the Arabic "al"/"el" that transliterations write with or without a hyphen)
everywhere, and, in place names, generic words (base, airport, city, province ...) so that
"Ain al-Assad air base" and "Ain al-Asad" differ only in spelling.

Written here rather than taken from a library: the rules are a few lines of `unicodedata`, and
they must stay exactly what this docstring says for scores to be comparable across versions.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["place_tokens", "text_tokens", "token_overlap", "word_tokens"]

_APOSTROPHES: Final = "'\u2018\u2019\u02bc\u02bb\u02be\u02bf`"
_APOSTROPHE: Final = re.compile(f"(?<=\\w)[{_APOSTROPHES}](?=\\w)")
_NON_WORD: Final = re.compile(r"[\W_]+")
_ARTICLES: Final = frozenset({"the", "a", "an", "al", "el"})
# Words dropped from free text before comparing it: articles and the small connectives.
_STOP_WORDS: Final = _ARTICLES | frozenset({"of", "in", "at", "on", "and", "near", "to"})
# Words that name a kind of place, not which place.
_GENERIC_PLACE_WORDS: Final = frozenset(
    {
        "air",
        "airbase",
        "airfield",
        "airport",
        "area",
        "base",
        "camp",
        "capital",
        "city",
        "district",
        "governorate",
        "international",
        "military",
        "outskirts",
        "province",
        "region",
        "state",
        "town",
        "village",
    }
)


def word_tokens(text: str) -> tuple[str, ...]:
    """Every word of `text`, folded (diacritics, case, apostrophes, punctuation); none dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return tuple(_NON_WORD.sub(" ", _APOSTROPHE.sub("", bare)).split())


def text_tokens(text: str) -> tuple[str, ...]:
    """The folded words of free text (a weapon, a metric, a target), stop words dropped and
    plurals read as singulars ("drones" is "drone"): a trailing "s" is cut from words longer
    than three letters that do not end in "ss"."""
    return tuple(_singular(w) for w in word_tokens(text) if w not in _STOP_WORDS)


def place_tokens(name: str) -> tuple[str, ...]:
    """The folded words of a place name, articles, connectives and generic words dropped; a
    name of nothing but such words ("the base") keeps them, so that it is not empty."""
    words = word_tokens(name)
    kept = tuple(w for w in words if w not in _STOP_WORDS and w not in _GENERIC_PLACE_WORDS)
    return kept or words


def token_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Jaccard similarity of the two token sets, in [0, 1]; 1.0 when both are empty."""
    left, right = set(a), set(b)
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
