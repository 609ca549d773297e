"""Numbers as news text writes them, and whether a passage states a count."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitrep.text.numbers import NumberMention, find_numbers, parse_number, supports_count


def values(text: str) -> list[tuple[int | float, str, bool]]:
    return [(m.value, text[m.start : m.end], m.approximate) for m in find_numbers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("2,500", 2500),
        ("1,000,000", 1_000_000),
        ("2.5", 2.5),
        ("2.5 million", 2_500_000),
        ("3 thousand", 3000),
        ("zero", 0),
        ("no", 0),
        ("none", 0),
        ("two", 2),
        ("twenty-one", 21),
        ("twenty one", 21),
        ("a thousand", 1000),
        ("a hundred", 100),
        ("one hundred and thirty-seven", 137),
        ("one hundred thirty-seven", 137),
        ("twenty-five hundred", 2500),
        ("a hundred and fifty thousand", 150_000),
        ("two million three hundred thousand", 2_300_000),
        ("one thousand and five", 1005),
        ("a dozen", 12),
        ("two dozen", 24),
        ("a couple of", 2),
        ("a pair of", 2),
        ("both", 2),
        ("a single", 1),
        ("  Seventeen ", 17),
    ],
)
def test_parse_number_reads_one_number_expression(text: str, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "soldiers", "a", "an", "the second", "first", "tenth", "twenty-first", "one-third",
     "someone", "often", "3rd", "1990s", "about 2,500", "two soldiers", "2,500.", "two three"],
)  # fmt: skip
def test_parse_number_rejects_anything_but_one_number_expression(text: str) -> None:
    assert parse_number(text) is None


def test_parse_number_returns_int_for_whole_values_and_float_otherwise() -> None:
    assert type(parse_number("2.0")) is int
    assert type(parse_number("2.5")) is float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "the Iraqi Ain al-Assad base destroyed two booby-trapped drones this morning.",
            [(2, "two", False)],
        ),
        (
            "About 2,500 American soldiers and a thousand coalition soldiers have remained",
            [(2500, "2,500", True), (1000, "a thousand", False)],
        ),
        ("a drone attack killed 3 American soldiers", [(3, "3", False)]),
        (
            "carried out 196 operations, resulting in the killing of 44 ISIS militants and the "
            "arrest of 166 others.",
            [(196, "196", False), (44, "44", False), (166, "166", False)],
        ),
        ("A two-drone attack targeted the Ain al-Assad base", [(2, "two", False)]),
        (
            "one of the drones was shot down outside the base, and the second exploded",
            [(1, "one", False)],
        ),
        (
            "137 military operations during the first half of 2024",
            [(137, "137", False), (2024, "2024", False)],
        ),
        ("announced on the ninth of December", []),
        ("the killing of a number of leaders", []),
        ("someone often said the tone of the tenth report", []),
        ("the 3rd brigade, in the 1990s, an MQ-9 and an F-16, COVID-19", []),
        ("in the twenty-first century, one-third of them, two thirds", []),
        ("within two seconds", [(2, "two", False)]),
        (
            "no one was hurt; not one; not a single soldier",
            [(0, "no one", False), (0, "not one", False), (0, "not a single", False)],
        ),
        ("it no longer has bases", []),
    ],
)
def test_find_numbers_yields_each_count_with_its_offsets(
    text: str, expected: list[tuple[int | float, str, bool]]
) -> None:
    assert values(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("dozens of attacks", 24),
        ("hundreds of people", 200),
        ("thousands of troops", 2000),
        ("tens of thousands", 20_000),
        ("hundreds of thousands", 200_000),
        ("scores of rockets", 40),
        ("several rockets", 3),
        ("a few rockets", 3),
        ("a handful of rockets", 3),
        ("a couple of rockets", 2),
        ("half a dozen rockets", 6),
        ("several hundred troops", 300),
        ("a few dozen troops", 36),
    ],
)
def test_vague_quantity_is_an_approximate_lower_bound_that_states_no_count(
    text: str, value: int
) -> None:
    assert [(m.value, m.approximate) for m in find_numbers(text)] == [(value, True)]
    assert not supports_count(value, text)


@pytest.mark.parametrize(
    "text",
    ["about 40 rockets", "more than 40 rockets", "at least 40 rockets", "up to 40 rockets",
     "nearly forty rockets", "an estimated 40 rockets", "no more than 40 rockets"],
)  # fmt: skip
def test_hedged_number_is_approximate_but_still_states_its_count(text: str) -> None:
    [mention] = find_numbers(text)
    assert mention.value == 40
    assert mention.approximate
    assert text[mention.start : mention.end] in ("40", "forty")
    assert supports_count(40, text)


@pytest.mark.parametrize(
    "text",
    [
        "the attack attempt was not successful, and there are no casualties.",
        "the second exploded inside the base without causing any injuries or damage.",
        "None were hurt.",
        "Nobody was hurt.",
        "There weren't any casualties.",
        "Zero casualties were reported.",
        "0 casualties",
    ],
)
def test_count_of_zero_is_supported_by_an_explicit_negation(text: str) -> None:
    assert supports_count(0, text)


@pytest.mark.parametrize(
    "text", ["the attack killed 3 American soldiers", "Someone saw the nonstop attack"]
)
def test_count_of_zero_is_not_supported_without_a_negation(text: str) -> None:
    assert not supports_count(0, text)


@pytest.mark.parametrize("text", ["one drone", "1 drone", "a single drone", "One of the drones"])
def test_count_of_one_is_supported_by_one_or_a_single(text: str) -> None:
    assert supports_count(1, text)


@pytest.mark.parametrize(
    "text",
    ["a drone attack", "an attack", "someone fired", "the first drone", "no one was hurt",
     "not a single soldier was hurt", "not one rocket landed"],
)  # fmt: skip
def test_count_of_one_is_not_supported_by_an_article_or_a_negation(text: str) -> None:
    assert not supports_count(1, text)


def test_ordinals_do_not_support_counts() -> None:
    text = "one of the drones was shot down, and the second exploded"
    assert supports_count(1, text)
    assert not supports_count(2, text)


def test_both_and_a_pair_state_two() -> None:
    assert supports_count(2, "both drones were shot down")
    assert supports_count(2, "a pair of rockets hit the base")


def test_years_are_numbers_in_text() -> None:
    assert supports_count(2024, "during the first half of 2024")
    assert not supports_count(1, "during the first half of 2024")


def test_mention_is_a_frozen_value_object() -> None:
    mention = NumberMention(value=3, start=0, end=1, approximate=False)
    with pytest.raises(AttributeError):
        mention.value = 4  # type: ignore[misc]


# Property tests, with a small English renderer for 0..999,999.
UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def below_hundred(n: int, hyphen: bool) -> str:
    if n < 20:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    return TENS[tens] + (("-" if hyphen else " ") + UNITS[unit] if unit else "")


def below_thousand(n: int, hyphen: bool, use_and: bool) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return below_hundred(rest, hyphen)
    head = f"{UNITS[hundreds]} hundred"
    if not rest:
        return head
    return f"{head} {'and ' if use_and else ''}{below_hundred(rest, hyphen)}"


def in_words(n: int, hyphen: bool, use_and: bool, article: bool) -> str:
    thousands, rest = divmod(n, 1000)
    words = below_thousand(rest, hyphen, use_and)
    if thousands:
        head = f"{below_thousand(thousands, hyphen, use_and)} thousand"
        tail = "" if not rest else (" and " if use_and and rest < 100 else " ") + words
        words = head + tail
    if article and words.startswith(("one hundred", "one thousand")):
        words = "a" + words[3:]
    return words


def test_in_words_renders_english_as_written_in_news() -> None:
    assert in_words(137, True, True, False) == "one hundred and thirty-seven"
    assert in_words(21_005, False, True, False) == "twenty one thousand and five"
    assert in_words(1000, True, False, True) == "a thousand"


@given(st.integers(0, 10**9))
def test_digits_with_or_without_thousands_separators_parse_back(n: int) -> None:
    assert parse_number(str(n)) == n
    assert parse_number(f"{n:,}") == n


@given(st.integers(1, 999), st.integers(0, 9), st.sampled_from(["thousand", "million"]))
def test_decimal_with_scale_word_parses_to_the_exact_integer(
    whole: int, tenth: int, scale: str
) -> None:
    factor = 1000 if scale == "thousand" else 1_000_000
    assert parse_number(f"{whole}.{tenth} {scale}") == whole * factor + tenth * factor // 10


@given(st.integers(0, 999_999), st.booleans(), st.booleans(), st.booleans())
def test_english_words_parse_back(n: int, hyphen: bool, use_and: bool, article: bool) -> None:
    assert parse_number(in_words(n, hyphen, use_and, article)) == n


written = st.one_of(
    st.integers(0, 999_999).map(lambda n: (n, f"{n:,}")),
    st.integers(0, 999_999).map(lambda n: (n, str(n))),
    st.builds(
        lambda n, h, a, r: (n, in_words(n, h, a, r)),
        st.integers(0, 999_999),
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
)


@given(written)
def test_number_in_a_sentence_is_found_at_its_offsets_and_supports_only_itself(
    case: tuple[int, str],
) -> None:
    n, rendered = case
    prefix = "Officials said "
    sentence = f"{prefix}{rendered} soldiers were at the base."
    assert find_numbers(sentence) == [
        NumberMention(n, len(prefix), len(prefix) + len(rendered), approximate=False)
    ]
    assert supports_count(n, sentence)
    assert not supports_count(n + 1, sentence)
