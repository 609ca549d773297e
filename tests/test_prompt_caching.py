"""Prompt caching, priced: the static prefix comes first and is the same for every article, a
request can carry `prompt_cache_key`, the usage's cached tokens are read, logged, summed and
priced at the cached rate, and the run summary and the dry run show what caching saves."""

from __future__ import annotations

import io
import json
import re
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from conftest import ledger_from_before
from sitrep.cli import main
from sitrep.cli.display import plan_table, summary_table
from sitrep.errors import ConfigurationError
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.usage import TokenUsage, cacheable_tokens, usage_from_body
from sitrep.run.budget import Budget, load_prices
from sitrep.run.ledger import MIGRATIONS, Ledger
from sitrep.run.plan import plan_batch
from sitrep.run.scheduler import BatchProgress, BatchSummary
from sitrep.settings import DEFAULT_PRICES, ModelConfig, OutputMode, Price, PromptProfile
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from sitrep.wire.calls import Call, encode_request
from synthetic import statistic_arguments, synthetic_articles, synthetic_text

MODEL = "gpt-4.1-mini"

# Dates whose first characters differ, so that the bodies part at the article's first byte.
ARTICLES = [
    Article.from_text("Two soldiers were killed in an ambush.", published=date(2024, 3, 1)),
    Article.from_text("A market was shelled; nine people died.", published=date(1999, 12, 31)),
    Article.from_text("Police reported a bombing at the station.", published=None),
]


def common_prefix(bodies: list[bytes]) -> bytes:
    """The longest start every one of `bodies` shares, byte for byte."""
    first, *rest = bodies
    length = len(first)
    for body in rest:
        length = min(length, len(body))
        length = next((i for i in range(length) if body[i] != first[i]), length)
    return first[:length]


def static_part(builder: RequestBuilder, body: dict[str, Any]) -> bytes:
    """The bytes of `body` up to the end of its user message's fixed start."""
    encoded = encode_request(body)
    start = json.dumps(builder.user_prefix, ensure_ascii=False)[:-1].encode()  # open string
    return encoded[: encoded.index(start) + len(start)]


# Usage


def test_cached_tokens_are_read_from_the_prompt_tokens_details() -> None:
    body = {
        "usage": {
            "prompt_tokens": 6800,
            "completion_tokens": 500,
            "total_tokens": 7300,
            "prompt_tokens_details": {"cached_tokens": 6144, "audio_tokens": 0},
        }
    }
    assert usage_from_body(body) == TokenUsage(
        prompt_tokens=6800, completion_tokens=500, total_tokens=7300, cached_tokens=6144
    )


@pytest.mark.parametrize(
    "details", [None, {}, {"cached_tokens": None}, {"cached_tokens": "12"}, "12", [12]]
)
def test_usage_without_usable_details_has_no_cached_tokens(details: object) -> None:
    usage: dict[str, Any] = {"prompt_tokens": 100, "completion_tokens": 10}
    if details is not None:
        usage["prompt_tokens_details"] = details
    read = usage_from_body({"usage": usage})
    assert read is not None
    assert read.cached_tokens == 0
    assert read.prompt_tokens == 100


def test_cached_tokens_never_exceed_the_prompt_they_are_part_of() -> None:
    body = {
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 80},
        }
    }
    read = usage_from_body(body)
    assert read is not None
    assert read.cached_tokens == 50


def test_cached_tokens_add_up_with_the_rest_of_the_usage() -> None:
    one = TokenUsage(
        prompt_tokens=2000, completion_tokens=10, total_tokens=2010, cached_tokens=1024
    )
    two = TokenUsage(prompt_tokens=3000, completion_tokens=20, total_tokens=3020, cached_tokens=0)
    assert one + two == TokenUsage(
        prompt_tokens=5000, completion_tokens=30, total_tokens=5030, cached_tokens=1024
    )


