"""Gold and runs read for scoring: every value checked by the record models, every fault named
by its file, line and path inside the record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import ARCHIVE
from sitrep.errors import EvaluationError
from sitrep.evaluate.gold import load_gold, load_run, parse_gold
from sitrep.model.article import Article
from sitrep.model.vocab import EventType, IncidentStatus

KIRKUK = Article.from_file(ARCHIVE / "006_kirkuk_drone_correction.txt")


def _line(**fields: Any) -> str:
    record = {"article_id": KIRKUK.id, "incidents": [], "statistics": [], **fields}
    return json.dumps(record)


def _problems(*lines: str) -> list[str]:
    with pytest.raises(EvaluationError) as caught:
        parse_gold(list(lines), source="gold.jsonl")
    return caught.value.problems


def test_a_partial_gold_record_keeps_the_values_it_states_validated() -> None:
    line = _line(
        incidents=[
            {
                "status": "occurred",
                "event_type": "Explosions/Remote violence",
                "when": {"start": "2023-09-10", "precision": "day"},
                "where": {"name": "K1", "country": "IQ"},
                "casualties": [{"outcome": "killed", "best": 2}],
            }
        ]
    )
    gold = parse_gold([line], source="gold.jsonl")
    (incident,) = gold.articles[KIRKUK.id].incidents
    assert incident["status"] is IncidentStatus.OCCURRED
    assert incident["event_type"] is EventType.EXPLOSIONS_REMOTE_VIOLENCE
    assert incident["when"] == {"start": date(2023, 9, 10), "precision": "day"}
    assert incident["where"] == {"name": "K1", "country": "IQ"}
    assert "admin1" not in incident["where"]  # left out: not scored, not filled in
    assert incident["casualties"] == [{"outcome": "killed", "best": 2}]


def test_an_unknown_nested_field_names_its_path_and_the_known_fields() -> None:
    problems = _problems(_line(incidents=[{"where": {"nmae": "K1"}}]))
    assert problems == [
        "gold.jsonl line 1: incidents[0].where.nmae: unknown field "
        "(known: name, site_kind, admin1, country, precision)"
    ]


def test_a_value_outside_its_vocabulary_lists_the_allowed_values() -> None:
    problems = _problems("", _line(incidents=[{}, {"status": "downed"}]))
    assert problems == [
        "gold.jsonl line 2: incidents[1].status: 'downed' is not one of occurred, "
        "intercepted, attempted, alleged, planned"
    ]


@pytest.mark.parametrize(
    ("record", "path", "words"),
    [
        ({"munitions": {"launched": -1}}, "incidents[0].munitions.launched", "greater than"),
        ({"munitions": {"launched": "2"}}, "incidents[0].munitions.launched", "valid integer"),
        ({"when": {"start": "last Sunday"}}, "incidents[0].when.start", "valid date"),
        ({"when": "last Sunday"}, "incidents[0].when", "expected an object"),
        ({"casualties": {"outcome": "killed"}}, "incidents[0].casualties", "a list of objects"),
        ({"casualties": [{"outcome": "dead"}]}, "incidents[0].casualties[0].outcome", "killed"),
        ({"evidence": [{"start": 3, "strat": 4}]}, "incidents[0].evidence[0].strat", "unknown"),
        ({"evidence": []}, "incidents[0].evidence", "at least 1 item"),
    ],
)
def test_a_bad_value_is_named_by_its_path_with_the_reason(
    record: dict[str, Any], path: str, words: str
) -> None:
    (problem,) = _problems(_line(incidents=[record]))
    assert problem.startswith(f"gold.jsonl line 1: {path}: ")
    assert words in problem


def test_every_fault_of_a_file_is_reported_at_once() -> None:
    problems = _problems(
        _line(incidents=[{"salience": "central"}]),
        _line(article_id="other", statistics=[{"value": "many"}, {"kind": "level"}]),
    )
    assert [p.split(": ")[1] for p in problems] == [
        "incidents[0].salience",
        "statistics[0].value",
        "statistics[1].kind",
    ]


def test_ids_and_provenance_are_ignored_so_a_runs_record_is_gold() -> None:
    gold = parse_gold(
        [_line(incidents=[{"id": "x", "provenance": {"anything": 1}, "status": "planned"}])],
        source="gold.jsonl",
    )
    assert gold.articles[KIRKUK.id].incidents == ({"status": IncidentStatus.PLANNED},)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"article_id": "a", "incidents": []}', "statistics is missing or not a list"),
        ('{"incidents": [], "statistics": []}', "article_id is missing"),
        ('{"article_id": "a", "incidents": [], "statistics": [], "notes": ""}', "unknown key"),
        ('{"article_id": "a", "incidents": [], "statistics": [], "published": "May"}', "date"),
        ("[1, 2]", "expected a JSON object"),
        ('{"article_id": ', "not valid JSON"),
    ],
)
def test_a_bad_article_line_is_named_by_its_line(line: str, words: str) -> None:
    (problem,) = _problems(line)
    assert problem.startswith("gold.jsonl line 1: ")
    assert words in problem


def test_a_duplicate_article_names_both_lines() -> None:
    (problem,) = _problems(_line(), "", _line())
    assert problem == f"gold.jsonl line 3: article_id {KIRKUK.id!r} is already on line 1"


def test_a_gold_file_without_articles_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "gold.jsonl"
    empty.write_text("\n", "utf-8")
    with pytest.raises(EvaluationError, match="holds no articles"):
        load_gold(empty)


def _write_run(directory: Path, articles: list[Article], records: dict[str, list[str]]) -> Path:
    directory.mkdir()
    with (directory / "articles.jsonl").open("w", encoding="utf-8") as out:
        for article in articles:
            out.write(article.model_dump_json() + "\n")
    for name in ("incidents.jsonl", "statistics.jsonl"):
        (directory / name).write_text("".join(f"{r}\n" for r in records.get(name, [])), "utf-8")
    return directory


def _run_incident(article_id: str, **fields: Any) -> str:
    return json.dumps({"status": "occurred", **fields, "provenance": {"article_id": article_id}})


def test_a_run_directory_is_gold_grouped_by_article_with_empty_articles_kept(
    tmp_path: Path,
) -> None:
    other = Article.from_file(ARCHIVE / "007_muscat_taiz_talks.txt")
    run = _write_run(
        tmp_path / "run",
        [KIRKUK, other],
        {"incidents.jsonl": [_run_incident(KIRKUK.id), _run_incident(KIRKUK.id)]},
    )
    gold = load_gold(run)
    assert list(gold.articles) == [KIRKUK.id, other.id]
    assert len(gold.articles[KIRKUK.id].incidents) == 2
    assert gold.articles[other.id].incidents == ()  # extracted, and found to have none
    assert gold.texts[KIRKUK.id] == KIRKUK.text


def test_a_run_record_that_breaks_the_models_is_named_by_file_and_line(tmp_path: Path) -> None:
    run = _write_run(
        tmp_path / "run",
        [KIRKUK],
        {"incidents.jsonl": [_run_incident(KIRKUK.id), _run_incident(KIRKUK.id, status="x")]},
    )
    with pytest.raises(EvaluationError) as caught:
        load_run(run)
    assert caught.value.problems == [
        f"{run / 'incidents.jsonl'} line 2: status: 'x' is not one of occurred, intercepted, "
        "attempted, alleged, planned"
    ]


def test_a_run_record_without_its_article_id_is_an_error(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "run", [KIRKUK], {"statistics.jsonl": ['{"value": 3}']})
    with pytest.raises(EvaluationError, match=r"statistics.jsonl line 1: provenance.article_id"):
        load_run(run)


def test_a_directory_without_outputs_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match=r"incidents\.jsonl is missing"):
        load_run(tmp_path)


def test_loading_only_some_articles_counts_the_rest_and_skips_their_records(
    tmp_path: Path,
) -> None:
    other = Article.from_file(ARCHIVE / "007_muscat_taiz_talks.txt")
    run = _write_run(
        tmp_path / "run",
        [KIRKUK, other],
        {"incidents.jsonl": [_run_incident(KIRKUK.id), _run_incident(other.id, status="x")]},
    )
    loaded = load_run(run, only={KIRKUK.id})  # the other's invalid record is never looked at
    assert list(loaded.articles) == [KIRKUK.id]
    assert loaded.left_out == 1
    assert set(loaded.texts) == {KIRKUK.id}
