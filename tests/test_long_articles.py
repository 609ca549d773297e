"""Long articles end to end: sent in chunks, their records joined, every offset the article's.

The local fake server (`sitrep.testing.fakeserver`) answers each chunk's request with the
incidents that a coder would find in the text of that request: `coder` below reads the chunk out
of the user message and codes every sentence of the form "militants fired N rockets at ...". It
is a test fixture, not a model: it proves the plumbing (chunks, offsets, joining, provenance,
the ledger), never a reading.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Callable
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import sitrep.run.ledger as ledger_module
from sitrep.errors import (
    ConfigurationError,
    ContextOverflowError,
    InvalidOutputError,
    TransportError,
)
from sitrep.extract.extractor import Extractor
from sitrep.extract.request import RequestBuilder, estimate_request_tokens
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.run.budget import Budget
from sitrep.run.ledger import ArticleOutcome, ArticleStatus, Ledger
from sitrep.run.plan import plan_batch
from sitrep.run.scheduler import run_batch
from sitrep.settings import BatchOptions, ModelConfig, Price, PromptProfile, RetryPolicy
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from sitrep.text.chunks import Chunk

PUBLISHED = date(2024, 7, 17)
WIDTH = 248  # every paragraph as long, so which ones report attacks never moves a chunk
PARAGRAPHS = 1_000  # 1,000 paragraphs and their breaks: 249,998 characters
FAST = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01, jitter=0.0, deadline=10.0)
_ATTACK = re.compile(
    r"Militants fired (\d+) rockets at the base in district (\d{4}) on Monday night\."
)
_ARTICLE_TEXT = re.compile(r'<article published="[^"]*">\n(.*)\n</article>', re.DOTALL)


def paragraph(number: int, attack: bool) -> str:
    district, rockets = f"district {number:04d}", number % 7 + 2
    if attack:
        said = f"Militants fired {rockets} rockets at the base in {district} on Monday night."
    else:
        said = f"Officials in {district} met on Monday to discuss the harvest and the roads."
    return f"Paragraph {number:04d}. {said} Nothing more was said.".ljust(WIDTH)


def long_text(attacks: set[int]) -> str:
    return "\n\n".join(paragraph(n, n in attacks) for n in range(PARAGRAPHS))


def config(base_url: str = "http://127.0.0.1:9/v1", **options: Any) -> ModelConfig:
    return ModelConfig(model="gpt-4.1-mini", base_url=base_url, retry=FAST, **options)


def chunk_text(body: dict[str, Any]) -> str:
    """The article text a request carries, read out of its first user message."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    found = _ARTICLE_TEXT.search(user)
    assert found is not None, "a request without an article"
    return found.group(1)


def attack_incident(sentence: str, rockets: int) -> dict[str, Any]:
    return {
        "summary": "Militants fired rockets at a base.",
        "salience": "main",
        "status": "occurred",
        "event_type": "Explosions/Remote violence",
        "sub_event_type": "Shelling/artillery/missile attack",
        "when": {"phrase": "Monday night", "start": None, "end": None, "time_of_day": "night"},
        "where": {
            "name": "the base",
            "site_kind": "base",
            "admin1": None,
            "country_code": None,
            "precision": "site",
        },
        "perpetrator": {"name": "militants", "attribution": "unknown"},
        "target": "the base",
        "munitions": {
            "weapon": "rocket",
            "launched": rockets,
            "intercepted": None,
            "impacted": None,
        },
        "casualties": [],
        "damage": {"level": "not reported", "description": None},
        "reported_by": [],
        "evidence": [sentence],
    }


def coder(body: dict[str, Any]) -> str:
    """Code every attack sentence the request's text holds, quoting it."""
    incidents = [
        attack_incident(found.group(0), int(found.group(1)))
        for found in _ATTACK.finditer(chunk_text(body))
    ]
    return json.dumps({"incidents": incidents, "statistics": []})


def failing_in(
    marker: str, answer: Callable[[dict[str, Any]], str]
) -> Callable[[dict[str, Any]], str]:
    """`answer`, but a request whose text holds `marker` is answered with a made-up quote."""

    def reply(body: dict[str, Any]) -> str:
        if marker in chunk_text(body):
            made_up = attack_incident("Militants fired 9 rockets at the palace.", 9)
            return json.dumps({"incidents": [made_up], "statistics": []})
        return answer(body)

    return reply


