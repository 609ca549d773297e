"""Properties of the scores over generated gold: a perfect run scores 1.0 everywhere, an empty
one finds nothing, order never matters, and one wrong count costs that field alone."""

from __future__ import annotations

import copy
import json
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.evaluate.gold import ArticleRecords, RecordSet, load_run, parse_gold
from sitrep.evaluate.score import Evaluation, evaluate_run
from sitrep.model.vocab import (
    CasualtyOutcome,
    DatePrecision,
    EventType,
    IncidentStatus,
    Qualifier,
    ReporterKind,
    Salience,
    StatisticKind,
)

FAST = settings(max_examples=40, deadline=None)

Raw = dict[str, Any]  # a gold line's object, as JSON holds it
# Every article's text, for the evidence offsets to point into.
TEXT = "".join(f"Sentence {n} of the article. " for n in range(20))
_NAMES = ["Ain al-Assad", "Baghdad airport", "Kirkuk", "Deir ez-Zor", "Hodeidah", "Konduga"]


def _values(enum: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([m.value for m in enum])


@st.composite
def _when(draw: st.DrawFn) -> Raw:
    start = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 60)))
    end = start + timedelta(days=draw(st.integers(0, 3)))
    when: Raw = {"start": start.isoformat(), "end": end.isoformat()}
    if draw(st.booleans()):
        when["precision"] = draw(_values(DatePrecision))
    return when


_COUNT = st.none() | st.integers(0, 20)
_WHERE = st.fixed_dictionaries(
    {}, optional={"name": st.sampled_from(_NAMES), "country": st.sampled_from(["IQ", "SY"])}
)
_EVIDENCE = st.lists(
    st.integers(0, 400).map(lambda s: {"quote": TEXT[s : s + 25], "start": s, "end": s + 25}),
    min_size=1,
    max_size=2,
)
_MUNITIONS = st.fixed_dictionaries(
    {},
    optional={
        "weapon": st.sampled_from(["drone", "rocket", "ballistic missile"]),
        "launched": _COUNT,
        "intercepted": _COUNT,
    },
)
_INCIDENT = st.fixed_dictionaries(
    {},
    optional={
        "salience": _values(Salience),
        "status": _values(IncidentStatus),
        "event_type": _values(EventType),
        "when": _when(),
        "where": _WHERE,
        "munitions": _MUNITIONS,
        "casualties": st.lists(
            st.fixed_dictionaries(
                {"outcome": _values(CasualtyOutcome)},
                optional={"best": _COUNT, "qualifier": _values(Qualifier)},
            ),
            max_size=2,
        ),
        "reported_by": st.lists(
            st.fixed_dictionaries(
                {"kind": _values(ReporterKind)}, optional={"name": st.sampled_from(["AFP", "SDF"])}
            ),
            max_size=2,
        ),
        "evidence": _EVIDENCE,
    },
)
_STATISTIC = st.fixed_dictionaries(
    {},
    optional={
        "metric": st.sampled_from(["troops deployed", "attacks claimed", "militants killed"]),
        "kind": _values(StatisticKind),
        "value": st.integers(0, 3000) | st.floats(0, 100, allow_nan=False),
        "when": _when(),
        "where": _WHERE,
        "evidence": _EVIDENCE,
    },
)


@st.composite
def _articles(draw: st.DrawFn) -> list[Raw]:
    ids = draw(
        st.lists(
            st.text("0123456789abcdef", min_size=4, max_size=4), min_size=1, max_size=4, unique=True
        )
    )
    return [
        {
            "article_id": article_id,
            "incidents": draw(st.lists(_INCIDENT, max_size=4)),
            "statistics": draw(st.lists(_STATISTIC, max_size=3)),
        }
        for article_id in ids
    ]


def _gold(articles: list[Raw]) -> RecordSet:
    return parse_gold([json.dumps(a) for a in articles], source="gold.jsonl")


def _as_run(articles: list[Raw], directory: Path) -> RecordSet:
    """The articles written as `sitrep run` writes a directory, and read back as a run."""
    (directory / "articles.jsonl").write_text(
        "".join(json.dumps({"id": a["article_id"], "text": TEXT}) + "\n" for a in articles)
    )
    for kind in ("incidents", "statistics"):
        lines = [
            json.dumps({**record, "provenance": {"article_id": a["article_id"]}}) + "\n"
            for a in articles
            for record in a[kind]
        ]
        (directory / f"{kind}.jsonl").write_text("".join(lines))
    return load_run(directory)


