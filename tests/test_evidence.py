"""Quotes are found verbatim or after folding only, with offsets into the original text."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sitrep.model.vocab import MatchKind
from sitrep.text.evidence import NormalizedText, QuoteSpan, locate_quote, normalize

# Sentences from the seed articles, joined as the article writes them.
SEED = (
    "And “AFP” quoted an official source as saying that “the defense capabilities of the "
    "Iraqi Ain al-Assad base destroyed two booby-trapped drones this morning.”\n\n"
    "The source added that “the attack attempt was not successful, and there are no "
    "casualties.”\n\n"
    "He explained, “We maintain a minimum presence in the Iraqi bases. The coalition no longer "
    "has special bases in Iraq.”\n\n"
    "This is the second attack in less than two days, after a similar attack on Monday.\n\n"
    "About 2,500 American soldiers and a thousand coalition soldiers have remained in Iraq."
)


def passage(span: QuoteSpan | None, text: str = SEED) -> str:
    assert span is not None
    return text[span.start : span.end]


def test_verbatim_quote_is_an_exact_match_at_its_offsets() -> None:
    quote = "destroyed two booby-trapped drones this morning."
    span = locate_quote(quote, SEED)
    assert span == QuoteSpan(SEED.index(quote), SEED.index(quote) + len(quote), MatchKind.EXACT)


def test_exact_match_is_the_first_occurrence() -> None:
    span = locate_quote("attack", SEED)
    assert span is not None
    assert span.start == SEED.index("attack")


def test_quote_wrapped_in_curly_quotes_is_located_without_the_wrapping() -> None:
    span = locate_quote(
        "“the attack attempt was not successful, and there are no casualties.”", SEED
    )
    assert span is not None
    assert span.match is MatchKind.EXACT
    assert passage(span) == "the attack attempt was not successful, and there are no casualties."


@pytest.mark.parametrize(
    "quote",
    [
        '"We maintain a minimum presence in the Iraqi bases..."',
        "'We maintain a minimum presence in the Iraqi bases…'",
        " …We maintain a minimum presence in the Iraqi bases ",
    ],
)
def test_wrapping_quotes_whitespace_and_ellipses_are_stripped_from_the_quote(quote: str) -> None:
    assert passage(locate_quote(quote, SEED)) == "We maintain a minimum presence in the Iraqi bases"


def test_straight_quotes_in_the_quote_match_curly_quotes_in_the_text() -> None:
    span = locate_quote('And "AFP" quoted an official source', SEED)
    assert span is not None
    assert span.match is MatchKind.NORMALIZED
    assert passage(span) == "And “AFP” quoted an official source"


def test_whitespace_across_a_paragraph_break_is_folded_and_mapped_back() -> None:
    span = locate_quote("there are no casualties.” He explained", SEED)
    assert span is not None
    assert span.match is MatchKind.NORMALIZED
    assert passage(span) == "there are no casualties.”\n\nHe explained"


def test_case_differences_match_after_casefolding() -> None:
    span = locate_quote("ABOUT 2,500 AMERICAN SOLDIERS", SEED)
    assert passage(span) == "About 2,500 American soldiers"


@pytest.mark.parametrize(
    ("text", "quote", "expected"),
    [
        ("base — the source said", "base - the source said", "base — the source said"),
        ("2,500\u00a0troops in Iraq", "2,500 troops", "2,500\u00a0troops"),
        ("he said… then left", "said... then", "said… then"),
        (
            "the \uff12,\uff15\uff10\uff10 troops",
            "2,500 troops",
            "\uff12,\uff15\uff10\uff10 troops",
        ),
        ("the Iraqi\u2019s base", "Iraqi's base", "Iraqi\u2019s base"),
        (
            "a soft\u00adhyphen, a zero\u200bwidth",
            "softhyphen, a zerowidth",
            "soft\u00adhyphen, a zero\u200bwidth",
        ),
        ("the café was hit", "CAFE\u0301 was", "café was"),
    ],
)
def test_folded_differences_map_back_to_the_original_characters(
    text: str, quote: str, expected: str
) -> None:
    span = locate_quote(quote, text)
    assert span is not None
    assert span.match is MatchKind.NORMALIZED
    assert passage(span, text) == expected


@pytest.mark.parametrize(
    "quote",
    [
        "destroyed three booby-trapped drones",  # a changed number
        "About 2,600 American soldiers",
        "the attack attempt was successful",  # words dropped
        "two booby trapped drones",  # a hyphen is not whitespace
        "the defense capabilities destroyed two drones",  # a paraphrase
    ],
)
def test_fabricated_or_altered_quotes_are_not_found(quote: str) -> None:
    assert locate_quote(quote, SEED) is None


@pytest.mark.parametrize("quote", ["", "   ", "\n\t", "“”", '" "', "...", "…"])
def test_empty_quote_is_not_found(quote: str) -> None:
    assert locate_quote(quote, SEED) is None


def test_match_never_begins_inside_the_expansion_of_one_character() -> None:
    assert locate_quote("ix", "the ﬁx") is None  # "ﬁ" folds to "fi"; "i" alone is not there
    assert passage(locate_quote("FIX", "the ﬁx"), "the ﬁx") == "ﬁx"


def test_normalized_text_agrees_with_locate_quote_for_many_quotes() -> None:
    located = NormalizedText(SEED)
    quotes = ['"AFP" quoted', "TWO DAYS", "a thousand coalition", "not in the text"]
    assert [located.locate(q) for q in quotes] == [locate_quote(q, SEED) for q in quotes]
    assert located.normalized == normalize(SEED)


def test_quote_at_the_end_of_a_hundred_kilobyte_article_is_located_by_offset() -> None:
    text = ("An attack hit the base. " * 5000)[:100_000] + "“The final sentence.”"
    located = NormalizedText(text)
    span = located.locate('the FINAL sentence."')
    assert span is not None
    assert (span.start, passage(span, text)) == (100_001, "The final sentence.")
    assert located.locate("final sentences") is None


# Property tests. Text mixes letters, case, whitespace, curly and straight quotes, dashes,
# ellipses and characters that NFKC or casefolding expand.
# Escapes: curly quotes, guillemets, en and em dash, ellipsis, "ß", the "fi" ligature and a
# fullwidth "2".
TEXT_CHARS = [
    *"abcdeABCDE .,;-'\"\n\t\u00a0",
    *"\u201c\u201d\u2018\u2019\u00ab\u00bb\u2013\u2014\u2026\u00e9\u00df\ufb01\uff12",
]
FOREIGN_CHARS = "xyzXYZ0179#"
EDGE_CHARS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026"
text_strategy = st.text(alphabet=st.sampled_from(TEXT_CHARS), min_size=1, max_size=60)


@st.composite
def text_and_substring(draw: st.DrawFn) -> tuple[str, str]:
    text = draw(text_strategy)
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, len(text)))
    sub = text[start:end]
    # Quote cleaning would strip these ends, so the substring would not be quoted as is.
    assume(not sub[0].isspace() and not sub[-1].isspace())
    assume(sub[0] not in EDGE_CHARS and sub[-1] not in EDGE_CHARS)
    assume(not sub.startswith("...") and not sub.endswith("..."))
    return text, sub


@given(text_and_substring())
def test_any_substring_is_found_exactly_at_its_first_occurrence(case: tuple[str, str]) -> None:
    text, sub = case
    assert locate_quote(sub, text) == QuoteSpan(
        text.index(sub), text.index(sub) + len(sub), MatchKind.EXACT
    )


# Straight quotes become curly and curly ones straight.
CURLY = str.maketrans(
    {'"': "\u201c", "'": "\u2019", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}
)


@given(text_and_substring(), st.sampled_from(["quotes", "whitespace", "case", "all"]))
def test_folded_quote_maps_back_to_a_passage_that_normalizes_equal(
    case: tuple[str, str], change: str
) -> None:
    text, sub = case
    quote = sub
    if change in ("quotes", "all"):
        quote = quote.translate(CURLY)
    if change in ("whitespace", "all"):
        quote = re.sub(r"\s+", " ", quote)
    if change in ("case", "all"):
        quote = quote.upper()
    span = locate_quote(quote, text)
    assert span is not None
    assert normalize(passage(span, text)) == normalize(quote)
    assert passage(span, text) == passage(span, text).strip()


@given(text_and_substring(), st.sampled_from(FOREIGN_CHARS), st.data())
def test_quote_with_a_character_absent_from_the_text_is_not_found(
    case: tuple[str, str], foreign: str, data: st.DataObject
) -> None:
    text, sub = case
    at = data.draw(st.integers(0, len(sub)))
    assert locate_quote(sub[:at] + foreign + sub[at:], text) is None
