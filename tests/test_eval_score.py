"""Alignment and scores: the optimal pairing, the threshold, dates within their precision,
folded place names, and precision, recall and F1 with their edge cases."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from conftest import ARCHIVE
from sitrep.errors import EvaluationError
from sitrep.evaluate.align import (
    align,
    assign,
    date_similarity,
    gold_range,
    incident_similarity,
    place_similarity,
    same_place,
    value_closeness,
)
from sitrep.evaluate.fields import evidence_coverage, field_scores, when_matches
from sitrep.evaluate.gold import ArticleRecords, Partial, RecordSet, parse_gold
from sitrep.evaluate.score import evaluate_run
from sitrep.model.article import Article
from sitrep.model.vocab import DatePrecision


def _gold(*articles: dict[str, Any]) -> RecordSet:
    lines = [json.dumps({"incidents": [], "statistics": [], **a}) for a in articles]
    return parse_gold(lines, source="gold.jsonl")


def _when(start: str, end: str | None = None, precision: str = "day") -> dict[str, Any]:
    return {
        "start": date.fromisoformat(start),
        "end": date.fromisoformat(end or start),
        "precision": DatePrecision(precision),
    }


# --- the assignment -------------------------------------------------------------------------


def test_the_assignment_takes_the_best_total_where_a_greedy_pass_would_not() -> None:
    # Greedy takes the best pair first (0.9) and is left with 0.1; the best total is 0.8 + 0.7.
    weights = [[0.9, 0.8], [0.7, 0.1]]
    assert assign(weights) == [(0, 1), (1, 0)]


def test_records_are_paired_for_the_best_total_similarity() -> None:
    # P is the best partner of A, and a greedy pass would pair them first; B is then left
    # with Q, below the threshold. The best pairing gives P to B and Q to A: two matches.
    drone = {"weapon": "drone"}
    a = {"event_type": "Battles", "when": _when("2023-09-10"), "where": {"name": "Kirkuk"}}
    p = {**a, "munitions": drone}
    q = {**p, "when": _when("2023-09-11")}
    b = {"event_type": "Riots", "when": _when("2023-09-10"), "where": {"name": "Dibis"}}
    a, b = {**a, "munitions": drone}, {**b, "munitions": drone}
    similarity = {
        (g, f): incident_similarity(gold, found)
        for g, gold in (("a", a), ("b", b))
        for f, found in (("p", p), ("q", q))
    }
    assert max(similarity, key=similarity.__getitem__) == ("a", "p")  # greedy's first pick
    assert similarity["b", "q"] < 0.5 <= similarity["b", "p"]
    pairs = {(id(g), id(f)) for g, f, _ in align([a, b], [p, q], incident_similarity)}
    assert pairs == {(id(a), id(q)), (id(b), id(p))}


def test_a_pair_below_the_threshold_is_no_match_and_one_at_it_is() -> None:
    gold = {"event_type": "Battles", "where": {"name": "Kirkuk"}}
    predicted = {"event_type": "Battles", "where": {"name": "Dibis"}}
    assert incident_similarity(gold, predicted) == 0.5
    assert len(align([gold], [predicted], incident_similarity, threshold=0.5)) == 1
    assert align([gold], [predicted], incident_similarity, threshold=0.51) == []


def test_the_threshold_decides_whether_a_weak_pair_counts_against_precision_and_recall() -> None:
    article = {"article_id": "a", "incidents": [{"event_type": "Battles", "status": "occurred"}]}
    gold = _gold(article)
    run = _gold({**article, "incidents": [{"event_type": "Riots", "status": "occurred"}]})
    strict = evaluate_run(gold, run, threshold=0.5).incidents
    assert (strict.matched, strict.precision, strict.recall) == (0, 0.0, 0.0)
    loose = evaluate_run(gold, run, threshold=0.0).incidents
    assert (loose.matched, loose.precision, loose.recall) == (1, 1.0, 1.0)
    assert loose.fields == {"status": 1.0, "event_type": 0.0}


def test_among_equally_similar_pairings_the_one_whose_fields_agree_wins() -> None:
    shared = {"event_type": "Battles", "where": {"name": "Djibo"}}
    gold = _gold(
        {
            "article_id": "a",
            "incidents": [{**shared, "status": "occurred"}, {**shared, "status": "planned"}],
        }
    )
    run = _gold(
        {
            "article_id": "a",
            "incidents": [{**shared, "status": "planned"}, {**shared, "status": "occurred"}],
        }
    )
    assert evaluate_run(gold, run).incidents.fields["status"] == 1.0


# --- dates ----------------------------------------------------------------------------------


def test_a_day_within_a_gold_month_is_right_and_a_day_outside_it_is_not() -> None:
    gold = {"start": date(2024, 1, 1), "precision": DatePrecision.MONTH}  # "in January"
    assert gold_range(gold) == (date(2024, 1, 1), date(2024, 1, 31))
    assert when_matches(gold, _when("2024-01-21"))
    assert when_matches(gold, _when("2024-01-01", "2024-01-31", "month"))
    assert not when_matches(gold, _when("2024-02-01"))
    assert not when_matches(gold, _when("2023-12-20", "2024-01-10", "days"))  # runs over


def test_a_gold_day_wants_that_day_and_not_the_week_around_it() -> None:
    gold = _when("2024-07-16")
    assert when_matches(gold, _when("2024-07-16"))
    assert not when_matches(gold, _when("2024-07-15", "2024-07-21", "week"))


@pytest.mark.parametrize(
    ("when", "widened"),
    [
        (_when("2024-07-17", precision="week"), ("2024-07-15", "2024-07-21")),
        (_when("2024-02-10", precision="month"), ("2024-02-01", "2024-02-29")),
        (_when("2024-01-15", precision="season"), ("2023-12-01", "2024-02-29")),
        (_when("2023-12-15", precision="season"), ("2023-12-01", "2024-02-29")),
        (_when("2024-10-02", precision="season"), ("2024-09-01", "2024-11-30")),
        (_when("2024-03-01", "2024-05-01", "half-year"), ("2024-01-01", "2024-06-30")),
        (_when("2024-08-01", precision="year"), ("2024-01-01", "2024-12-31")),
        (_when("2024-08-01", "2024-08-03", "days"), ("2024-08-01", "2024-08-03")),
    ],
)
def test_the_gold_range_is_widened_to_whole_units_of_its_precision(
    when: dict[str, Any], widened: tuple[str, str]
) -> None:
    assert gold_range(when) == tuple(date.fromisoformat(d) for d in widened)


def test_a_gold_without_dates_wants_a_prediction_without_dates() -> None:
    unknown = {"start": None, "end": None, "precision": DatePrecision.UNKNOWN}
    assert when_matches(unknown, {"start": None, "end": None})
    assert not when_matches(unknown, _when("2024-01-01"))
    assert date_similarity(unknown, _when("2024-01-01")) is None  # nothing to align on


def test_date_similarity_is_full_on_overlap_and_falls_with_the_gap() -> None:
    gold = _when("2024-07-16")
    assert date_similarity(gold, _when("2024-07-10", "2024-07-20", "days")) == 1.0
    one, four = (
        date_similarity(gold, _when("2024-07-17")),
        date_similarity(gold, _when("2024-07-20")),
    )
    assert one is not None
    assert four is not None
    assert 1.0 > one > four > 0.0
    assert date_similarity(gold, {"start": None, "end": None}) == 0.0


# --- places, values, evidence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ain al-Assad", "the Ain Al Assad air base"),
        ("Deir ez-Zor", "Deir Ezzor"),
        ("Kirkūk", "kirkuk"),
        ("Sana'a", "Sanaa"),
        ("Baghdad International Airport", "Baghdad airport"),
    ],
)
def test_names_written_two_ways_are_the_same_place(a: str, b: str) -> None:
    assert same_place(a, b)
    assert place_similarity({"name": a}, {"name": b}) == 1.0


def test_different_names_share_their_common_words_or_at_least_their_country() -> None:
    gold = {"name": "Conoco gas field", "country": "SY"}
    partial = place_similarity(gold, {"name": "the Conoco field", "country": "SY"})
    assert partial is not None
    assert 0.5 < partial < 1.0
    assert place_similarity(gold, {"name": "Khasham", "country": "SY"}) == 0.25
    assert place_similarity(gold, {"name": "Khasham", "country": "IQ"}) == 0.0
    assert place_similarity({"country": "SY"}, {"name": "Khasham", "country": "sy"}) == 1.0
    assert place_similarity({"admin1": "Anbar"}, {"name": "Khasham"}) is None


def test_value_closeness_is_relative() -> None:
    assert value_closeness(100, 100.0) == 1.0
    assert value_closeness(100, 90) == pytest.approx(0.9)
    assert value_closeness(0, 0) == 1.0
    assert value_closeness(5, -5) == 0.0
    assert value_closeness(5, None) == 0.0


def test_evidence_coverage_counts_the_gold_characters_inside_predicted_spans() -> None:
    gold = [{"start": 0, "end": 10}, {"start": 20, "end": 30}]
    assert evidence_coverage(gold, [{"start": 5, "end": 25}]) == 0.5
    assert evidence_coverage(gold, [{"start": 0, "end": 8}, {"start": 4, "end": 12}]) == 0.5
    assert evidence_coverage(gold, []) == 0.0
    assert evidence_coverage([{"quote": "no offsets"}], [{"start": 0, "end": 5}]) is None


# --- field scores ---------------------------------------------------------------------------


def test_each_stated_field_is_scored_by_its_dotted_path_and_only_those() -> None:
    gold: Partial = {
        "status": "occurred",
        "where": {"name": "the K1 base", "country": "IQ"},
        "munitions": {"launched": 2, "intercepted": None},
        "when": {**_when("2023-09-10"), "time_of_day": "evening"},
    }
    predicted: Partial = {
        "status": "occurred",
        "where": {"name": "K1 military base", "country": "iq", "admin1": "Kirkuk"},
        "munitions": {"launched": 3, "intercepted": 0},
        "when": {**_when("2023-09-10"), "time_of_day": "night"},
    }
    assert field_scores(gold, predicted) == {
        "status": 1.0,
        "where.name": 1.0,
        "where.country": 1.0,
        "munitions.launched": 0.0,
        "munitions.intercepted": 0.0,  # null (not reported) is not 0 (reported none)
        "when": 1.0,
        "when.precision": 1.0,
        "when.time_of_day": 0.0,
    }


def test_casualties_score_the_share_of_gold_figures_found_one_to_one() -> None:
    gold: Partial = {
        "casualties": [
            {"outcome": "killed", "best": 2},
            {"outcome": "injured", "best": 3, "qualifier": "exact"},
            {"outcome": "killed", "best": 2, "party": "soldiers"},
        ]
    }
    predicted: Partial = {
        "casualties": [
            {"outcome": "killed", "best": 2, "party": "Soldiers", "qualifier": "exact"},
            {"outcome": "injured", "best": 3, "qualifier": "about"},
        ]
    }
    # The one killed figure found serves one gold figure only; the injured one's qualifier
    # differs.
    assert field_scores(gold, predicted) == {"casualties": pytest.approx(1 / 3)}
    assert field_scores({"casualties": []}, {"casualties": []}) == {"casualties": 1.0}
    assert field_scores({"casualties": []}, predicted) == {"casualties": 0.0}


# --- record level ---------------------------------------------------------------------------


def test_empty_gold_and_empty_prediction_score_one() -> None:
    scores = evaluate_run(_gold({"article_id": "a"}), _gold({"article_id": "a"}))
    assert (scores.incidents.precision, scores.incidents.recall, scores.incidents.f1) == (1, 1, 1)


def test_records_claimed_where_gold_has_none_score_zero_precision() -> None:
    run = _gold({"article_id": "a", "statistics": [{"value": 3}]})
    scores = evaluate_run(_gold({"article_id": "a"}), run).statistics
    assert (scores.gold, scores.predicted, scores.matched) == (0, 1, 0)
    assert (scores.precision, scores.f1) == (0.0, 0.0)
    assert scores.fields == {}
    assert scores.value_mae is None


def test_scores_are_micro_averaged_over_articles_and_the_worst_are_listed() -> None:
    records = [{"event_type": "Battles", "when": {"start": f"2024-01-{d:02}"}} for d in (1, 10)]
    gold = _gold({"article_id": "b", "incidents": records}, {"article_id": "a", "incidents": []})
    run = _gold({"article_id": "b", "incidents": records[:1]}, {"article_id": "a"})
    scores = evaluate_run(gold, run, worst=1).incidents
    assert (scores.gold, scores.predicted, scores.matched) == (2, 1, 1)
    assert (scores.precision, scores.recall) == (1.0, 0.5)
    assert scores.f1 == pytest.approx(2 / 3)
    assert [a.article_id for a in scores.articles] == ["a", "b"]
    assert [(a.article_id, a.recall) for a in scores.worst_articles] == [("b", 0.5)]


def test_gold_articles_missing_from_the_run_are_scored_empty_and_extra_ones_counted() -> None:
    gold = _gold({"article_id": "a", "incidents": [{"status": "occurred"}]})
    run = RecordSet(
        source="run", articles={"z": ArticleRecords("z", incidents=({"status": "occurred"},))}
    )
    evaluation = evaluate_run(gold, run)
    assert evaluation.missing_articles == ["a"]
    assert evaluation.unscored_articles == 1
    assert (evaluation.incidents.recall, evaluation.incidents.predicted) == (0.0, 0)


def test_statistics_value_mae_is_the_mean_error_of_matched_values() -> None:
    gold = _gold(
        {
            "article_id": "a",
            "statistics": [
                {"metric": "troops", "value": 2500},
                {"metric": "operations", "value": 137},
            ],
        }
    )
    run = _gold(
        {
            "article_id": "a",
            "statistics": [
                {"metric": "troops", "value": 2400},
                {"metric": "operations", "value": 137},
            ],
        }
    )
    scores = evaluate_run(gold, run).statistics
    assert scores.matched == 2
    assert scores.value_mae == 50.0
    assert scores.fields == {"metric": 1.0, "value": 0.5}


def test_gold_evidence_offsets_that_miss_their_quote_in_the_run_text_are_an_error() -> None:
    article = Article.from_file(ARCHIVE / "006_kirkuk_drone_correction.txt")
    quote = "killing two soldiers"
    start = article.text.index(quote)
    good = {"quote": quote, "start": start, "end": start + len(quote)}
    bad = {"quote": quote, "start": start + 1, "end": start + 1 + len(quote)}
    run = RecordSet(
        source="run",
        articles={article.id: ArticleRecords(article.id)},
        texts={article.id: article.text},
    )
    evaluate_run(_gold({"article_id": article.id, "incidents": [{"evidence": [good]}]}), run)
    with pytest.raises(EvaluationError) as caught:
        evaluate_run(_gold({"article_id": article.id, "incidents": [{"evidence": [bad]}]}), run)
    (problem,) = caught.value.problems
    assert problem.startswith(f"gold.jsonl: article {article.id}: incidents[0].evidence[0]: ")
    assert "not the quote 'killing two soldiers'" in problem