@pytest.mark.parametrize(
    ("prefix", "cached"),
    [(0, 0), (1023, 0), (1024, 1024), (1151, 1024), (1152, 1152), (6000, 5888)],
)
def test_the_cacheable_part_of_a_prefix_follows_openais_1024_and_128_rule(
    prefix: int, cached: int
) -> None:
    assert cacheable_tokens(prefix) == cached


# Prices


def test_cost_prices_uncached_prompt_cached_prompt_and_completion_each_at_its_rate() -> None:
    price = Price(0.40, 1.60, 0.10)
    # 2,000 uncached at 0.40, 8,000 cached at 0.10, 1,000 completion at 1.60, per million.
    assert price.cost(10_000, 1_000, 8_000) == pytest.approx(
        (2_000 * 0.40 + 8_000 * 0.10 + 1_000 * 1.60) / 1e6
    )
    assert price.saving(8_000) == pytest.approx(8_000 * (0.40 - 0.10) / 1e6)


def test_without_a_cached_rate_cached_tokens_cost_input() -> None:
    price = Price(0.40, 1.60)
    assert price.cost(10_000, 1_000, 8_000) == price.cost(10_000, 1_000)
    assert price.saving(8_000) == 0.0


def test_the_default_table_has_openais_cached_input_rates() -> None:
    rates = {
        name: (p.input_per_million, p.cached_input_per_million, p.output_per_million)
        for name, p in DEFAULT_PRICES.items()
    }
    assert rates == {
        "gpt-5": (1.25, 0.125, 10.00),
        "gpt-5-mini": (0.25, 0.025, 2.00),
        "gpt-5-nano": (0.05, 0.005, 0.40),
        "gpt-4.1": (2.00, 0.50, 8.00),
        "gpt-4.1-mini": (0.40, 0.10, 1.60),
        "gpt-4.1-nano": (0.10, 0.025, 0.40),
        "gpt-4o": (2.50, 1.25, 10.00),
        "gpt-4o-mini": (0.15, 0.075, 0.60),
        "o4-mini": (1.10, 0.275, 4.40),
        "o3": (2.00, 0.50, 8.00),
    }


def test_a_price_file_may_give_or_omit_the_cached_input_rate(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "mine": {"input": 1.0, "output": 2.0, "cached_input": 0.25},
                "theirs": {"input": 1.0, "output": 2.0},
            }
        )
    )
    prices = load_prices(path)
    assert prices["mine"] == Price(1.0, 2.0, 0.25)
    assert prices["theirs"] == Price(1.0, 2.0, None)
    assert prices["theirs"].cached_rate == 1.0


def test_a_price_file_with_a_cached_rate_that_is_no_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"mine": {"input": 1.0, "output": 2.0, "cached_input": "low"}}))
    with pytest.raises(ConfigurationError, match="cached_input"):
        load_prices(path)


def test_the_budget_charges_cached_tokens_at_the_cached_rate_and_counts_the_saving() -> None:
    budget = Budget(
        Price(0.40, 1.60, 0.10), max_cost=None, expected_output_tokens=100, fixed_request_chars=0
    )
    usage = TokenUsage(prompt_tokens=6_800, completion_tokens=500, cached_tokens=6_144)
    cost = budget.charge(usage)
    assert cost == pytest.approx((656 * 0.40 + 6_144 * 0.10 + 500 * 1.60) / 1e6)
    assert budget.usage.cached_tokens == 6_144
    assert budget.cache_saving == pytest.approx(6_144 * 0.30 / 1e6)


# The ledger


def test_the_ledger_keeps_each_calls_cached_tokens(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path)
    try:
        for cached in (4096, None):
            ledger.log_call(
                Call("a1", f"h{cached}", 200, 1.0, 5000, 100, None, b"{}", cached_tokens=cached)
            )
        assert [c.cached_tokens for c in ledger.calls_for("a1")] == [4096, None]
    finally:
        ledger.close()


