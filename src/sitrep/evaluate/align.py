"""Which predicted record is which gold record: similarities in [0, 1] and an optimal pairing.

Within one article, gold and predicted records are paired one to one by optimal assignment
(`scipy.optimize.linear_sum_assignment`, maximizing the summed similarity), so that the pairing
is the globally best one, not the one a greedy pass would find. A pair whose similarity is
below the threshold is no match: both records stay unmatched, and count against recall and
precision. Between pairings of equal similarity, the one whose other fields agree most is
taken (the `tie_break` count), then the one with more matches; the records are put in a
canonical order first, so that the result does not depend on the order of the input.

The similarity of a pair averages the components that the gold record states (a component the
gold leaves out is not held against the prediction); a gold record that states none of them is
similar to every prediction (1.0).

Incidents: `event_type` (equal or not), the date (`date_similarity`), the place
(`place_similarity`) and `munitions.weapon` (`token_overlap` of the folded words).
Statistics: `metric` (token overlap), `value` (`value_closeness`), the place and the period.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

from sitrep.evaluate.gold import Partial
from sitrep.evaluate.normalize import place_tokens, text_tokens, token_overlap
from sitrep.model.vocab import DatePrecision

__all__ = [
    "DEFAULT_THRESHOLD",
    "Pair",
    "align",
    "assign",
    "canonical_key",
    "date_similarity",
    "gold_range",
    "incident_similarity",
    "place_similarity",
    "predicted_range",
    "same_place",
    "statistic_similarity",
    "value_closeness",
]

DEFAULT_THRESHOLD: Final = 0.5
# Dates that do not overlap: the date component halves with every this many days between them.
DATE_HALF_LIFE_DAYS: Final = 2.0
# Place names that share no word, in the same country: a weak likeness, not none.
SAME_COUNTRY: Final = 0.25

# The weight of a pair in the assignment orders (similarity, agreeing fields, a match) one
# after the other: the similarity to six decimals, then a count of fields (below 10,000), then
# one for being a match at all. Weights are integers under 2**53, exact in a float matrix.
_SIMILARITY_STEPS: Final = 1_000_000
_AGREEMENT_SLOTS: Final = 10_000

Similarity = Callable[[Partial, Partial], float]
TieBreak = Callable[[Partial, Partial], int]
Pair = tuple[Partial, Partial, float]
"""A gold record, the predicted record matched to it, and their similarity."""


def align(
    gold: Sequence[Partial],
    predicted: Sequence[Partial],
    similarity: Similarity,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    tie_break: TieBreak | None = None,
) -> list[Pair]:
    """The matched pairs of one article's records, in the canonical order of the gold."""
    gold_records = sorted(gold, key=canonical_key)
    predicted_records = sorted(predicted, key=canonical_key)
    similarities = [[similarity(g, p) for p in predicted_records] for g in gold_records]
    weights = [
        [
            _weight(s, tie_break(g, p) if tie_break is not None else 0) if s >= threshold else 0
            for p, s in zip(predicted_records, row, strict=True)
        ]
        for g, row in zip(gold_records, similarities, strict=True)
    ]
    return [(gold_records[i], predicted_records[j], similarities[i][j]) for i, j in assign(weights)]


