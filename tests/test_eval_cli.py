"""`sitrep eval` end to end: the example archive run from its cassettes, then scored against
itself and against a small gold file coded by hand from two of its articles."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import ARCHIVE, CASSETTES, ROOT
from sitrep.cli import main
from sitrep.model.article import Article

DEIR_EZZOR = Article.from_file(ARCHIVE / "002_deir_ezzor_rockets.txt")
KIRKUK = Article.from_file(ARCHIVE / "006_kirkuk_drone_correction.txt")
NOT_RUN = "0123456789abcdef"  # an article the run never saw


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "out"
    code, _, err = _invoke(
        "run", str(ARCHIVE), "--out", str(out), "--replay", str(CASSETTES / "archive")
    )
    assert code == 0, err
    return out


def _evidence(article: Article, quote: str) -> dict[str, Any]:
    start = article.text.index(quote)
    return {"quote": quote, "start": start, "end": start + len(quote)}


def _hand_gold(path: Path) -> Path:
    """What a coder would write for two articles, and one article the run does not have."""
    deir_ezzor = {
        "article_id": DEIR_EZZOR.id,
        "incidents": [
            {
                "status": "occurred",
                "event_type": "Explosions/Remote violence",
                "when": {"start": "2023-11-26", "end": "2023-11-26", "precision": "day"},
                "where": {"name": "Conoco gas field", "country": "SY"},
                "munitions": {"weapon": "rockets", "launched": 5, "intercepted": 2},
                "casualties": [{"outcome": "injured", "best": 1}],
                "evidence": [_evidence(DEIR_EZZOR, "Five rockets were fired at a base")],
            },
            {
                "status": "intercepted",
                "event_type": "Strategic developments",
                "when": {"start": "2023-11-09", "end": "2023-11-09", "precision": "day"},
                "where": {"name": "Conoco", "country": "SY"},
                "munitions": {"weapon": "drone", "launched": 1},
                "evidence": [
                    _evidence(DEIR_EZZOR, "It was the second attack on the Conoco base this month.")
                ],
            },
        ],
        "statistics": [{"metric": "troops", "value": 900, "where": {"country": "SY"}}],
    }
    kirkuk = {
        "article_id": KIRKUK.id,
        "note": "the Dibis strike was retracted: not an incident",
        "incidents": [
            {
                "status": "occurred",
                "event_type": "Explosions/Remote violence",
                "when": {"start": "2023-09-10", "end": "2023-09-10", "precision": "day"},
                "where": {"name": "K1", "country": "IQ"},
                "casualties": [{"outcome": "killed", "best": 2}, {"outcome": "injured", "best": 3}],
                "evidence": [_evidence(KIRKUK, "killing two soldiers and wounding three others")],
            }
        ],
        "statistics": [],
    }
    missing = {"article_id": NOT_RUN, "incidents": [{"status": "planned"}], "statistics": []}
    path.write_text("".join(json.dumps(a) + "\n" for a in (deir_ezzor, kirkuk, missing)), "utf-8")
    return path


def test_a_run_scored_against_itself_is_perfect(run_dir: Path) -> None:
    code, out, _ = _invoke("eval", str(run_dir), str(run_dir), "--format", "json")
    assert code == 0
    result = json.loads(out)
    for kind in ("incidents", "statistics"):
        scores = result[kind]
        assert (scores["precision"], scores["recall"], scores["f1"]) == (1.0, 1.0, 1.0)
        assert scores["gold"] == scores["predicted"] == scores["matched"] > 0
        assert set(scores["fields"].values()) == {1.0}
        assert {"when", "where.name", "evidence"} <= scores["fields"].keys()
    assert result["statistics"]["value_mae"] == 0.0
    assert result["missing_articles"] == []
    assert result["unscored_articles"] == 0


def test_a_hand_coded_gold_file_scored_as_json(run_dir: Path, tmp_path: Path) -> None:
    gold = _hand_gold(tmp_path / "gold.jsonl")
    code, out, _ = _invoke("eval", str(gold), str(run_dir), "--format", "json", "--worst", "2")
    assert code == 0
    result = json.loads(out)
    incidents = result["incidents"]
    # Gold: 2 + 1 + 1 (not run). Run: the two Deir ez-Zor incidents match; in Kirkuk the K1
    # strike matches and the retracted Dibis strike is a false positive.
    assert (incidents["gold"], incidents["predicted"], incidents["matched"]) == (4, 4, 3)
    assert (incidents["precision"], incidents["recall"]) == (0.75, 0.75)
    fields = incidents["fields"]
    assert fields["munitions.launched"] == 1.0
    assert fields["munitions.weapon"] == 0.5  # "rockets" is "rocket"; "drone" is not "attack drone"
    assert fields["casualties"] == 1.0
    # "Conoco" and "Conoco gas field" are not the same name; neither is "K1" the run's
    # "the K1 military base northwest of Kirkuk".
    assert fields["where.name"] == pytest.approx(0.0)
    assert incidents["field_pairs"]["where.name"] == 3
    # The Conoco drone's gold quote lies outside the run's evidence for it; the others inside.
    assert fields["evidence"] == pytest.approx(2 / 3)
    assert [a["article_id"] for a in incidents["worst_articles"]] == [
        NOT_RUN,
        KIRKUK.id,
    ]
    statistics = result["statistics"]
    assert (statistics["gold"], statistics["predicted"], statistics["matched"]) == (1, 1, 1)
    assert statistics["value_mae"] == 0.0
    assert result["missing_articles"] == [NOT_RUN]
    assert result["unscored_articles"] == 9  # the archive's 11 articles, less the 2 in gold


def test_a_hand_coded_gold_file_scored_as_markdown(run_dir: Path, tmp_path: Path) -> None:
    gold = _hand_gold(tmp_path / "gold.jsonl")
    code, out, _ = _invoke("eval", str(gold), str(run_dir), "--format", "markdown")
    assert code == 0
    assert out.startswith("# sitrep eval: ")
    assert re.search(r"^\| incidents \| 4 \| 4 \| 3 \| 0\.750 \| 0\.750 \| 0\.750 \|$", out, re.M)
    assert re.search(r"^\| munitions\.launched \| 1\.000 \| 2 \|$", out, re.M)
    assert "## worst articles: incidents" in out
    assert f"Not in the run (scored as empty predictions): 1: {NOT_RUN}." in out


def test_the_table_format_draws_the_records_table(run_dir: Path, tmp_path: Path) -> None:
    gold = _hand_gold(tmp_path / "gold.jsonl")
    code, out, _ = _invoke("eval", str(gold), str(run_dir), "--threshold", "0.8")
    assert code == 0
    # At 0.8 only the main Deir ez-Zor incident still matches: the Conoco drone's place and
    # weapon, and K1's place, are named otherwise in the run.
    assert re.search(r"incidents\s+│\s+4\s+│\s+4\s+│\s+1\s+│", out)


def test_bad_gold_exits_2_naming_line_and_path(run_dir: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    record = {"article_id": KIRKUK.id, "incidents": [{"where": {"nmae": "K1"}}], "statistics": []}
    gold.write_text(json.dumps(record) + "\n", "utf-8")
    code, out, err = _invoke("eval", str(gold), str(run_dir))
    assert code == 2
    assert out == ""
    assert f"{gold} line 1: incidents[0].where.nmae: unknown field (known: name," in err
    assert "Traceback" not in err


def test_a_directory_that_is_no_run_exits_2(tmp_path: Path) -> None:
    gold = _hand_gold(tmp_path / "gold.jsonl")
    code, _, err = _invoke("eval", str(gold), str(tmp_path))
    assert code == 2
    assert "incidents.jsonl is missing" in err


def test_gold_offsets_that_miss_their_quote_exit_2(run_dir: Path, tmp_path: Path) -> None:
    evidence = _evidence(KIRKUK, "killing two soldiers")
    evidence["start"] += 1
    record = {"article_id": KIRKUK.id, "incidents": [{"evidence": [evidence]}], "statistics": []}
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(record) + "\n", "utf-8")
    code, _, err = _invoke("eval", str(gold), str(run_dir))
    assert code == 2
    assert "incidents[0].evidence[0]: text[" in err


GOLD_SET = ARCHIVE.parent / "gold" / "archive.jsonl"


@pytest.mark.skipif(not GOLD_SET.exists(), reason="examples/gold/archive.jsonl is not here yet")
def test_the_archive_gold_set_scores_the_archive_run_article_for_article(run_dir: Path) -> None:
    code, out, err = _invoke("eval", str(GOLD_SET), str(run_dir), "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["gold_articles"] == 11
    assert result["missing_articles"] == []
    assert result["unscored_articles"] == 0
    for kind in ("incidents", "statistics"):
        assert result[kind]["gold"] > 0
        assert 0.0 < result[kind]["recall"] <= 1.0


def test_gold_articles_the_run_failed_are_listed_with_their_error_apart_from_missing_ones(
    tmp_path: Path,
) -> None:
    # The recorded SmolLM2 answers fail every article; each is scored as an empty prediction.
    out = tmp_path / "tiny"
    manifest = json.loads((CASSETTES / "recorded" / "smollm2-135m" / "manifest.json").read_text())
    options = [f"--{name}={value}" for name, value in manifest["options"].items()]
    code, _, err = _invoke(
        "run",
        str(ARCHIVE),
        "--out",
        str(out),
        "--model",
        manifest["model"],
        "--base-url",
        manifest["base_url"],
        *options,
        "--replay",
        str(CASSETTES / "recorded" / "smollm2-135m"),
    )
    assert code == 0, err
    gold = ROOT / "examples" / "gold" / "archive.jsonl"
    code, text, _ = _invoke("eval", str(gold), str(out), "--format", "json")
    assert code == 0
    result = json.loads(text)
    expected = {a["article_id"]: a["error_kind"] for a in manifest["articles"]}
    assert result["failed_articles"] == expected
    assert result["missing_articles"] == []
    assert result["incidents"]["recall"] == 0.0
    code, text, _ = _invoke("eval", str(gold), str(out), "--format", "markdown")
    assert f"Failed in the run (scored as empty predictions): {len(expected)}" in text


def test_worst_articles_are_named_by_the_gold_path_or_else_the_runs_source(
    run_dir: Path, tmp_path: Path
) -> None:
    gold = ROOT / "examples" / "gold" / "archive.jsonl"
    code, out, _ = _invoke("eval", str(gold), str(run_dir), "--format", "json")
    assert code == 0
    worst = json.loads(out)["incidents"]["worst_articles"]
    paths = {
        json.loads(line)["article_id"]: json.loads(line)["path"]
        for line in gold.read_text().splitlines()
    }
    assert worst
    assert all(a["label"] == paths[a["article_id"]] for a in worst)
    # Gold with no path: the run's own record of where the article came from.
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"article_id": KIRKUK.id, "incidents": [], "statistics": []}) + "\n")
    code, out, _ = _invoke("eval", str(bare), str(run_dir), "--format", "json")
    (only,) = json.loads(out)["incidents"]["worst_articles"]
    assert only["label"] == str(ARCHIVE / "006_kirkuk_drone_correction.txt")