def test_a_ledger_from_before_cached_tokens_gains_the_column_and_keeps_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgraded = ledger_from_before("0008_cached_tokens", tmp_path, monkeypatch)
    try:
        assert upgraded.migrations() == [name for name, _ in MIGRATIONS]
        upgraded.log_call(Call("a1", "new", 200, 1.0, 5000, 100, None, b"{}", cached_tokens=3))
        assert [(c.request_hash, c.cached_tokens) for c in upgraded.calls_for("a1")] == [
            ("old", None),
            ("new", 3),
        ]
    finally:
        upgraded.close()


# The static prefix


@pytest.mark.parametrize("profile", list(PromptProfile))
@pytest.mark.parametrize("mode", list(OutputMode))
def test_every_articles_body_starts_with_the_same_bytes_holding_all_but_the_article(
    mode: OutputMode, profile: PromptProfile
) -> None:
    builder = RequestBuilder(ModelConfig(model=MODEL, mode=mode, prompt_profile=profile))
    bodies = [builder.build(article) for article in ARTICLES]
    shared = common_prefix([encode_request(body) for body in bodies])
    # The bodies part exactly where the article begins: its date, the first thing of it.
    assert shared == static_part(builder, bodies[0])
    assert encode_request({"role": "system", "content": builder.system}) in shared
    for key, value in builder.static.items():
        assert encode_request({key: value})[1:-1] in shared, f"{key} is not in the shared prefix"
    for article in ARTICLES:
        assert article.text.encode() not in shared


def test_a_long_articles_chunk_requests_keep_the_same_prefix() -> None:
    builder = RequestBuilder(ModelConfig(model=MODEL, chunk_chars=1_000, chunk_overlap=100))
    text = " ".join(synthetic_text(n) for n in range(1, 60))
    long = Article.from_text(text, published=date(2023, 5, 6))
    chunks = builder.chunks(long)
    assert len(chunks) > 2
    bodies = [builder.build(long, chunk) for chunk in chunks]
    shared = common_prefix([encode_request(b) for b in [*bodies, builder.build(ARTICLES[1])]])
    assert shared == static_part(builder, bodies[0])


# prompt_cache_key


def test_no_prompt_cache_key_is_sent_unless_asked_for() -> None:
    body = RequestBuilder(ModelConfig(model=MODEL)).build(ARTICLES[0])
    assert "prompt_cache_key" not in body


def test_a_given_prompt_cache_key_is_sent_before_the_messages() -> None:
    body = RequestBuilder(ModelConfig(model=MODEL, prompt_cache_key="news-2024")).build(ARTICLES[0])
    assert body["prompt_cache_key"] == "news-2024"
    assert list(body).index("prompt_cache_key") < list(body).index("messages")


def test_the_auto_prompt_cache_key_follows_the_model_and_prompt_version() -> None:
    def key(**options: Any) -> str:
        config = ModelConfig(model=options.pop("model", MODEL), prompt_cache_key="auto", **options)
        return str(RequestBuilder(config).build(ARTICLES[0])["prompt_cache_key"])

    assert key() == key()
    assert key() != "auto"
    assert key() != key(model="gpt-4.1")
    assert key() != key(prompt_profile=PromptProfile.COMPACT)


def test_a_blank_prompt_cache_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="prompt_cache_key"):
        ModelConfig(model=MODEL, prompt_cache_key=" ")


# The summary and the dry run


def test_the_run_summary_shows_cached_tokens_and_what_they_saved(tmp_path: Path) -> None:
    progress = BatchProgress(
        extracted=2, prompt_tokens=13_600, cached_tokens=12_288, cost=0.0042, cache_saving=0.0037
    )
    summary = BatchSummary(progress, 2, 0, 0, None, tmp_path)
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(summary_table(summary))
    shown = console.export_text()
    assert re.search(r"cached \(served from the prompt cache\)\s+│\s+12,288", shown)
    assert re.search(r"saved by the prompt cache\s+│\s+\$0\.0037", shown)


