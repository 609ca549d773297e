"""Resolve a date phrase as written in an article against the article's publication date.

The event happened on or before publication, so every phrase resolves to the past:

* Case, surrounding whitespace and quotes, a trailing comma or period, and leading
  "on/in/at/during/over/by/of/the" are ignored; any other extra word rejects the phrase.
* A bare weekday ("Monday", "on Monday", "Monday night", "early Monday") is the most recent
  such day on or before publication, the publication day included: wire copy names the day it
  is published by its weekday ("Police said on Tuesday ..." in Tuesday's paper). "last Monday"
  and "this past Monday" are the most recent such day strictly before publication, so on a
  Monday they mean the Monday a week earlier.
* A month, season or day without a year ("in July", "December 9") is the latest one that
  begins on or before publication, so the publication month itself counts. "last July" and
  "last summer" are the latest ones that ended before publication ("last January" in an
  article of 2024-07-17 is January 2024); "this July" is the one of the publication year.
* Parts of a month (precision DAYS): beginning/early = days 1-10, mid/middle = 11-20,
  end/late = 21 to the last day. Parts of a year (precision MONTH): "beginning of" = January,
  "end of" = December, "early" = January-March, "mid" = April-September, "late" =
  October-December.
* Seasons are northern-hemisphere meteorological: spring March-May, summer June-August,
  autumn/fall September-November; "winter of 2020" is 2020-12-01..2021-02-28.
* Halves are HALF_YEAR; quarters are MONTH ranges. "between A and B" runs from the start of A
  to the end of B with the coarser precision (two days make DAYS); a yearless A that would fall
  after B is taken as of B's end ("between December and February 2024" starts in 2023).
* "this/last week" are Monday-Sunday weeks; "N days/weeks/months/years ago" is that whole
  calendar day/week/month/year. "the weekend" is the latest Saturday-Sunday begun by
  publication, "last weekend" the latest ended before it; on a weekday "this weekend" is the
  coming one, hence an error. "the past N days" ("last N days") is a rolling window ending on
  publication day, precision DAYS.
* "since X" runs from the start of X to publication day and keeps X's precision.
* A range is cut off at publication day; one that begins after it ("in 2030") is an error, and
  so are numeric dates like "9/12" (day/month order unknown) and a bare "the 9th" (which month?).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final

from sitrep.model.vocab import DatePrecision, TimeOfDay


class DatePhraseError(ValueError):
    """The phrase names no date that can be resolved in code."""


@dataclass(frozen=True, slots=True)
class ResolvedDate:
    start: date
    end: date
    precision: DatePrecision
    time_of_day: TimeOfDay | None = None


def resolve_date_phrase(phrase: str, published: date) -> ResolvedDate:
    """Resolve `phrase` (just the date words) to a range ending no later than `published`.

    Raises DatePhraseError, naming the phrase, when it is not understood, names an impossible
    date, or lies after the publication date.
    """
    try:
        resolved = _resolve(_normalize(phrase), published)
    except (ValueError, OverflowError) as exc:  # impossible dates such as "February 30"
        raise DatePhraseError(f"cannot resolve date phrase {phrase!r}: {exc}") from exc
    if resolved is None:
        raise DatePhraseError(f"cannot resolve date phrase {phrase!r}")
    return resolved


_Span = tuple[date, date]
_Resolver = Callable[[re.Match[str], date], ResolvedDate | None]

# Typographic quotes, dashes and no-break spaces become their plain forms.
_TYPOGRAPHY: Final = MappingProxyType(
    str.maketrans("\u2018\u2019\u201c\u201d\u2013\u2014\u00a0", "''\"\"-- ")
)
# fmt: off
_MONTH_NUMBER: Final = MappingProxyType({
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
})
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS: Final = (
    "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "ten", "eleven", "twelve",
)
_UNITS: Final = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
)
_ORDINALS: Final = (
    *_UNITS, "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
    "sixteenth", "seventeenth", "eighteenth", "nineteenth",
    "twentieth", *(f"twenty-{unit}" for unit in _UNITS), "thirtieth", "thirty-first",
)
_SEASON_START: Final = MappingProxyType(
    {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
)
# Thirds of a month as (first day, last day); parts of a year as (first month, month count).
_MONTH_PARTS: Final = MappingProxyType({
    "beginning": (1, 10), "start": (1, 10), "early": (1, 10),
    "mid": (11, 20), "middle": (11, 20), "end": (21, 31), "late": (21, 31),
})
_YEAR_PARTS: Final = MappingProxyType({
    "beginning": (1, 1), "start": (1, 1), "early": (1, 3),
    "mid": (4, 6), "middle": (4, 6), "end": (12, 1), "late": (10, 3),
})
# fmt: on
_COARSENESS: Final = tuple(DatePrecision)

# Regular-expression fragments (no groups) shared by the patterns below.
_M = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WD = "|".join(_WEEKDAYS)
_TOD = "early morning|morning|midday|noon|afternoon|evening|night"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?|" + "|".join(o.replace("-", "[- ]") for o in _ORDINALS)
_NUM = r"\d{1,4}|" + "|".join(_NUMBERS)
_FILLER = "on|in|at|during|over|by|of|the"
_EARLY = r"(?:(?P<mod>early|late) )?"
_WHICH = r"(?:(?P<which>last|this past|this) )?"
_YEAR = r"(?:,? (?:of )?(?P<year>\d{4}))?"

_LEADING: Final = re.compile(rf"^(?:(?:{_FILLER}) )+")
_SINCE: Final = re.compile(rf"(?:(?:{_FILLER}) )*since (?P<rest>.+)")
_EDGES: Final = re.compile(r"^[\s\"']+|[\s\"'.,;:!?]+$")
_BARE_MONTH: Final = re.compile(_M)
_DAY_ONLY: Final = re.compile(_DAY)
_AFTER_DAY: Final = re.compile(rf"(?:{_DAY}) (?P<rest>(?:of )?{_M}.*)")


def _normalize(phrase: str) -> str:
    text = " ".join(phrase.translate(_TYPOGRAPHY).lower().split())
    return _EDGES.sub("", text)


def _resolve(text: str, published: date) -> ResolvedDate | None:
    since = _SINCE.fullmatch(text)
    found = _core(since["rest"] if since else text, published)
    if found is None:
        return None
    if found.start > published:
        raise DatePhraseError(f"it begins after the publication date {published}")
    if since:
        return ResolvedDate(found.start, published, found.precision)
    return replace(found, end=min(found.end, published))


def _core(text: str, published: date) -> ResolvedDate | None:
    """The uncut range a phrase names, or None when no pattern understands it."""
    text = _LEADING.sub("", text, count=1)
    for pattern, resolve in _PATTERNS:
        if (match := pattern.fullmatch(text)) and (found := resolve(match, published)):
            return found
    return None


def _months(year: int, month: int, count: int = 1) -> _Span:
    """From the first of `month` to the last day of the `count`-th month from it."""
    last_year, last_month0 = divmod(year * 12 + month - 1 + count - 1, 12)
    last_day = calendar.monthrange(last_year, last_month0 + 1)[1]
    return date(year, month, 1), date(last_year, last_month0 + 1, last_day)


def _month_back(published: date, back: int) -> tuple[int, int]:
    year, month0 = divmod(published.year * 12 + published.month - 1 - back, 12)
    return year, month0 + 1


def _recent(
    span: Callable[[int], _Span | None], published: date, which: str | None
) -> _Span | None:
    """The instance of a yearly recurring span that "last", "this" or no qualifier picks."""
    # Eight years back always reaches a 29 February.
    years = range(published.year, max(published.year - 9, 0), -1)
    found = [s for year in years if (s := span(year))]
    if which is None:
        return next((s for s in found if s[0] <= published), None)
    if which != "this":
        return next((s for s in found if s[1] < published), None)
    return next((s for s in found if s[0] <= published <= s[1]), span(published.year))


def _day(day: date, time_of_day: TimeOfDay | None = None) -> ResolvedDate:
    return ResolvedDate(day, day, DatePrecision.DAY, time_of_day)


def _time_of_day(match: re.Match[str]) -> TimeOfDay | None:
    groups = match.groupdict()
    modifier, said = groups.get("mod"), groups.get("tod")
    if modifier == "early" and said in (None, "morning"):
        return TimeOfDay.EARLY_MORNING
    if said is None:
        return None
    return TimeOfDay.MIDDAY if said == "noon" else TimeOfDay(said)


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    return 1 if text in ("a", "an") else _NUMBERS.index(text) + 1


def _day_number(text: str) -> int:
    if text[0].isdigit():
        return int(text.rstrip("stndrh"))
    return _ORDINALS.index(text.replace(" ", "-")) + 1


def _spans_months(found: ResolvedDate, first_month: int, count: int) -> bool:
    return (found.start, found.end) == _months(found.start.year, first_month, count)


def _days_back(days: int, fixed: TimeOfDay | None = None) -> _Resolver:
    def resolve(match: re.Match[str], published: date) -> ResolvedDate:
        return _day(published - timedelta(days=days), fixed or _time_of_day(match))

    return resolve


def _weekday(match: re.Match[str], published: date) -> ResolvedDate:
    back = (published.weekday() - _WEEKDAYS.index(match["wd"])) % 7
    if match["which"] and back == 0:
        back = 7  # "last Monday" in a Monday's article is the Monday before
    return _day(published - timedelta(days=back), _time_of_day(match))


def _weekend(match: re.Match[str], published: date) -> ResolvedDate:
    saturday = published - timedelta(days=(published.weekday() - 5) % 7)
    if match["which"] == "this" and published.weekday() < 5:
        saturday += timedelta(days=7)  # on a weekday, "this weekend" is the coming one
    elif match["which"] in ("last", "this past") and saturday + timedelta(days=1) >= published:
        saturday -= timedelta(days=7)
    return ResolvedDate(saturday, saturday + timedelta(days=1), DatePrecision.DAYS)


def _units_back(unit: str, back: int, published: date) -> ResolvedDate:
    if unit == "day":
        return _day(published - timedelta(days=back))
    if unit == "week":
        monday = published - timedelta(days=published.weekday() + 7 * back)
        return ResolvedDate(monday, monday + timedelta(days=6), DatePrecision.WEEK)
    if unit == "month":
        return ResolvedDate(*_months(*_month_back(published, back)), DatePrecision.MONTH)
    return ResolvedDate(*_months(published.year - back, 1, 12), DatePrecision.YEAR)


def _units_ago(match: re.Match[str], published: date) -> ResolvedDate:
    groups = match.groupdict()
    back = _number(groups["n"]) if groups.get("n") else int(groups.get("which") == "last")
    return _units_back(match["unit"], back, published)


def _rolling(match: re.Match[str], published: date) -> ResolvedDate:
    count = _number(match["n"]) if match["n"] else 1
    unit = match["unit"]
    if unit in ("month", "year"):
        year, month = _month_back(published, count * (12 if unit == "year" else 1))
        start = date(year, month, min(published.day, calendar.monthrange(year, month)[1]))
    else:
        days = {"hour": -(-count // 24), "day": count, "week": 7 * count}[unit]
        start = published - timedelta(days=days)
    return ResolvedDate(start, published, DatePrecision.DAYS)


def _iso(match: re.Match[str], published: date) -> ResolvedDate:
    return _day(date(int(match["year"]), int(match["month"]), int(match["day"])))


def _day_of_month(match: re.Match[str], published: date) -> ResolvedDate | None:
    month, day = _MONTH_NUMBER[match["month"][:3]], _day_number(match["day"])
    if match["year"]:
        found: date | None = date(int(match["year"]), month, day)
    else:
        found = _latest_day(month, day, published)
    weekday = match["wd"]
    if found and weekday and _WEEKDAYS.index(weekday) != found.weekday():
        raise DatePhraseError(f"{found} is not a {weekday.title()}")
    return None if found is None else _day(found)


def _latest_day(month: int, day: int, published: date) -> date | None:
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:  # 2000 was a leap year
        raise DatePhraseError(f"month {month} has no day {day}")

    def span(year: int) -> _Span | None:
        if day > calendar.monthrange(year, month)[1]:
            return None
        return date(year, month, day), date(year, month, day)

    found = _recent(span, published, None)
    return None if found is None else found[0]


def _ranged(span: _Span | None, precision: DatePrecision) -> ResolvedDate | None:
    return None if span is None else ResolvedDate(*span, precision)


def _month(match: re.Match[str], published: date) -> ResolvedDate | None:
    month = _MONTH_NUMBER[match["month"][:3]]
    if not match["year"]:
        span = _recent(lambda year: _months(year, month), published, match["which"])
        return _ranged(span, DatePrecision.MONTH)
    if match["which"]:
        return None
    return ResolvedDate(*_months(int(match["year"]), month), DatePrecision.MONTH)


def _season(match: re.Match[str], published: date) -> ResolvedDate | None:
    first = _SEASON_START[match["season"]]
    if not match["year"]:
        span = _recent(lambda year: _months(year, first, 3), published, match["which"])
        return _ranged(span, DatePrecision.SEASON)
    year, second = int(match["year"]), match["year2"]
    # "winter 2023/24" and "winter of 2023-2024" name one winter; nothing else spans two years.
    if second and (first != 12 or int(second) not in (year + 1, (year + 1) % 100)):
        return None
    return None if match["which"] else ResolvedDate(*_months(year, first, 3), DatePrecision.SEASON)


def _year(match: re.Match[str], published: date) -> ResolvedDate:
    return ResolvedDate(*_months(int(match["year"]), 1, 12), DatePrecision.YEAR)


def _part(match: re.Match[str], published: date) -> ResolvedDate | None:
    part, ref_text = match["part"], match["ref"]
    ref = _core(ref_text, published)
    if ref is None:
        return None
    if _spans_months(ref, 1, 12):
        first_month, count = _YEAR_PARTS[part]
        return ResolvedDate(*_months(ref.start.year, first_month, count), DatePrecision.MONTH)
    if not _spans_months(ref, ref.start.month, 1):
        return None
    first, last = _MONTH_PARTS[part]
    year, month = ref.start.year, ref.start.month
    if date(year, month, first) > published and _BARE_MONTH.fullmatch(ref_text):
        year -= 1  # "late July" in an article of 17 July is last year's
    last = min(last, calendar.monthrange(year, month)[1])
    return ResolvedDate(date(year, month, first), date(year, month, last), DatePrecision.DAYS)


def _fraction(months: int, precision: DatePrecision) -> _Resolver:
    """A resolver for the n-th half or quarter (`months` long) of a whole year."""

    def resolve(match: re.Match[str], published: date) -> ResolvedDate | None:
        ref = _core(match["ref"], published)
        if ref is None or not _spans_months(ref, 1, 12):
            return None
        nth = match["nth"]
        if nth.isdigit():
            index = int(nth)
        else:
            index = 12 // months if nth in ("last", "final") else _ORDINALS.index(nth) + 1
        return ResolvedDate(*_months(ref.start.year, (index - 1) * months + 1, months), precision)

    return resolve


def _between(match: re.Match[str], published: date) -> ResolvedDate | None:
    first, last = match["a"], match["b"]
    # In "between 9 and 12 December 2021" the bare first day borrows the second's month.
    if _DAY_ONLY.fullmatch(first) and (after := _AFTER_DAY.fullmatch(last)):
        first = f"{first} {after['rest']}"
    end = _core(last, published)
    if end is None:
        return None
    start = _core(first, published)
    if start is not None and start.start > end.end:
        # A yearless start ("between December and February 2024") comes before the end.
        start = _core(first, end.end)
    if start is None or start.start > end.end:
        return None
    precision = max(start.precision, end.precision, DatePrecision.DAYS, key=_COARSENESS.index)
    return ResolvedDate(start.start, end.end, precision)


_HALF: Final = _fraction(6, DatePrecision.HALF_YEAR)
_QUARTER: Final = _fraction(3, DatePrecision.MONTH)

# Tried in order; the first pattern that matches the whole phrase and resolves wins.
_PATTERNS: Final[tuple[tuple[re.Pattern[str], _Resolver], ...]] = tuple(
    (re.compile(regex), resolver)
    for regex, resolver in (
        (r"(?:earlier )?today", _days_back(0)),
        (r"tonight", _days_back(0, TimeOfDay.NIGHT)),
        (rf"{_EARLY}this (?P<tod>{_TOD})", _days_back(0)),
        (rf"{_EARLY}yesterday(?: (?P<tod>{_TOD}))?", _days_back(1)),
        (rf"{_EARLY}last night", _days_back(1, TimeOfDay.NIGHT)),
        (rf"{_EARLY}(?:day|(?P<tod>{_TOD})) before yesterday", _days_back(2)),
        (rf"{_EARLY}(?:(?P<which>last|this past) )?(?P<wd>{_WD})(?: (?P<tod>{_TOD}))?", _weekday),
        (rf"{_WHICH}weekend", _weekend),
        (r"(?P<which>earlier this|this|last) (?P<unit>week|month|year)", _units_ago),
        (rf"(?P<n>{_NUM}|an?) (?P<unit>day|week|month|year)s? ago", _units_ago),
        (rf"past (?:(?P<n>{_NUM}) )?(?P<unit>hour|day|week|month|year)s?", _rolling),
        (rf"last (?P<n>{_NUM}) (?P<unit>hour|day|week|month|year)s?", _rolling),
        (r"(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)", _iso),
        (rf"(?:(?P<wd>{_WD}),? )?(?P<day>{_DAY})(?: of)? (?P<month>{_M}){_YEAR}", _day_of_month),
        (rf"(?:(?P<wd>{_WD}),? )?(?P<month>{_M}) (?:the )?(?P<day>{_DAY}){_YEAR}", _day_of_month),
        (rf"{_WHICH}(?P<month>{_M}){_YEAR}", _month),
        (
            rf"{_WHICH}(?P<season>spring|summer|autumn|fall|winter)"
            r"(?:,? (?:of )?(?P<year>\d{4})(?:[/-](?P<year2>\d\d(?:\d\d)?))?)?",
            _season,
        ),
        (r"(?P<year>\d{4})", _year),
        (r"(?P<part>beginning|start|middle|end) of (?P<ref>.+)", _part),
        (r"(?P<part>early|mid|late)[- ](?P<ref>.+)", _part),
        (r"(?P<nth>first|second) half of (?P<ref>.+)", _HALF),
        (r"(?P<nth>first|last) six months of (?P<ref>.+)", _HALF),
        (r"(?P<nth>first|second|third|fourth|last|final) quarter of (?P<ref>.+)", _QUARTER),
        (r"q(?P<nth>[1-4]),? (?:of )?(?P<ref>.+)", _QUARTER),
        (r"(?:between|from) (?P<a>.+?) (?:and|to|until|till|through|-) (?P<b>.+)", _between),
    )
)
