"""When two mentions describe the same event, and which criteria say so.

ACLED's rule: one event is one event type, actor, place and date; a difference in any makes a
separate event. The tolerances follow xSub's de-duplication: dates that overlap once each is
widened by its precision and a window of days, place names equal after normalization up to a
fuzzy score (rapidfuzz), the same kind of weapon, munition counts of the same order.
`compare` returns the criteria that joined the pair, in words, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from rapidfuzz import fuzz

from sitrep.merge.mentions import Mention, fold

DEFAULT_WINDOW = 1
# Least rapidfuzz score (0-100) at which two normalized place names are one place.
DEFAULT_PLACE_SCORE = 85.0

# Times of day in order; neighbours (evening and night) may be one event told two ways.
_TIMES = ("early morning", "morning", "midday", "afternoon", "evening", "night")


@dataclass(frozen=True, slots=True)
class Tolerances:
    window: int = DEFAULT_WINDOW  # days either side of each date range
    place_score: float = DEFAULT_PLACE_SCORE


def widened(mention: Mention, window: int) -> tuple[date, date] | None:
    """The days a mention may fall on: its date range, `window` days wider either side."""
    if mention.start is None:
        return None
    end = mention.end or mention.start
    return mention.start - timedelta(days=window), end + timedelta(days=window)


def place_score(a: Mention, b: Mention) -> float:
    if not a.place_key or not b.place_key:
        return 0.0
    if a.place_key == b.place_key:
        return 100.0
    # token_sort_ratio: word order does not matter ("Asad Ain" is rare, "base Ain al-Asad" is not).
    return float(fuzz.token_sort_ratio(a.place_key, b.place_key))


# A check says whether a pair passes it, and in which words (None: nothing worth saying).
_Verdict = tuple[bool, str | None]


def compare(a: Mention, b: Mention, tolerances: Tolerances) -> list[str] | None:
    """The criteria by which `b` joins `a`'s event, or None when any criterion fails."""
    criteria = []
    for check in _CHECKS:
        passed, criterion = check(a, b, tolerances)
        if not passed:
            return None
        if criterion is not None:
            criteria.append(criterion)
    return criteria


def _kind(a: Mention, b: Mention, _: Tolerances) -> _Verdict:
    same = a.event_type == b.event_type and a.sub_event_type == b.sub_event_type
    return same, f"event type {a.event_type} / {a.sub_event_type}"


def _country(a: Mention, b: Mention, _: Tolerances) -> _Verdict:
    return a.country is not None and a.country == b.country, f"country {a.country}"


def _date(a: Mention, b: Mention, tolerances: Tolerances) -> _Verdict:
    words = _dates(a, b, tolerances.window)
    return words is not None, words


def _time(a: Mention, b: Mention, _: Tolerances) -> _Verdict:
    if not (a.time_of_day and b.time_of_day):
        return True, None
    return _times_agree(
        a.time_of_day, b.time_of_day
    ), f"time of day {a.time_of_day} ~ {b.time_of_day}"


def _place(a: Mention, b: Mention, tolerances: Tolerances) -> _Verdict:
    score = place_score(a, b)
    return score >= tolerances.place_score, f"place {b.place!r} ~ {a.place!r} ({score:.0f})"


def _weapon(a: Mention, b: Mention, _: Tolerances) -> _Verdict:
    if not (a.weapon_kind and b.weapon_kind):
        return True, None
    return a.weapon_kind == b.weapon_kind, f"weapon {a.weapon_kind}"


def _actor(a: Mention, b: Mention, tolerances: Tolerances) -> _Verdict:
    if not (a.perpetrator and b.perpetrator):
        return True, None
    score = fuzz.token_set_ratio(fold(a.perpetrator), fold(b.perpetrator))
    return score >= tolerances.place_score, f"actor {b.perpetrator!r} ~ {a.perpetrator!r}"


def _munitions(a: Mention, b: Mention, _: Tolerances) -> _Verdict:
    said = []
    for name in ("launched", "intercepted", "impacted"):
        x, y = getattr(a, name), getattr(b, name)
        if x is not None and y is not None:
            if not _counts_agree(x, y):
                return False, None
            said.append(f"{name} {y} ~ {x}")
    return True, ", ".join(said) or None


# Cheapest first: most pairs fail on their kind or date before a place is scored.
_CHECKS: tuple[Callable[[Mention, Mention, Tolerances], _Verdict], ...] = (
    _kind,
    _country,
    _date,
    _time,
    _place,
    _weapon,
    _actor,
    _munitions,
)


def _dates(a: Mention, b: Mention, window: int) -> str | None:
    first, second = widened(a, window), widened(b, window)
    if first is None or second is None:
        return None
    if first[0] > second[1] or second[0] > first[1]:
        return None
    if a.start == b.start and a.end == b.end:
        return "same date"
    return f"date within {window} day{'s' if window != 1 else ''}"


def _times_agree(x: str | None, y: str | None) -> bool:
    if x is None or y is None or x not in _TIMES or y not in _TIMES:
        return True
    return abs(_TIMES.index(x) - _TIMES.index(y)) <= 1


def _counts_agree(x: int, y: int) -> bool:
    """Of the same order: within 2 of each other, or the smaller at least half the larger."""
    return abs(x - y) <= 2 or 2 * min(x, y) >= max(x, y)
