"""Numbers as news text writes them: digits, "2,500", "two", "a thousand", "dozens".

Rules:
- Digits: "3", "2,500", "1,000,000", "2.5", optionally with a scale word ("2.5 million",
  "3 thousand"). Digits glued to letters ("3rd", "1990s", "F16", "10km") or written after a
  letters-and-hyphen prefix ("MQ-9", "COVID-19") are ordinals, decades, units or designations,
  not counts, and yield nothing. Dates and years are numbers like any other.
- Words: zero..nineteen, the tens, hundred, thousand, million, billion, trillion, joined by
  spaces, hyphens or "and" ("one hundred and thirty-seven", "twenty-five hundred"); "a"/"an"
  with hundred, a scale or dozen ("a thousand", "a dozen" 12, "two dozen" 24); "a single" 1;
  "a pair (of)" 2; "both" 2 (it states exactly two). Words are whole words: "someone" has no
  "one". "a"/"an" alone is not a number.
- Zero: "zero", "0", "none", "nobody", "no one", "not one", "not a single" and "no" (but not
  "no longer", "no more" ...) are mentions of 0.
- Ordinals and fractions are not counts: "the second", "tenth", "twenty-first", "one-third",
  "two thirds" yield nothing ("two seconds" is a duration and is kept).
- Vague quantities are approximate mentions valued at a lower bound: "dozens" 24, "scores of" 40,
  "hundreds" 200, "thousands" 2,000, "tens of thousands" 20,000, "hundreds of thousands"
  200,000, "several" 3, "a few" 3, "a handful (of)" 3, "a couple (of)" 2, "half a dozen" 6,
  and with a scale "several hundred" 300, "a few dozen" 36.
- Hedged numbers ("about 2,500", "more than 40", "at least 3", "up to 10") are approximate
  mentions too; the hedge is not part of the span.
- `supports_count(value, text)` is true when the text writes `value` as a number, in digits or
  words, hedged or not. A vague word never supports its nominal value ("dozens" is not 24). A
  count of 0 is also supported by any explicit negation: no, none, zero, not, "n't", cannot,
  never, without, nobody, nothing, neither. A count of 1 needs "one", "1" or "a single".
- Values are int when integral, else float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final, NamedTuple

__all__ = ["NumberMention", "find_numbers", "parse_number", "supports_count"]


@dataclass(frozen=True, slots=True)
class NumberMention:
    """A number expression at `text[start:end]`; approximate if vague or hedged."""

    value: int | float
    start: int
    end: int
    approximate: bool


_TOKEN: Final = re.compile(
    r"(?<![0-9])(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?"
    r"|[^\W\d_]+(?:['\u2019][^\W\d_]+)*"
)
_HYPHENS: Final = frozenset({"-", "\u2010", "\u2011"})

_UNIT_WORDS: Final = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS_WORDS: Final = (
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
)  # fmt: skip
_UNITS: Final = MappingProxyType({word: value for value, word in enumerate(_UNIT_WORDS)})
_TENS: Final = MappingProxyType({word: 20 + 10 * k for k, word in enumerate(_TENS_WORDS)})
_SCALES: Final = MappingProxyType(
    {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
)
_PLURALS: Final = MappingProxyType(
    {
        "tens": 10,
        "dozens": 12,
        "scores": 20,
        "hundreds": 100,
        "thousands": 10**3,
        "millions": 10**6,
        "billions": 10**9,
    }
)
_ORDINAL_ROOTS: Final = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "half", "quarter",
    *(word + "th" for word in _UNIT_WORDS[13:]),
    *(word[:-1] + "ieth" for word in _TENS_WORDS),
    *(word + "th" for word in ("hundred", *_SCALES)),
)  # fmt: skip
_ORDINALS: Final = frozenset((*_ORDINAL_ROOTS, *(w + "s" for w in _ORDINAL_ROOTS), "halves"))
_DURATIONS: Final = frozenset({"second", "seconds"})
# "no" followed by these is not a count of zero: "no longer", "no more than 5".
_NOT_ZERO_AFTER_NO: Final = frozenset({"longer", "more", "less", "fewer", "matter", "doubt"})
_NEGATIONS: Final = frozenset(
    {"no", "none", "zero", "not", "cannot", "never", "without", "nobody", "nothing", "neither"}
)
# Fixed phrases: words -> (value, vague, what may follow). A multiplier takes hundred, dozen or
# a scale ("several hundred"); "done" takes nothing.
_PHRASES: Final = MappingProxyType(
    {
        ("several",): (3, True, "multiplier"),
        ("a", "few"): (3, True, "multiplier"),
        ("a", "couple"): (2, True, "multiplier"),
        ("a", "couple", "of"): (2, True, "done"),
        ("a", "handful"): (3, True, "done"),
        ("a", "handful", "of"): (3, True, "done"),
        ("half", "a", "dozen"): (6, True, "done"),
        ("a", "single"): (1, False, "done"),
        ("a", "pair"): (2, False, "done"),
        ("a", "pair", "of"): (2, False, "done"),
        ("both",): (2, False, "done"),
        ("none",): (0, False, "done"),
        ("nobody",): (0, False, "done"),
        ("no",): (0, False, "done"),
        ("no", "one"): (0, False, "done"),
        ("not", "one"): (0, False, "done"),
        ("not", "a", "single"): (0, False, "done"),
    }
)
_HEDGES: Final = tuple(
    tuple(phrase.split())
    for phrase in (
        "about", "around", "approximately", "roughly", "nearly", "almost", "some", "over",
        "under", "estimated", "more than", "less than", "fewer than", "at least", "at most",
        "up to", "close to", "upwards of", "as many as", "as much as",
    )
)  # fmt: skip


class _Parse(NamedTuple):
    value: Decimal
    end: int  # index of the first token after the expression
    vague: bool = False


class _Head(NamedTuple):
    parse: _Parse
    kind: str  # "digits", "word", "a", "multiplier", or "done": nothing may follow


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


class _Scanner:
    """Number expressions in one text, found by a small grammar over its word tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]

    def word(self, i: int) -> str:
        return self.tokens[i][0] if 0 <= i < len(self.tokens) else ""

    def gap(self, i: int) -> str:
        """The text between token i-1 and token i."""
        return self.text[self.tokens[i - 1][2] : self.tokens[i][1]]

    def joined(self, i: int) -> bool:
        """Token i may continue an expression that ends with token i-1."""
        if not 0 < i < len(self.tokens):
            return False
        gap = self.gap(i)
        return gap in _HYPHENS or (gap != "" and gap.isspace())

    def next_word(self, i: int) -> str:
        return self.word(i) if self.joined(i) else ""

    def is_digits(self, i: int) -> bool:
        return self.word(i)[:1].isdigit()

    def head(self, i: int) -> _Head | None:
        """The first element of an expression; its kind says what may follow it."""
        word, after = self.word(i), self.next_word(i + 1)
        if self.is_digits(i):
            return _Head(_Parse(Decimal(word.replace(",", "")), i + 1), "digits")
        if word in _UNITS or word in _TENS:
            return self.word_head(i, word, after)
        if word in ("a", "an") and (after in ("hundred", "dozen") or after in _SCALES):
            return _Head(_Parse(Decimal(1), i + 1), "a")
        if word in _PLURALS:
            return self.plural_head(i)
        if word == "no" and after in _NOT_ZERO_AFTER_NO:
            return None
        return self.phrase_head(i)

    def word_head(self, i: int, word: str, after: str) -> _Head:
        """'seven', 'twenty', 'twenty-one', 'twenty one'; 'zero' takes nothing after it."""
        if word in _TENS and 1 <= _UNITS.get(after, 0) <= 9:
            return _Head(_Parse(Decimal(_TENS[word] + _UNITS[after]), i + 2), "word")
        value = _UNITS.get(word, _TENS.get(word, 0))
        return _Head(_Parse(Decimal(value), i + 1), "word" if value else "done")

    def phrase_head(self, i: int) -> _Head | None:
        """The longest fixed phrase at token i: 'a couple of', 'not a single', 'both' ..."""
        for length in (3, 2, 1):
            words = (self.word(i), *(self.next_word(i + k) for k in range(1, length)))
            found = _PHRASES.get(words)
            if found is not None:
                value, vague, kind = found
                return _Head(_Parse(Decimal(value), i + length, vague), kind)
        return None

    def plural_head(self, i: int) -> _Head | None:
        """'dozens', 'hundreds of thousands': at least two of the first unit."""
        word = self.word(i)
        unit = _PLURALS[word]
        value, end = Decimal(2 * unit), i + 1
        while self.next_word(end) == "of" and _PLURALS.get(self.next_word(end + 1), 0) > unit:
            unit = _PLURALS[self.word(end + 1)]
            value, end = value * unit, end + 2
        # Bare "tens" and "scores" are rarely quantities ("test scores"); "tens of" is.
        if word in ("tens", "scores") and end == i + 1 and self.next_word(end) != "of":
            return None
        return _Head(_Parse(value, end, vague=True), "done")

    def expression(self, i: int, words_only: bool = False) -> _Parse | None:
        """The longest number expression starting at token i."""
        head = self.head(i)
        if head is None or (words_only and head.kind not in ("word", "a")):
            return None
        if head.kind == "done":
            return head.parse
        value, end, vague = head.parse
        if self.next_word(end) == "dozen":
            return _Parse(value * 12, end + 1, vague)
        if self.next_word(end) == "hundred":
            value, end = value * 100, end + 1
            rest = self.rest(end, 100, small_only=True) if head.kind in ("word", "a") else None
            if rest is not None:
                value, end = value + rest.value, rest.end
        scale = _SCALES.get(self.next_word(end))
        if scale is not None:
            value, end = value * scale, end + 1
            rest = self.rest(end, scale) if head.kind in ("word", "a") else None
            if rest is not None:
                value, end = value + rest.value, rest.end
        return _Parse(value, end, vague)

    def rest(self, i: int, bound: int, small_only: bool = False) -> _Parse | None:
        """What follows a hundred or a scale: optional "and", then a smaller number in words."""
        start = i + 1 if self.next_word(i) == "and" else i
        if not self.joined(start):
            return None
        if small_only:
            head = self.head(start)
            found = head.parse if head is not None and head.kind == "word" else None
        else:
            found = self.expression(start, words_only=True)
        return found if found is not None and 0 < found.value < bound else None

    def ordinal_follows(self, parse: _Parse) -> bool:
        """'twenty-first', 'one-third', 'two thirds', 'one hundred and first'."""
        after = parse.end
        if self.word(parse.end - 1) in ("hundred", *_SCALES) and self.next_word(after) == "and":
            after += 1
        word = self.next_word(after)
        return word in _ORDINALS and (word not in _DURATIONS or self.gap(after) in _HYPHENS)

    def glued(self, i: int) -> bool:
        """Digits that are part of a word: '3rd', '1990s', 'F16', 'MQ-9'."""
        end = self.tokens[i][2]
        if i + 1 < len(self.tokens) and self.tokens[i + 1][1] == end:
            return True
        if i == 0:
            return False
        gap, previous = self.gap(i), self.word(i - 1)
        if gap == "":
            return True
        return gap in _HYPHENS and not self.is_digits(i - 1) and previous not in _UNITS

    def hedged(self, i: int) -> bool:
        for phrase in _HEDGES:
            first = i - len(phrase)
            if first >= 0 and all(
                self.word(first + k) == w and self.joined(first + k + 1)
                for k, w in enumerate(phrase)
            ):
                return True
        return False

    def mentions(self) -> list[tuple[NumberMention, bool]]:
        """Every mention in order, each with whether it is a vague word."""
        found: list[tuple[NumberMention, bool]] = []
        i = 0
        while i < len(self.tokens):
            parse = self.expression(i)
            if parse is None:
                i += 1
                continue
            if not (self.is_digits(i) and self.glued(i)) and not self.ordinal_follows(parse):
                mention = NumberMention(
                    value=_plain(parse.value),
                    start=self.tokens[i][1],
                    end=self.tokens[parse.end - 1][2],
                    approximate=parse.vague or self.hedged(i),
                )
                found.append((mention, parse.vague))
            i = parse.end
        return found

    def negated(self) -> bool:
        return any(w in _NEGATIONS or w.endswith(("n't", "n\u2019t")) for w, _, _ in self.tokens)


def find_numbers(text: str) -> list[NumberMention]:
    """Every number expression in `text`, in order, with offsets into `text`."""
    return [mention for mention, _ in _Scanner(text).mentions()]


def parse_number(text: str) -> int | float | None:
    """The value of `text` if all of it (bar surrounding whitespace) is one number expression."""
    stripped = text.strip()
    found = find_numbers(stripped)
    if len(found) == 1 and found[0].start == 0 and found[0].end == len(stripped):
        return found[0].value
    return None


def supports_lower_bound(value: int, text: str) -> bool:
    """Whether `text` states `value` as a count or as the lower bound of a vague quantity:
    "dozens wounded" supports at least 24, where it supports no exact count."""
    return any(m.value == value for m, _ in _Scanner(text).mentions())


def supports_count(value: int, text: str) -> bool:
    """Whether `text` states the count `value` (see the module docstring for the rules)."""
    scanner = _Scanner(text)
    if value == 0 and scanner.negated():
        return True
    return any(m.value == value and not vague for m, vague in scanner.mentions())