def test_the_dry_run_prices_the_static_prefix_cached_for_every_request_after_the_first() -> None:
    config = ModelConfig(model=MODEL)
    articles = synthetic_articles(4)
    plan = plan_batch(articles, config)
    builder = RequestBuilder(config)
    prefix_chars = len(json.dumps(builder.static)) + len(builder.system) + len(builder.user_prefix)
    per_request = plan.cacheable_tokens // 3
    assert plan.cacheable_tokens == 3 * per_request
    assert per_request >= 1024
    assert (per_request - 1024) % 128 == 0
    # Within one 128-token step (and the message overhead) of the estimated prefix.
    assert prefix_chars // 4 - 128 < per_request <= prefix_chars // 4 + 8
    price = DEFAULT_PRICES[MODEL]
    assert plan.cost is not None
    assert plan.cost_cached == pytest.approx(plan.cost - price.saving(plan.cacheable_tokens))
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(plan_table(plan))
    shown = console.export_text()
    assert f"with prompt caching ({plan.cacheable_tokens:,} prompt tokens cached)" in shown
    assert f"${plan.cost_cached:,.4f}" in shown


def test_a_dry_run_of_one_request_caches_nothing() -> None:
    plan = plan_batch(synthetic_articles(1), ModelConfig(model=MODEL))
    assert plan.cacheable_tokens == 0
    assert plan.cost_cached == plan.cost


# End to end, through the fake server


def test_a_run_logs_sums_and_prices_the_cached_tokens_the_server_reports(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    for n in range(1, 4):
        (archive / f"a{n}.txt").write_text(synthetic_text(n), "utf-8")
    sent: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> str:
        sent.append(body)
        return statistic_arguments(body)

    out = tmp_path / "out"
    settings = ServerSettings(answer=answer, cached_share=0.5)
    with FakeOpenAIServer(settings) as server:
        result = CliRunner().invoke(
            main,
            [
                *("run", str(archive), "--out", str(out), "--base-url", server.base_url),
                *("--model", MODEL, "--prompt-cache-key", "auto"),
            ],
        )
    assert result.exit_code == 0, result.stderr
    assert len(sent) == 3
    assert len({body["prompt_cache_key"] for body in sent}) == 1
    ledger = Ledger.open(out)
    try:
        calls = [call for article in ledger_ids(out) for call in ledger.calls_for(article)]
    finally:
        ledger.close()
    assert len(calls) == 3
    for call in calls:
        assert call.prompt_tokens is not None
        assert call.cached_tokens is not None
        assert call.cached_tokens == cacheable_tokens(call.prompt_tokens // 2)
        assert call.cached_tokens >= 1024
    cached = sum(call.cached_tokens or 0 for call in calls)
    price = DEFAULT_PRICES[MODEL]
    with sqlite3.connect(out / "ledger.sqlite") as db:
        (charged,) = db.execute("SELECT sum(cost) FROM articles").fetchone()
    assert charged == pytest.approx(
        sum(
            price.cost(c.prompt_tokens or 0, c.completion_tokens or 0, c.cached_tokens or 0)
            for c in calls
        )
    )
    assert charged < sum(price.cost(c.prompt_tokens or 0, c.completion_tokens or 0) for c in calls)
    records = [json.loads(line) for line in (out / "statistics.jsonl").read_text().splitlines()]
    assert sum(r["provenance"]["usage"]["cached_tokens"] for r in records) == cached
    assert re.search(rf"cached \(served from the prompt cache\)\s+│\s+{cached:,}", result.stdout)
    saving = price.saving(cached)
    assert "saved by the prompt cache" in result.stdout
    assert f"${saving:,.4f}" in result.stdout


def ledger_ids(out: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (out / "articles.jsonl").read_text().splitlines()]