def _all_scores(evaluation: Evaluation) -> list[float]:
    scores = []
    for kind in (evaluation.incidents, evaluation.statistics):
        scores += [kind.precision, kind.recall, kind.f1, *kind.fields.values()]
        scores += [s for a in kind.articles for s in (a.precision, a.recall, a.f1)]
    return scores


@FAST
@given(_articles())
def test_gold_scored_against_itself_as_a_run_scores_one_everywhere(articles: list[Raw]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        evaluation = evaluate_run(_gold(articles), _as_run(articles, Path(directory)))
    assert set(_all_scores(evaluation)) == {1.0}
    assert evaluation.statistics.value_mae in (None, 0.0)
    assert evaluation.missing_articles == []
    assert evaluation.unscored_articles == 0


@FAST
@given(_articles(), st.booleans())
def test_an_empty_prediction_has_recall_zero(articles: list[Raw], run_lacks_them: bool) -> None:
    gold = _gold(articles)
    empty = {} if run_lacks_them else {i: ArticleRecords(i) for i in gold.articles}
    evaluation = evaluate_run(gold, RecordSet(source="run", articles=empty))
    for kind in (evaluation.incidents, evaluation.statistics):
        assert kind.matched == 0
        assert kind.recall == (1.0 if kind.gold == 0 else 0.0)
        assert kind.fields == {}
    if run_lacks_them:
        assert evaluation.missing_articles == sorted(gold.articles)


def _shuffled(articles: list[Raw], seed: int) -> list[Raw]:
    shuffler = random.Random(seed)
    mixed = [
        {
            **a,
            "incidents": shuffler.sample(a["incidents"], len(a["incidents"])),
            "statistics": shuffler.sample(a["statistics"], len(a["statistics"])),
        }
        for a in articles
    ]
    return shuffler.sample(mixed, len(mixed))


@FAST
@given(
    _articles(), st.lists(_INCIDENT, max_size=4), st.lists(_STATISTIC, max_size=3), st.integers()
)
def test_shuffling_records_and_articles_changes_no_score(
    articles: list[Raw], incidents: list[Raw], statistics: list[Raw], seed: int
) -> None:
    # A prediction unlike the gold: each article's records followed by some of its own.
    predicted = [
        {
            **a,
            "incidents": a["incidents"][1:] + incidents,
            "statistics": statistics + a["statistics"][:1],
        }
        for a in articles
    ]
    before = evaluate_run(_gold(articles), _gold(predicted))
    after = evaluate_run(_gold(_shuffled(articles, seed)), _gold(_shuffled(predicted, seed + 1)))
    assert after == before


@FAST
@given(_articles(), _INCIDENT, st.integers(0, 20), st.data())
def test_one_wrong_count_lowers_that_field_alone(
    articles: list[Raw], incident: Raw, launched: int, data: st.DataObject
) -> None:
    target = {**incident, "munitions": {**incident.get("munitions", {}), "launched": launched}}
    where = data.draw(st.integers(0, len(articles) - 1))
    articles[where]["incidents"].append(target)
    predicted = copy.deepcopy(articles)
    predicted[where]["incidents"][-1]["munitions"]["launched"] = launched + 1000  # none has it
    evaluation = evaluate_run(_gold(articles), _gold(predicted))
    incidents = evaluation.incidents
    pairs = incidents.field_pairs["munitions.launched"]
    assert incidents.fields["munitions.launched"] == (pairs - 1) / pairs
    others = {
        name: score for name, score in incidents.fields.items() if name != "munitions.launched"
    }
    assert set(others.values()) <= {1.0}
    assert (incidents.precision, incidents.recall, incidents.f1) == (1.0, 1.0, 1.0)
    assert (
        evaluate_run(_gold(articles), _gold(articles)).incidents.fields.keys()
        == incidents.fields.keys()
    )
    assert set(_all_scores(evaluation)) - {incidents.fields["munitions.launched"]} <= {1.0}