def assign(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """The (row, column) pairs of the assignment of greatest total weight; a pair of weight 0
    or less is left out, so 0 marks a pair that may not match."""
    if not weights or not weights[0]:
        return []
    import numpy as np  # noqa: PLC0415  (loaded when scoring, not with `import sitrep`)
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415

    matrix = np.asarray(weights, dtype=float)
    rows, columns = linear_sum_assignment(matrix, maximize=True)
    return sorted((int(r), int(c)) for r, c in zip(rows, columns, strict=True) if matrix[r, c] > 0)


def canonical_key(record: Partial) -> str:
    """The record as sorted JSON: the order records are paired in, whatever order they came."""
    return json.dumps(record, sort_keys=True, default=str, ensure_ascii=False)


def incident_similarity(gold: Partial, predicted: Partial) -> float:
    components = [
        _equal(gold, predicted, "event_type"),
        date_similarity(_mapping(gold, "when"), _mapping(predicted, "when")),
        place_similarity(_mapping(gold, "where"), _mapping(predicted, "where")),
        _text(
            _mapping(gold, "munitions").get("weapon"),
            _mapping(predicted, "munitions").get("weapon"),
        ),
    ]
    return _mean(components)


def statistic_similarity(gold: Partial, predicted: Partial) -> float:
    components = [
        _text(gold.get("metric"), predicted.get("metric")),
        value_closeness(gold.get("value"), predicted.get("value")) if "value" in gold else None,
        place_similarity(_mapping(gold, "where"), _mapping(predicted, "where")),
        date_similarity(_mapping(gold, "when"), _mapping(predicted, "when")),
    ]
    return _mean(components)


def value_closeness(gold: object, predicted: object) -> float:
    """1 - |g - p| / max(|g|, |p|), at least 0; 1.0 for two zeros, 0.0 if either is missing."""
    if not _is_number(gold) or not _is_number(predicted):
        return 0.0
    g, p = float(gold), float(predicted)  # type: ignore[arg-type]
    largest = max(abs(g), abs(p))
    if largest == 0:
        return 1.0
    return max(0.0, 1.0 - abs(g - p) / largest)


def date_similarity(gold: Mapping[str, Any], predicted: Mapping[str, Any]) -> float | None:
    """None if the gold states no date; 1.0 if the predicted range overlaps the gold's range
    at the gold's precision (`gold_range`); else halving every `DATE_HALF_LIFE_DAYS` days of
    the gap between the two ranges; 0.0 if the prediction has no date."""
    wanted = gold_range(gold)
    if wanted is None:
        return None
    found = predicted_range(predicted)
    if found is None:
        return 0.0
    gap = max((found[0] - wanted[1]).days, (wanted[0] - found[1]).days, 0)
    return 1.0 if gap == 0 else math.pow(0.5, gap / DATE_HALF_LIFE_DAYS)


def place_similarity(gold: Mapping[str, Any], predicted: Mapping[str, Any]) -> float | None:
    """None if the gold states neither a place name nor a country. With a name: 1.0 if the
    folded names are the same (`same_place`), else the overlap of their words, and at least
    `SAME_COUNTRY` if both give the same country. With a country alone: equal or not."""
    name, country = gold.get("name"), gold.get("country")
    if name is None and country is None:
        return None
    other_name, other_country = predicted.get("name"), predicted.get("country")
    same_country = (
        isinstance(country, str)
        and isinstance(other_country, str)
        and country.casefold() == other_country.casefold()
    )
    if not isinstance(name, str):
        return 1.0 if same_country else 0.0
    if not isinstance(other_name, str):
        names = 0.0
    elif same_place(name, other_name):
        names = 1.0
    else:
        names = token_overlap(place_tokens(name), place_tokens(other_name))
    return max(names, SAME_COUNTRY if same_country else 0.0)


def same_place(a: str, b: str) -> bool:
    """The two names are the same once folded (`normalize.place_tokens`), spaces and hyphens
    between words ignored: "Deir ez-Zor" is "Deir Ezzor", "the Ain al-Assad base" is "Ain Al
    Assad"."""
    return "".join(place_tokens(a)) == "".join(place_tokens(b))


def gold_range(when: Mapping[str, Any]) -> tuple[date, date] | None:
    """The gold's dates widened to whole units of its precision, or None if it states none.

    `start` alone or `end` alone stands for both. Day, days and unknown precision (or none
    stated) keep the range as it is; week widens to Monday-Sunday weeks, month to whole months,
    season to whole meteorological seasons (December-February, March-May, June-August,
    September-November), half-year to January-June or July-December, year to whole years.
    """
    found = predicted_range(when)
    if found is None:
        return None
    start, end = found
    precision = when.get("precision")
    widen = _WIDENERS.get(precision) if isinstance(precision, DatePrecision) else None
    return widen(start, end) if widen is not None else (start, end)


def _weeks(start: date, end: date) -> tuple[date, date]:
    return start - timedelta(days=start.weekday()), end + timedelta(6 - end.weekday())


def _months(start: date, end: date) -> tuple[date, date]:
    return start.replace(day=1), _month_end(end.year, end.month)


def _seasons(start: date, end: date) -> tuple[date, date]:
    return _season(start)[0], _season(end)[1]


def _halves(start: date, end: date) -> tuple[date, date]:
    first, last = (1 if start.month <= 6 else 7), (6 if end.month <= 6 else 12)
    return date(start.year, first, 1), _month_end(end.year, last)


def _years(start: date, end: date) -> tuple[date, date]:
    return date(start.year, 1, 1), date(end.year, 12, 31)


_WIDENERS: Final[Mapping[DatePrecision, Callable[[date, date], tuple[date, date]]]] = {
    DatePrecision.WEEK: _weeks,
    DatePrecision.MONTH: _months,
    DatePrecision.SEASON: _seasons,
    DatePrecision.HALF_YEAR: _halves,
    DatePrecision.YEAR: _years,
}


def predicted_range(when: Mapping[str, Any]) -> tuple[date, date] | None:
    """`start` and `end` as stated (one alone stands for both, in order), or None."""
    start, end = when.get("start"), when.get("end")
    start = start if isinstance(start, date) else None
    end = end if isinstance(end, date) else None
    if start is None and end is None:
        return None
    first, last = start or end, end or start
    if first is None or last is None:  # for the type checker: one of them is a date
        return None
    return (first, last) if first <= last else (last, first)


def _season(day: date) -> tuple[date, date]:
    """The meteorological season holding `day`: its first and last days."""
    since_december = day.month % 12  # December 0, January 1, ... November 11
    first = since_december - since_december % 3
    start_year = day.year - 1 if first == 0 and day.month != 12 else day.year
    start = date(start_year, 12, 1) if first == 0 else date(day.year, first, 1)
    last_month = 2 if first == 0 else first + 2
    return start, _month_end(start_year + 1 if first == 0 else day.year, last_month)


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def _weight(similarity: float, agreement: int) -> float:
    steps = round(similarity * _SIMILARITY_STEPS)
    return float((steps * _AGREEMENT_SLOTS + min(agreement, _AGREEMENT_SLOTS - 1)) * 10 + 1)


def _mean(components: Sequence[float | None]) -> float:
    stated = [c for c in components if c is not None]
    return sum(stated) / len(stated) if stated else 1.0


def _equal(gold: Partial, predicted: Partial, key: str) -> float | None:
    if key not in gold:
        return None
    return 1.0 if predicted.get(key) == gold[key] else 0.0


def _text(gold: object, predicted: object) -> float | None:
    if not isinstance(gold, str):
        return None
    if not isinstance(predicted, str):
        return 0.0
    return token_overlap(text_tokens(gold), text_tokens(predicted))


def _mapping(record: Partial, key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