@pytest.fixture(scope="module")
def layout() -> tuple[list[Chunk], set[int], int]:
    """The chunks of the long article, the paragraphs that report attacks, and the one of them
    in the overlap of the first two chunks."""
    builder = RequestBuilder(config())
    plain = Article.from_text(long_text(set()), published=PUBLISHED)
    chunks = builder.chunks(plain)
    starts = [n * (WIDTH + 2) for n in range(PARAGRAPHS)]
    inside = [
        n for n, s in enumerate(starts) if chunks[1].start <= s and s + WIDTH <= chunks[0].end
    ]
    shared = inside[len(inside) // 2]
    middles = {next(n for n, s in enumerate(starts) if s >= (c.start + c.end) // 2) for c in chunks}
    return chunks, {shared, *middles}, shared


@pytest.fixture(scope="module")
def article(layout: tuple[list[Chunk], set[int], int]) -> Article:
    return Article.from_text(long_text(layout[1]), published=PUBLISHED)


def offsets_slice_the_text(extraction: Extraction, text: str) -> None:
    for incident in extraction.incidents:
        for evidence in incident.evidence:
            assert text[evidence.start : evidence.end] == evidence.quote


def test_the_long_article_is_split_into_overlapping_chunks_each_within_the_budget(
    article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    assert len(article.text) >= 249_000
    assert RequestBuilder(config()).chunks(article) == chunks  # the attacks moved no boundary
    assert len(chunks) == 7
    assert all(len(c) <= 40_000 for c in chunks)
    assert all(b.start < a.end for a, b in pairwise(chunks))


def test_a_250000_character_article_is_extracted_in_chunks_its_offsets_the_articles(
    article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, attacks, shared = layout
    with FakeOpenAIServer(ServerSettings(answer=coder)) as server:
        extractor = Extractor(config(server.base_url), api_key="test-key-never-sent")
        try:
            extraction = extractor.extract(article)
        finally:
            extractor.close()
        assert server.stats().requests == len(chunks)
    offsets_slice_the_text(extraction, article.text)
    districts = [i.evidence[0].quote.split("district ")[1][:4] for i in extraction.incidents]
    assert sorted(districts) == sorted(f"{n:04d}" for n in attacks)  # the shared one once
    (twice,) = [i for i in extraction.incidents if f"district {shared:04d}" in i.evidence[0].quote]
    assert chunks[1].start <= twice.evidence[0].start < twice.evidence[0].end <= chunks[0].end
    assert len({i.id for i in extraction.incidents}) == len(extraction.incidents)
    for incident in extraction.incidents:
        assert incident.when.anchor == PUBLISHED  # every chunk read against the article's date
        assert incident.when.start == date(2024, 7, 15)
        assert incident.provenance.chunks == len(chunks)
        assert len(incident.provenance.request_ids) == len(chunks)
    assert extraction.provenance.chunks == len(chunks)


def test_the_batch_writes_a_chunked_article_whole_and_its_chunk_count_to_the_ledger(
    tmp_path: Path, article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, attacks, _ = layout
    short = Article.from_text(paragraph(3, attack=True).strip(), published=PUBLISHED)
    with FakeOpenAIServer(ServerSettings(answer=coder)) as server:
        summary = asyncio.run(
            run_batch(
                [article, short],
                config(server.base_url),
                api_key="test-key-never-sent",
                out_dir=tmp_path,
                options=BatchOptions(concurrency=4),
            )
        )
        assert server.stats().requests == len(chunks) + 1
    assert (summary.run.extracted, summary.run.failed) == (2, 0)
    texts = {
        json.loads(line)["id"]: json.loads(line)["text"]
        for line in (tmp_path / "articles.jsonl").read_text("utf-8").splitlines()
    }
    written = [
        json.loads(line) for line in (tmp_path / "incidents.jsonl").read_text("utf-8").splitlines()
    ]
    assert len(written) == len(attacks) + 1
    for record in written:
        text = texts[record["provenance"]["article_id"]]
        for evidence in record["evidence"]:
            assert text[evidence["start"] : evidence["end"]] == evidence["quote"]
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        counts = dict(db.execute("SELECT id, chunks FROM articles"))
        spent = dict(db.execute("SELECT id, prompt_tokens FROM articles"))
        calls = dict(
            db.execute("SELECT article_id, sum(prompt_tokens) FROM calls GROUP BY article_id")
        )
    assert counts == {article.id: len(chunks), short.id: 1}
    assert spent == calls  # every chunk's tokens are the article's


def test_a_failing_chunk_fails_the_article_with_the_chunk_named_and_every_cost_counted(
    article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    third = chunks[2]
    marker = article.text[(third.start + third.end) // 2 :][:20]  # only chunk 3 holds it
    assert all(marker not in article.text[c.start : c.end] for c in chunks if c != third)
    with FakeOpenAIServer(ServerSettings(answer=failing_in(marker, coder))) as server:
        extractor = Extractor(config(server.base_url), api_key="test-key-never-sent")
        try:
            with pytest.raises(InvalidOutputError) as failed:
                asyncio.run(extractor.aextract(article))
        finally:
            extractor.close()
        sent = server.stats().requests
    reasks = config().reask_budget
    assert sent == 2 + 1 + reasks  # chunks 1 and 2, then chunk 3 and its re-asks; no more
    message = str(failed.value)
    assert message.startswith(
        f"chunk 3 of 7 (characters {third.start:,}-{third.end:,}): output still invalid"
    )
    assert "not in the article" in " ".join(failed.value.problems)
    assert len(failed.value.request_ids) == sent  # the chunks before it are charged too
    assert failed.value.usage.prompt_tokens > 3 * 40_000 // 4


def test_the_batch_fails_the_article_of_a_failing_chunk_with_its_reason_and_no_records(
    tmp_path: Path, article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    last = chunks[-1]
    marker = article.text[(last.start + last.end) // 2 :][:20]
    with FakeOpenAIServer(ServerSettings(answer=failing_in(marker, coder))) as server:
        summary = asyncio.run(
            run_batch(
                [article],
                config(server.base_url),
                api_key="test-key-never-sent",
                out_dir=tmp_path,
            )
        )
    assert (summary.run.extracted, summary.run.failed) == (0, 1)
    assert (tmp_path / "incidents.jsonl").read_text("utf-8") == ""  # never a partial result
    (failure,) = [
        json.loads(line) for line in (tmp_path / "failures.jsonl").read_text("utf-8").splitlines()
    ]
    assert failure["reason"].startswith(f"chunk 7 of 7 (characters {last.start:,}-{last.end:,}): ")
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        row = db.execute("SELECT chunks, prompt_tokens, error_kind FROM articles").fetchone()
        (calls,) = db.execute("SELECT sum(prompt_tokens) FROM calls").fetchone()
    assert row == (len(chunks), calls, "InvalidOutputError")


def test_an_article_that_fits_one_request_is_sent_whole_as_before(article: Article) -> None:
    builder = RequestBuilder(config())
    fits = Article.from_text(article.text[:40_000], published=PUBLISHED)
    assert builder.chunks(fits) == [Chunk(1, 1, 0, 40_000)]
    user = builder.build(fits)["messages"][-1]["content"]
    assert "overlapping parts" not in user
    over = Article.from_text(article.text[:40_001], published=PUBLISHED)
    assert len(builder.chunks(over)) == 2


def test_each_chunk_says_which_part_it_is_and_carries_only_its_own_text(
    article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    builder = RequestBuilder(config())
    body = builder.build(article, chunks[1])
    assert "comes in 7 overlapping parts, and this is part 2." in body["messages"][-1]["content"]
    assert chunk_text(body) == article.text[chunks[1].start : chunks[1].end]


def test_a_small_context_window_makes_smaller_chunks_whose_requests_all_fit(
    article: Article,
) -> None:
    small = config(prompt_profile=PromptProfile.COMPACT, context_window=8192, max_output_tokens=512)
    builder = RequestBuilder(small)
    chunks = builder.chunks(article)
    assert len(chunks) > 7
    for chunk in chunks:
        assert estimate_request_tokens(builder.build(article, chunk)) + 512 <= 8192


def test_a_window_with_no_room_for_a_chunk_fails_the_long_article_before_sending() -> None:
    tiny = Article.from_text("A rocket hit the base.", published=PUBLISHED)
    loose = RequestBuilder(config(prompt_profile=PromptProfile.COMPACT, max_output_tokens=500))
    needed = estimate_request_tokens(loose.build(tiny))
    tight = RequestBuilder(
        config(
            prompt_profile=PromptProfile.COMPACT, max_output_tokens=500, context_window=needed + 500
        )
    )
    assert tight.chunks(tiny) == [Chunk(1, 1, 0, len(tiny.text))]  # what fits is still sent
    longer = Article.from_text("A rocket hit the base. " * 20, published=PUBLISHED)
    with pytest.raises(ContextOverflowError, match="no room for a chunk"):
        tight.chunks(longer)


def test_the_dry_run_counts_every_chunks_request(
    article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    short = Article.from_text("A rocket hit the base on Monday.", published=PUBLISHED)
    plan = plan_batch([article, short], config(), options=BatchOptions(expected_output_tokens=100))
    assert (plan.articles, plan.requests, plan.chunked) == (2, len(chunks) + 1, 1)
    assert plan.completion_tokens == (len(chunks) + 1) * 100
    overlap = sum(a.end - b.start for a, b in pairwise(chunks))
    assert plan.prompt_tokens > (len(article.text) + overlap) // 4 + len(chunks) * 5_000


def test_the_cost_ceiling_counts_every_chunks_request(
    article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    price = Price(1.0, 1.0)
    builder = RequestBuilder(config())
    whole = Budget(price, max_cost=None, expected_output_tokens=100, fixed_request_chars=4_000)
    chunked = Budget(
        price,
        max_cost=None,
        expected_output_tokens=100,
        fixed_request_chars=4_000,
        chunks=builder.chunks,
    )
    sent = sum((4_000 + len(c)) // 4 for c in chunks)
    assert chunked.estimate(article) == pytest.approx(price.cost(sent, 100 * len(chunks)))
    assert chunked.estimate(article) > whole.estimate(article)


def test_a_ledger_from_before_chunking_gains_the_count_and_keeps_its_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tuple(m for m in ledger_module.MIGRATIONS if m[0] != "0006_article_chunks")
    monkeypatch.setattr(ledger_module, "MIGRATIONS", before)
    old = Ledger.open(tmp_path)
    old.add_pending("old", "old.txt")
    old.close()
    monkeypatch.undo()
    upgraded = Ledger.open(tmp_path)
    try:
        assert "0006_article_chunks" in upgraded.migrations()
        upgraded.add_pending("new", "new.txt")
        upgraded.start("new")
        outcome = ArticleOutcome("m", "p", "s", 10, 5, None, chunks=3)
        upgraded.finish("new", ArticleStatus.DONE, outcome)
        assert upgraded.get("old") is not None
    finally:
        upgraded.close()
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        assert dict(db.execute("SELECT id, chunks FROM articles")) == {"old": None, "new": 3}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_chars": 999}, "chunk_chars must be at least 1,000"),
        ({"chunk_overlap": -1}, "chunk_overlap cannot be negative"),
        ({"max_article_chars": 0}, "max_article_chars must be positive"),
    ],
)
def test_chunk_settings_that_cannot_work_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ModelConfig(model="m", **options)  # type: ignore[arg-type]


def test_an_overlap_past_a_quarter_of_the_chunk_is_taken_as_a_quarter() -> None:
    builder = RequestBuilder(config(chunk_chars=4_000, chunk_overlap=3_000))
    chunks = builder.chunks(Article.from_text("x" * 10_000))
    assert chunks[0].end - chunks[1].start == 1_000


def test_a_long_article_asked_again_pays_only_for_the_chunks_not_yet_answered(
    tmp_path: Path, article: Article, layout: tuple[list[Chunk], set[int], int]
) -> None:
    chunks, _, _ = layout
    third = chunks[2]
    marker = article.text[(third.start + third.end) // 2 :][:20]

    def down_at_the_third(body: dict[str, Any]) -> str:
        if marker in chunk_text(body):
            raise RuntimeError("the server fell over")  # answered as a 500, never cached
        return coder(body)

    ledger = Ledger.open(tmp_path)
    try:
        with FakeOpenAIServer(ServerSettings(answer=down_at_the_third)) as server:
            first = Extractor(config(server.base_url), api_key="k", call_log=ledger, cache=ledger)
            with pytest.raises(TransportError, match=r"^chunk 3 of 7 "):
                first.extract(article)
            first.close()
        with FakeOpenAIServer(ServerSettings(answer=coder)) as server:
            again = Extractor(config(server.base_url), api_key="k", call_log=ledger, cache=ledger)
            extraction = again.extract(article)
            again.close()
            sent = server.stats().requests
    finally:
        ledger.close()
    assert sent == len(chunks) - 2  # chunks 1 and 2 came from the cache
    assert extraction.provenance.chunks == len(chunks)
