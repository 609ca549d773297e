"""Batch API prices: every rate at the price's batch share (OpenAI's half), read from a prices
file, refused outside (0, 1], and shown by the dry run beside the interactive cost."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from conftest import ROOT
from sitrep.cli import main
from sitrep.cli.display import plan_table
from sitrep.errors import ConfigurationError
from sitrep.run.budget import load_prices
from sitrep.run.plan import plan_batch
from sitrep.run.readers import read_archives
from sitrep.settings import DEFAULT_PRICES, BatchOptions, ModelConfig, Price
from synthetic import synthetic_articles

MODEL = "gpt-4.1-mini"
ARCHIVE = ROOT / "examples" / "archive"


def test_for_batch_halves_every_rate_by_default() -> None:
    batch = DEFAULT_PRICES[MODEL].for_batch()
    assert batch.input_per_million == pytest.approx(0.20)
    assert batch.cached_input_per_million == pytest.approx(0.05)
    assert batch.output_per_million == pytest.approx(0.80)
    assert batch.batch_share == 1.0  # a batch price is not halved again
    assert batch.for_batch() == batch


def test_for_batch_keeps_a_missing_cached_rate_missing() -> None:
    batch = Price(0.40, 1.60).for_batch()
    assert batch.cached_input_per_million is None
    # Cached tokens then cost the batch input rate, not the standard one.
    assert batch.cost(10_000, 0, 8_000) == pytest.approx(10_000 * 0.20 / 1e6)


def test_a_batch_call_costs_half_the_same_call_interactive() -> None:
    price = Price(0.40, 1.60, 0.10)
    assert price.for_batch().cost(10_000, 1_000, 8_000) == pytest.approx(
        price.cost(10_000, 1_000, 8_000) / 2
    )


@pytest.mark.parametrize("share", [0.0, -0.5, 1.01, float("nan")])
def test_a_batch_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="batch_share"):
        Price(0.40, 1.60, 0.10, batch_share=share)


def test_a_batch_share_from_a_prices_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "mine": {"input": 1.0, "output": 2.0, "cached_input": 0.5, "batch_share": 0.25},
                "theirs": {"input": 1.0, "output": 2.0},
            }
        )
    )
    prices = load_prices(path)
    assert prices["mine"].batch_share == 0.25
    assert prices["mine"].for_batch() == Price(0.25, 0.5, 0.125, batch_share=1.0)
    assert prices["theirs"].batch_share == 0.5


@pytest.mark.parametrize("share", [0, 1.5, "half"])
def test_a_prices_file_with_a_bad_batch_share_is_refused_naming_it(
    tmp_path: Path, share: object
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"mine": {"input": 1.0, "output": 2.0, "batch_share": share}}))
    with pytest.raises(ConfigurationError, match="batch_share") as refused:
        load_prices(path)
    assert str(path) in str(refused.value)


def test_the_dry_run_prices_the_same_tokens_at_half_for_the_batch_api() -> None:
    plan = plan_batch(synthetic_articles(4), ModelConfig(model=MODEL))
    assert plan.cacheable_tokens > 0
    assert plan.cost is not None
    assert plan.cost_cached is not None
    assert plan.cost_cached < plan.cost
    assert plan.cost_batch == pytest.approx(plan.cost * 0.5)
    assert plan.cost_batch_cached == pytest.approx(plan.cost_cached * 0.5)


def test_the_dry_run_takes_the_batch_share_of_the_price_table() -> None:
    config = ModelConfig(model=MODEL)
    prices = {MODEL: Price(0.40, 1.60, 0.10, batch_share=0.8)}
    plan = plan_batch(synthetic_articles(3), config, options=BatchOptions(prices=prices))
    assert plan.cost is not None
    assert plan.cost_cached is not None
    assert plan.cost_batch == pytest.approx(plan.cost * 0.8)
    assert plan.cost_batch_cached == pytest.approx(plan.cost_cached * 0.8)


def test_a_dry_run_without_a_price_has_no_batch_cost() -> None:
    plan = plan_batch(synthetic_articles(2), ModelConfig(model="some-local-model"))
    assert plan.cost is None
    assert plan.cost_batch is None
    assert plan.cost_batch_cached is None
    shown = _shown(plan_table(plan, batch_api=True))
    assert re.search(r"interactive / Batch API\s+│\s+unknown \(no price for this model\)", shown)


def test_the_plan_table_shows_both_costs_and_their_shares_of_the_interactive_cost() -> None:
    plan = plan_batch(synthetic_articles(4), ModelConfig(model=MODEL))
    assert plan.cost is not None
    assert plan.cost_cached is not None
    shown = _shown(plan_table(plan, batch_api=True))
    pair = re.escape(f"${plan.cost:,.4f} / ${plan.cost_batch:,.4f}")
    assert re.search(rf"estimated cost: interactive / Batch API\s+│\s+{pair}", shown)
    cached_pair = re.escape(f"${plan.cost_cached:,.4f} / ${plan.cost_batch_cached:,.4f}")
    assert re.search(
        rf"with prompt caching \([\d,]+ prompt tokens cached\)\s+│\s+{cached_pair}", shown
    )
    shares = re.findall(r"of interactive, nothing cached\s+│\s+(\d+)% / (\d+)%", shown)
    cached_share = plan.cost_cached / plan.cost
    assert shares == [
        ("100", "50"),
        (f"{cached_share * 100:.0f}", f"{cached_share * 50:.0f}"),
    ]


def test_dry_run_with_batch_api_prints_interactive_and_batch_costs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(ARCHIVE), "--out", str(out), "--dry-run", "--batch-api"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    plan = plan_batch(read_archives([ARCHIVE]), ModelConfig(model=MODEL), out_dir=out)
    assert plan.articles == 11
    for interactive, batch in (
        (plan.cost, plan.cost_batch),
        (plan.cost_cached, plan.cost_batch_cached),
    ):
        assert interactive is not None
        assert batch == pytest.approx(interactive / 2)
        assert f"${interactive:,.4f} / ${batch:,.4f}" in result.stdout
    assert "estimated cost: interactive / Batch API" in result.stdout
    assert re.search(r"of interactive, nothing cached\s+│\s+100% / 50%", result.stdout)
    assert not (out / "incidents.jsonl").exists()


def test_dry_run_without_batch_api_shows_no_batch_api_row(tmp_path: Path) -> None:
    args = ["run", str(ARCHIVE), "--out", str(tmp_path / "out"), "--dry-run"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"estimated cost\s+│\s+\$[\d.,]+ │", result.stdout)
    assert "with prompt caching" in result.stdout
    assert "Batch API" not in result.stdout


def _shown(table: object) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()
