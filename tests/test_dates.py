"""Tests for resolving article date phrases against the publication date."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitrep.model.vocab import DatePrecision as P
from sitrep.model.vocab import TimeOfDay as T
from sitrep.text.dates import DatePhraseError, ResolvedDate, resolve_date_phrase

TUE_2022_01_04 = date(2022, 1, 4)
WED_2024_07_17 = date(2024, 7, 17)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS: tuple[str, ...] = ("January", "February", "March", "April", "May", "June", "July")
MONTHS += ("August", "September", "October", "November", "December")
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
TIMES = {"": None, " morning": T.MORNING, " afternoon": T.AFTERNOON, " night": T.NIGHT}


def d(text: str) -> date:
    return date.fromisoformat(text)


def span(start: str, end: str, precision: P, time_of_day: T | None = None) -> ResolvedDate:
    return ResolvedDate(d(start), d(end), precision, time_of_day)


def day(text: str, time_of_day: T | None = None) -> ResolvedDate:
    return span(text, text, P.DAY, time_of_day)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


# --- examples ---------------------------------------------------------------------------------

FROM_REAL_ARTICLES = [
    (TUE_2022_01_04, "this morning", day("2022-01-04", T.MORNING)),
    (TUE_2022_01_04, "on Monday", day("2022-01-03")),
    (TUE_2022_01_04, "in January 2020", span("2020-01-01", "2020-01-31", P.MONTH)),
    (TUE_2022_01_04, "on the ninth of December", day("2021-12-09")),
    (TUE_2022_01_04, "at the end of 2021", span("2021-12-01", "2021-12-31", P.MONTH)),
    (TUE_2022_01_04, "in July", span("2021-07-01", "2021-07-31", P.MONTH)),
    (TUE_2022_01_04, "since the summer of 2020", span("2020-06-01", "2022-01-04", P.SEASON)),
    (TUE_2022_01_04, "in 2014", span("2014-01-01", "2014-12-31", P.YEAR)),
    (WED_2024_07_17, "yesterday", day("2024-07-16")),
    (WED_2024_07_17, "last Tuesday night", day("2024-07-16", T.NIGHT)),
    (WED_2024_07_17, "the night before yesterday", day("2024-07-15", T.NIGHT)),
    (WED_2024_07_17, "at the end of last January", span("2024-01-21", "2024-01-31", P.DAYS)),
    (WED_2024_07_17, "the first half of 2024", span("2024-01-01", "2024-06-30", P.HALF_YEAR)),
    (WED_2024_07_17, "between January and June 2024", span("2024-01-01", "2024-06-30", P.MONTH)),
]


@pytest.mark.parametrize(("published", "phrase", "expected"), FROM_REAL_ARTICLES)
def test_phrases_from_real_articles_resolve_to_the_reported_dates(
    published: date, phrase: str, expected: ResolvedDate
) -> None:
    assert resolve_date_phrase(phrase, published) == expected


RULE_CHOICES = [
    # Relative days and times of day.
    (WED_2024_07_17, "today", day("2024-07-17")),
    (WED_2024_07_17, "tonight", day("2024-07-17", T.NIGHT)),
    (WED_2024_07_17, "early this morning", day("2024-07-17", T.EARLY_MORNING)),
    (WED_2024_07_17, "yesterday evening", day("2024-07-16", T.EVENING)),
    (WED_2024_07_17, "late last night", day("2024-07-16", T.NIGHT)),
    (WED_2024_07_17, "the day before yesterday", day("2024-07-15")),
    (WED_2024_07_17, "early Monday morning", day("2024-07-15", T.EARLY_MORNING)),
    (WED_2024_07_17, "Tuesday evening", day("2024-07-16", T.EVENING)),
    # The publication's own weekday: bare, it is the publication day; "last", a week earlier.
    (WED_2024_07_17, "on Wednesday", day("2024-07-17")),
    (WED_2024_07_17, "Wednesday night", day("2024-07-17", T.NIGHT)),
    (WED_2024_07_17, "last Wednesday", day("2024-07-10")),
    (WED_2024_07_17, "this past Wednesday", day("2024-07-10")),
    # Explicit days.
    (WED_2024_07_17, "December 9, 2021", day("2021-12-09")),
    (WED_2024_07_17, "9 December", day("2023-12-09")),
    (WED_2024_07_17, "9th Dec.", day("2023-12-09")),
    (WED_2024_07_17, "July 17", day("2024-07-17")),
    (WED_2024_07_17, "July 18", day("2023-07-18")),
    (WED_2024_07_17, "the thirty-first of March", day("2024-03-31")),
    (WED_2024_07_17, "Monday, July 15", day("2024-07-15")),
    (WED_2024_07_17, "2024-07-16", day("2024-07-16")),
    (date(2023, 7, 1), "February 29", day("2020-02-29")),
    # Months: the publication month counts; "last" means an earlier one.
    (WED_2024_07_17, "in July", span("2024-07-01", "2024-07-17", P.MONTH)),
    (WED_2024_07_17, "last July", span("2023-07-01", "2023-07-31", P.MONTH)),
    (WED_2024_07_17, "last January", span("2024-01-01", "2024-01-31", P.MONTH)),
    (date(2024, 1, 15), "last January", span("2023-01-01", "2023-01-31", P.MONTH)),
    (WED_2024_07_17, "this month", span("2024-07-01", "2024-07-17", P.MONTH)),
    (WED_2024_07_17, "last month", span("2024-06-01", "2024-06-30", P.MONTH)),
    # Parts of months and years.
    (WED_2024_07_17, "early March", span("2024-03-01", "2024-03-10", P.DAYS)),
    (WED_2024_07_17, "mid-June", span("2024-06-11", "2024-06-20", P.DAYS)),
    (WED_2024_07_17, "late July", span("2023-07-21", "2023-07-31", P.DAYS)),
    (WED_2024_07_17, "early July", span("2024-07-01", "2024-07-10", P.DAYS)),
    (WED_2024_07_17, "end of January 2024", span("2024-01-21", "2024-01-31", P.DAYS)),
    (WED_2024_07_17, "late February 2024", span("2024-02-21", "2024-02-29", P.DAYS)),
    (WED_2024_07_17, "the beginning of 2021", span("2021-01-01", "2021-01-31", P.MONTH)),
    (WED_2024_07_17, "early 2021", span("2021-01-01", "2021-03-31", P.MONTH)),
    (WED_2024_07_17, "mid-2021", span("2021-04-01", "2021-09-30", P.MONTH)),
    (WED_2024_07_17, "late 2021", span("2021-10-01", "2021-12-31", P.MONTH)),
    (WED_2024_07_17, "the end of last year", span("2023-12-01", "2023-12-31", P.MONTH)),
    # Halves, quarters, ranges of months.
    (WED_2024_07_17, "the second half of 2023", span("2023-07-01", "2023-12-31", P.HALF_YEAR)),
    (WED_2024_07_17, "the second half of 2024", span("2024-07-01", "2024-07-17", P.HALF_YEAR)),
    (WED_2024_07_17, "the first quarter of 2024", span("2024-01-01", "2024-03-31", P.MONTH)),
    (WED_2024_07_17, "Q3 2023", span("2023-07-01", "2023-09-30", P.MONTH)),
    (
        WED_2024_07_17,
        "between December and February 2024",
        span("2023-12-01", "2024-02-29", P.MONTH),
    ),
    (WED_2024_07_17, "between 9 and 12 December 2021", span("2021-12-09", "2021-12-12", P.DAYS)),
    (WED_2024_07_17, "from Monday to Tuesday", span("2024-07-15", "2024-07-16", P.DAYS)),
    # Seasons, meteorological and northern.
    (WED_2024_07_17, "the summer of 2020", span("2020-06-01", "2020-08-31", P.SEASON)),
    (WED_2024_07_17, "the winter of 2020", span("2020-12-01", "2021-02-28", P.SEASON)),
    (WED_2024_07_17, "winter 2023/24", span("2023-12-01", "2024-02-29", P.SEASON)),
    (WED_2024_07_17, "in the autumn of 2022", span("2022-09-01", "2022-11-30", P.SEASON)),
    (WED_2024_07_17, "this summer", span("2024-06-01", "2024-07-17", P.SEASON)),
    (WED_2024_07_17, "last summer", span("2023-06-01", "2023-08-31", P.SEASON)),
    (date(2024, 1, 15), "last winter", span("2022-12-01", "2023-02-28", P.SEASON)),
    (date(2024, 1, 15), "in the winter", span("2023-12-01", "2024-01-15", P.SEASON)),
    # Weeks, years and counts back.
    (WED_2024_07_17, "last week", span("2024-07-08", "2024-07-14", P.WEEK)),
    (WED_2024_07_17, "this week", span("2024-07-15", "2024-07-17", P.WEEK)),
    (WED_2024_07_17, "last year", span("2023-01-01", "2023-12-31", P.YEAR)),
    (WED_2024_07_17, "earlier this year", span("2024-01-01", "2024-07-17", P.YEAR)),
    (WED_2024_07_17, "two days ago", day("2024-07-15")),
    (WED_2024_07_17, "three weeks ago", span("2024-06-24", "2024-06-30", P.WEEK)),
    (WED_2024_07_17, "a month ago", span("2024-06-01", "2024-06-30", P.MONTH)),
    (WED_2024_07_17, "12 months ago", span("2023-07-01", "2023-07-31", P.MONTH)),
    (WED_2024_07_17, "in the past 24 hours", span("2024-07-16", "2024-07-17", P.DAYS)),
    (WED_2024_07_17, "over the past week", span("2024-07-10", "2024-07-17", P.DAYS)),
    (WED_2024_07_17, "over the weekend", span("2024-07-13", "2024-07-14", P.DAYS)),
    (date(2024, 7, 14), "this weekend", span("2024-07-13", "2024-07-14", P.DAYS)),
    (date(2024, 7, 14), "last weekend", span("2024-07-06", "2024-07-07", P.DAYS)),
    # "since" keeps the precision of what follows it.
    (WED_2024_07_17, "since Monday", span("2024-07-15", "2024-07-17", P.DAY)),
    (WED_2024_07_17, "since 2014", span("2014-01-01", "2024-07-17", P.YEAR)),
    # Typography and punctuation around the phrase.
    (WED_2024_07_17, "\u201cLast  Tuesday night,\u201d", day("2024-07-16", T.NIGHT)),
    (WED_2024_07_17, " ON THE NINTH OF DECEMBER. ", day("2023-12-09")),
    (WED_2024_07_17, "at the end of last\u00a0January", span("2024-01-21", "2024-01-31", P.DAYS)),
]


@pytest.mark.parametrize(("published", "phrase", "expected"), RULE_CHOICES)
def test_phrases_resolve_by_the_documented_rules(
    published: date, phrase: str, expected: ResolvedDate
) -> None:
    assert resolve_date_phrase(phrase, published) == expected


UNRESOLVABLE = [
    "recently",
    "in the past",
    "dozens of times",
    "",
    "   ",
    "9/12",
    "on the 20th",
    "on 9/12/2021",
    "on Monday morning in Kyiv",
    "around Monday",
    "a few days ago",
    "the end of the year",
    "April 31",
    "February 30, 2023",
    "Tuesday, July 15",  # 15 July 2024 was a Monday
    "in 2030",
    "December 2024",
    "this winter",
    "this weekend",
    "the end of this month",
]


@pytest.mark.parametrize("phrase", UNRESOLVABLE)
def test_unresolvable_phrases_raise_an_error_naming_the_phrase(phrase: str) -> None:
    with pytest.raises(DatePhraseError, match=re.escape(f"cannot resolve date phrase {phrase!r}")):
        resolve_date_phrase(phrase, WED_2024_07_17)


# --- properties -------------------------------------------------------------------------------

publication_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))
weekday_indexes = st.integers(min_value=0, max_value=6)
month_numbers = st.integers(min_value=1, max_value=12)


def count_phrase(n: int) -> st.SearchStrategy[str]:
    """Ways an article may write the count `n`."""
    words = [str(n)]
    if n <= len(NUMBER_WORDS):
        words.append(NUMBER_WORDS[n - 1])
    if n == 1:
        words.append("a")
    return st.sampled_from(words)


@given(
    published=publication_dates,
    weekday=weekday_indexes,
    lead=st.sampled_from(["", "on ", "On "]),
    time=st.sampled_from(sorted(TIMES)),
)
def test_a_bare_weekday_is_that_weekday_within_the_six_days_up_to_publication_day(
    published: date, weekday: int, lead: str, time: str
) -> None:
    found = resolve_date_phrase(f"{lead}{WEEKDAYS[weekday]}{time}", published)
    assert found.start == found.end
    assert found.start.weekday() == weekday
    assert published - timedelta(days=6) <= found.start <= published
    assert (found.precision, found.time_of_day) == (P.DAY, TIMES[time])


@given(
    published=publication_dates,
    weekday=weekday_indexes,
    lead=st.sampled_from(["last ", "this past ", "On last "]),
    time=st.sampled_from(sorted(TIMES)),
)
def test_last_weekday_is_that_weekday_within_the_seven_days_before_publication_day(
    published: date, weekday: int, lead: str, time: str
) -> None:
    found = resolve_date_phrase(f"{lead}{WEEKDAYS[weekday]}{time}", published)
    assert found.start == found.end
    assert found.start.weekday() == weekday
    assert published - timedelta(days=7) <= found.start < published
    assert (found.precision, found.time_of_day) == (P.DAY, TIMES[time])


# One week of publication days, Monday 2024-07-15 to Sunday 2024-07-21.
PUBLICATION_WEEK = [date(2024, 7, 15) + timedelta(days=n) for n in range(7)]


@pytest.mark.parametrize("published", PUBLICATION_WEEK, ids=lambda d: d.strftime("%A"))
@pytest.mark.parametrize("phrase", ["{}", "on {}", "{} night", "early {} morning"])
def test_a_bare_weekday_naming_the_publication_day_is_the_publication_day(
    published: date, phrase: str
) -> None:
    found = resolve_date_phrase(phrase.format(WEEKDAYS[published.weekday()]), published)
    assert (found.start, found.end) == (published, published)


@pytest.mark.parametrize("published", PUBLICATION_WEEK, ids=lambda d: d.strftime("%A"))
@pytest.mark.parametrize("phrase", ["last {}", "this past {}", "on last {} night"])
def test_last_weekday_naming_the_publication_day_is_a_week_before_it(
    published: date, phrase: str
) -> None:
    found = resolve_date_phrase(phrase.format(WEEKDAYS[published.weekday()]), published)
    assert (found.start, found.end) == (published - timedelta(days=7),) * 2


@pytest.mark.parametrize("published", PUBLICATION_WEEK, ids=lambda d: d.strftime("%A"))
@pytest.mark.parametrize("lead", ["on ", "last ", "this past "])
def test_other_weekdays_are_the_same_day_with_or_without_last(published: date, lead: str) -> None:
    for back in range(1, 7):
        earlier = published - timedelta(days=back)
        found = resolve_date_phrase(lead + WEEKDAYS[earlier.weekday()], published)
        assert (found.start, found.end) == (earlier, earlier)


@given(published=publication_dates, data=st.data())
def test_n_days_ago_is_the_single_day_n_days_before_publication(
    published: date, data: st.DataObject
) -> None:
    n = data.draw(st.integers(min_value=1, max_value=400))
    found = resolve_date_phrase(f"{data.draw(count_phrase(n))} days ago", published)
    assert found == ResolvedDate(
        published - timedelta(days=n), published - timedelta(days=n), P.DAY
    )


@given(published=publication_dates, n=st.integers(min_value=1, max_value=60))
def test_n_weeks_ago_is_the_monday_to_sunday_week_holding_the_day_n_weeks_back(
    published: date, n: int
) -> None:
    found = resolve_date_phrase(f"{n} weeks ago", published)
    assert found.precision is P.WEEK
    assert found.start.weekday() == 0
    assert found.end == found.start + timedelta(days=6)
    assert found.start <= published - timedelta(weeks=n) <= found.end


@given(published=publication_dates, month=month_numbers, lead=st.sampled_from(["", "in "]))
def test_month_without_year_is_the_latest_such_month_begun_by_publication(
    published: date, month: int, lead: str
) -> None:
    found = resolve_date_phrase(f"{lead}{MONTHS[month - 1]}", published)
    assert found.precision is P.MONTH
    assert (found.start.month, found.start.day) == (month, 1)
    assert 0 <= months_between(found.start, published) <= 11
    assert found.end == min(month_end(found.start.year, month), published)


@given(published=publication_dates, month=month_numbers)
def test_last_month_name_is_the_latest_such_month_ended_before_publication(
    published: date, month: int
) -> None:
    found = resolve_date_phrase(f"last {MONTHS[month - 1]}", published)
    assert (found.start.month, found.start.day) == (month, 1)
    assert found.end == month_end(found.start.year, month) < published
    assert 1 <= months_between(found.start, published) <= 12


@given(
    published=publication_dates,
    month=month_numbers,
    year=st.integers(min_value=1985, max_value=2045),
)
def test_month_with_year_is_that_month_unless_it_begins_after_publication(
    published: date, month: int, year: int
) -> None:
    phrase = f"{MONTHS[month - 1]} {year}"
    if date(year, month, 1) > published:
        with pytest.raises(DatePhraseError, match="after the publication date"):
            resolve_date_phrase(phrase, published)
    else:
        found = resolve_date_phrase(phrase, published)
        expected_end = min(month_end(year, month), published)
        assert found == ResolvedDate(date(year, month, 1), expected_end, P.MONTH)


@given(published=publication_dates, month=month_numbers, data=st.data())
def test_day_and_month_without_year_is_the_latest_such_date_not_after_publication(
    published: date, month: int, data: st.DataObject
) -> None:
    number = data.draw(st.integers(min_value=1, max_value=calendar.monthrange(2000, month)[1]))
    phrase = data.draw(
        st.sampled_from([f"{MONTHS[month - 1]} {number}", f"{number} {MONTHS[month - 1]}"])
    )
    found = resolve_date_phrase(phrase, published)
    assert found.start == found.end <= published
    assert (found.start.month, found.start.day) == (month, number)
    later_years = range(found.start.year + 1, published.year + 1)
    assert all(
        number > calendar.monthrange(year, month)[1] or date(year, month, number) > published
        for year in later_years
    )


@given(
    published=publication_dates,
    phrase=st.sampled_from(["yesterday", "yesterday morning", "last night"]),
)
def test_yesterday_phrases_are_the_day_before_publication(published: date, phrase: str) -> None:
    found = resolve_date_phrase(phrase, published)
    assert found.start == found.end == published - timedelta(days=1)


@given(
    published=publication_dates,
    year=st.integers(min_value=1985, max_value=2045),
    second=st.booleans(),
)
def test_a_half_year_is_its_six_months_cut_at_publication_or_rejected_if_later(
    published: date, year: int, second: bool
) -> None:
    phrase = f"the {'second' if second else 'first'} half of {year}"
    start = date(year, 7 if second else 1, 1)
    if start > published:
        with pytest.raises(DatePhraseError):
            resolve_date_phrase(phrase, published)
    else:
        end = month_end(year, 12 if second else 6)
        expected = ResolvedDate(start, min(end, published), P.HALF_YEAR)
        assert resolve_date_phrase(phrase, published) == expected


SEASON_STARTS = {"spring": 3, "summer": 6, "autumn": 9, "winter": 12}


@given(season=st.sampled_from(sorted(SEASON_STARTS)), year=st.integers(1990, 2030))
def test_a_season_of_a_year_is_three_meteorological_months_from_its_first(
    season: str, year: int
) -> None:
    found = resolve_date_phrase(f"the {season} of {year}", date(2041, 1, 1))
    first = SEASON_STARTS[season]
    last_year, last_month = (year + 1, 2) if first == 12 else (year, first + 2)
    assert found == ResolvedDate(date(year, first, 1), month_end(last_year, last_month), P.SEASON)


def yearless_phrases() -> st.SearchStrategy[str]:
    """Phrases that always resolve, whatever the publication date."""
    weekday = st.sampled_from(WEEKDAYS)
    month = st.sampled_from(MONTHS)
    return st.one_of(
        st.sampled_from(["today", "this morning", "yesterday", "last night", "this week"]),
        st.sampled_from(["last week", "this month", "last month", "this year", "last year"]),
        st.sampled_from(["the day before yesterday", "the weekend", "last summer", "winter"]),
        st.builds("{} {}".format, st.sampled_from(["on", "last"]), weekday),
        st.builds(
            "{}{}".format, st.sampled_from(["in ", "last ", "early ", "mid-", "late "]), month
        ),
        st.builds("the end of last {}".format, month),
        st.builds("{} days ago".format, st.integers(0, 500)),
        st.builds("{} months ago".format, st.integers(1, 30)),
        st.builds("between {} and {}".format, month, month),
        st.builds("the first half of {} year".format, st.sampled_from(["this", "last"])),
    )


@given(published=publication_dates, phrase=yearless_phrases())
def test_phrases_without_a_year_resolve_to_an_ordered_range_ending_by_publication(
    published: date, phrase: str
) -> None:
    found = resolve_date_phrase(phrase, published)
    assert found.start <= found.end <= published


@given(published=publication_dates, phrase=yearless_phrases())
def test_since_runs_from_the_start_of_its_phrase_to_publication_with_its_precision(
    published: date, phrase: str
) -> None:
    plain = resolve_date_phrase(phrase, published)
    found = resolve_date_phrase(f"since {phrase}", published)
    assert found == ResolvedDate(plain.start, published, plain.precision)


@given(
    published=publication_dates,
    phrase=yearless_phrases(),
    case=st.sampled_from([str.upper, str.title, str.capitalize]),
    before=st.sampled_from(["", " ", "\u201c", '"']),
    after=st.sampled_from(["", ",", ".", " .", "\u201d", ",\u201d"]),
)
def test_case_quotes_and_trailing_punctuation_do_not_change_the_result(
    published: date, phrase: str, case: Callable[[str], str], before: str, after: str
) -> None:
    decorated = before + case(phrase).replace(" ", "  ") + after
    assert resolve_date_phrase(decorated, published) == resolve_date_phrase(phrase, published)
