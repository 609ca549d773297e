"""Splitting long texts into chunks: boundaries, overlap, budget, coverage, and offsets back."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sitrep.model.vocab import MatchKind
from sitrep.text.chunks import Chunk, ChunkText, split_text


def paragraphs(count: int, size: int = 200) -> str:
    """`count` paragraphs of about `size` characters, each of several sentences."""
    made = []
    for n in range(count):
        sentence = f"Paragraph {n:04d} reports that militants fired rockets at the base. "
        made.append((sentence * (size // len(sentence) + 1))[:size].rsplit(" ", 1)[0] + ".")
    return "\n\n".join(made)


def check_cover(text: str, chunks: list[Chunk], max_chars: int) -> None:
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text)
    assert [c.number for c in chunks] == list(range(1, len(chunks) + 1))
    assert {c.count for c in chunks} == {len(chunks)}
    for chunk in chunks:
        assert 0 < len(chunk) <= max_chars
    for before, after in pairwise(chunks):
        assert before.start < after.start <= before.end  # no gap, always progress


def test_a_text_within_the_budget_is_one_chunk_the_whole_text() -> None:
    text = paragraphs(3)
    assert split_text(text, len(text)) == [Chunk(1, 1, 0, len(text))]


def test_chunks_end_on_paragraph_breaks_when_paragraphs_fit() -> None:
    text = paragraphs(60)
    chunks = split_text(text, 2_000, 300)
    check_cover(text, chunks, 2_000)
    assert len(chunks) > 1
    for chunk in chunks[:-1]:
        assert text[chunk.end - 2 : chunk.end] == "\n\n"  # the chunk ends after a blank line
    for chunk in chunks[1:]:
        assert text[chunk.start - 2 : chunk.start] == "\n\n"  # the next starts a paragraph


def test_neighbours_share_between_half_and_all_of_the_overlap_in_whole_paragraphs() -> None:
    text = paragraphs(60, size=100)
    chunks = split_text(text, 2_000, 400)
    for before, after in pairwise(chunks):
        shared = before.end - after.start
        assert 200 <= shared <= 400
        assert text[after.start - 2 : after.start] == "\n\n"


def test_a_paragraph_longer_than_the_budget_is_cut_after_a_sentence() -> None:
    text = paragraphs(1, size=10_000)  # one paragraph of many sentences
    chunks = split_text(text, 2_000, 300)
    check_cover(text, chunks, 2_000)
    for chunk in chunks[:-1]:
        assert text[chunk.end - 2 : chunk.end] == ". "  # after a sentence's full stop
    for before, after in pairwise(chunks):
        assert 150 <= before.end - after.start <= 300  # still overlapping, by sentences
        assert text[after.start - 2 : after.start] == ". "


def test_paragraphs_longer_than_the_overlap_still_leave_neighbours_sharing_text() -> None:
    text = paragraphs(20, size=3_000)
    chunks = split_text(text, 10_000, 1_500)
    for before, after in pairwise(chunks):
        assert before.end - after.start >= 750


def test_single_line_breaks_are_preferred_to_sentence_ends() -> None:
    text = "\n".join(f"Line {n:04d} says one thing. And then another." for n in range(200))
    chunks = split_text(text, 1_000, 100)
    for chunk in chunks[:-1]:
        assert text[chunk.end - 1] == "\n"


def test_text_without_spaces_is_cut_after_its_own_full_stops() -> None:
    text = "".join(f"武装分子向基地发射了{n}枚火箭。" for n in range(1_000))
    chunks = split_text(text, 1_000, 100)
    check_cover(text, chunks, 1_000)
    for chunk in chunks[:-1]:
        assert text[chunk.end - 1] == "。"
    for chunk in chunks[1:]:
        assert text[chunk.start - 1] == "。"


def test_a_stretch_with_no_whitespace_at_all_is_cut_hard_as_a_last_resort() -> None:
    text = "x" * 5_000
    chunks = split_text(text, 1_000, 100)
    check_cover(text, chunks, 1_000)
    assert chunks[0].end == 1_000  # exactly the budget
    assert chunks[1].start == 900  # exactly the overlap back


def test_whitespace_is_the_cut_when_no_sentence_ends_in_reach() -> None:
    text = " ".join(f"word{n:04d}" for n in range(1_000))  # no full stop anywhere
    chunks = split_text(text, 1_000, 100)
    for chunk in chunks[:-1]:
        assert text[chunk.end - 1] == " "
        assert text[chunk.end] != " "


@pytest.mark.parametrize(("max_chars", "overlap"), [(1_001, 100), (1_000, 101), (1_001, 101)])
def test_a_hard_cut_keeps_combining_marks_with_their_letter(max_chars: int, overlap: int) -> None:
    text = "e\u0301" * 3_000  # é written as e and a combining acute accent, no spaces
    chunks = split_text(text, max_chars, overlap)
    check_cover(text, chunks, max_chars)
    for chunk in chunks:
        assert text[chunk.start] == "e"
        assert text[chunk.end - 1] == "\u0301"


def test_the_overlap_is_capped_at_a_quarter_of_the_budget() -> None:
    text = "x" * 10_000
    chunks = split_text(text, 1_000, 900)
    assert chunks[0].end - chunks[1].start == 250


def test_no_overlap_asked_gives_chunks_that_meet_end_to_start() -> None:
    text = paragraphs(50)
    chunks = split_text(text, 2_000, 0)
    assert all(a.end == b.start for a, b in pairwise(chunks))


def test_impossible_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        split_text("text", 0)
    with pytest.raises(ValueError, match="overlap"):
        split_text("text", 10, -1)


def test_a_chunk_is_named_by_its_number_and_characters() -> None:
    assert Chunk(3, 5, 80_000, 120_000).label == "chunk 3 of 5 (characters 80,000-120,000)"


def test_a_quote_in_a_chunk_is_located_in_offsets_of_the_whole_text() -> None:
    text = paragraphs(30)
    chunk = split_text(text, 2_000, 300)[2]
    quote = "Paragraph 0021 reports that militants fired rockets"
    span = ChunkText(text, chunk).locate(quote)
    assert span is not None
    assert chunk.start <= span.start < span.end <= chunk.end
    assert text[span.start : span.end] == quote


def test_a_quote_outside_the_chunk_is_not_found_though_the_text_holds_it() -> None:
    text = paragraphs(30)
    chunk = split_text(text, 2_000, 300)[2]
    assert ChunkText(text, chunk).locate("Paragraph 0000 reports") is None


def test_a_normalized_quote_in_a_chunk_maps_back_to_the_passage_as_written() -> None:
    text = "Filler sentence here. " * 100 + "The “drone” hit\nthe base. " + "More filler. " * 100
    chunk = next(c for c in split_text(text, 1_000, 100) if "drone" in text[c.start : c.end])
    span = ChunkText(text, chunk).locate('the "drone" hit the base')
    assert span is not None
    assert span.match is MatchKind.NORMALIZED
    assert text[span.start : span.end] == "The “drone” hit\nthe base"


# Texts of words, spaces, line breaks, full stops and a few non-Latin letters.
_texts = st.text(alphabet=st.sampled_from("ab cd.\n\nxé。"), min_size=0, max_size=4_000)


@given(_texts, st.integers(min_value=1, max_value=600), st.integers(min_value=0, max_value=300))
def test_chunks_always_cover_the_text_within_the_budget(
    text: str, max_chars: int, overlap: int
) -> None:
    chunks = split_text(text, max_chars, overlap)
    if not text:
        assert chunks == [Chunk(1, 1, 0, 0)]
        return
    check_cover(text, chunks, max_chars)
    shared = min(overlap, max_chars // 4)
    for before, after in pairwise(chunks):
        assert shared // 2 <= before.end - after.start <= shared


@given(_texts, st.integers(min_value=40, max_value=600), st.data())
def test_every_quote_of_a_chunk_maps_back_to_the_same_passage_of_the_text(
    text: str, max_chars: int, data: st.DataObject
) -> None:
    chunks = split_text(text, max_chars, max_chars // 8)
    chunk = data.draw(st.sampled_from(chunks))
    start = data.draw(st.integers(min_value=chunk.start, max_value=chunk.end))
    end = data.draw(st.integers(min_value=start, max_value=chunk.end))
    quote = text[start:end].strip(" \n.")
    assume(quote)
    span = ChunkText(text, chunk).locate(quote)
    assert span is not None
    assert chunk.start <= span.start <= span.end <= chunk.end
    assert text[span.start : span.end] == quote
