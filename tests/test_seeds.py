"""The founding articles, end to end, against gold records written from reading them.

The seed cassettes hold **authored** responses (cassettes/README.md): what a careful coder would
answer, in the exact wire format. So these tests prove the pipeline's work on the seeds (quote
offsets, date resolution and precision, number checks, salience and statistics carried through,
the contradictory 137 kept as reported), not a model's skill. Re-recorded against a live model
(`--record-mode=all`), the same tests measure that model against the gold.

The gold files in tests/gold/ state every expected offset, date and count literally.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from conftest import ROOT
from sitrep.extract.extractor import Extractor
from sitrep.model.article import Article
from sitrep.model.records import Evidence, Extraction, Incident, Statistic, When

SEEDS = ["seed_000", "seed_001"]


def _gold(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "tests" / "gold" / f"{name}.json").read_text())
    return data


def _article(gold: dict[str, Any]) -> Article:
    return Article.from_file(ROOT / gold["article"])


def _extract_sync(extractor: Extractor, article: Article) -> Extraction:
    return extractor.extract(article)


def _extract_async(extractor: Extractor, article: Article) -> Extraction:
    return asyncio.run(extractor.aextract(article))


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Callable[[Extractor, Article], Extraction]:
    return _extract_sync if request.param == "sync" else _extract_async


SeedRun = Callable[[str], tuple[dict[str, Any], Article, Extraction]]


@pytest.fixture
def run_seed(
    run: Callable[[Extractor, Article], Extraction],
    cassette: Callable[[str], AbstractContextManager[None]],
    make_extractor: Callable[..., Extractor],
) -> SeedRun:
    def run_one(name: str) -> tuple[dict[str, Any], Article, Extraction]:
        gold = _gold(name)
        article = _article(gold)
        with cassette(f"seeds/{name}"):
            result = run(make_extractor(), article)
        return gold, article, result

    return run_one


@pytest.fixture(params=SEEDS)
def seed_result(
    request: pytest.FixtureRequest, run_seed: SeedRun
) -> tuple[dict[str, Any], Article, Extraction]:
    return run_seed(request.param)


def _check_evidence(
    article: Article, found: list[Evidence], expected: list[dict[str, Any]]
) -> None:
    assert [(e.quote, e.start, e.end) for e in found] == [
        (x["quote"], x["start"], x["end"]) for x in expected
    ]
    for e in found:
        assert article.text[e.start : e.end] == e.quote


def _check_when(found: When, expected: dict[str, Any], published: str) -> None:
    assert found.phrase == expected["phrase"]
    assert (str(found.start) if found.start else None) == expected["start"]
    assert (str(found.end) if found.end else None) == expected["end"]
    assert found.precision.value == expected["precision"]
    assert (found.time_of_day.value if found.time_of_day else None) == expected["time_of_day"]
    assert found.source.value == expected["source"]
    assert str(found.anchor) == published


def _incident_key(salience: str, phrase: str | None) -> tuple[str, str | None]:
    return salience, phrase


def _statistic_key(metric: str, value: float, country: str | None) -> tuple[str, float, str | None]:
    return metric, value, country


def test_seed_article_publication_date_comes_from_its_date_line(
    seed_result: tuple[dict[str, Any], Article, Extraction],
) -> None:
    gold, article, result = seed_result
    assert str(article.published) == gold["published"]
    assert result.article_id == article.id
    assert not article.text.startswith(" date")


def test_seed_incidents_match_gold(
    seed_result: tuple[dict[str, Any], Article, Extraction],
) -> None:
    gold, article, result = seed_result
    found: dict[tuple[str, str | None], Incident] = {
        _incident_key(i.salience.value, i.when.phrase): i for i in result.incidents
    }
    expected = {_incident_key(g["salience"], g["when"]["phrase"]): g for g in gold["incidents"]}
    assert found.keys() == expected.keys()
    for key, g in expected.items():
        incident = found[key]
        assert incident.status.value == g["status"], key
        assert incident.event_type.value == g["event_type"], key
        assert incident.sub_event_type.value == g["sub_event_type"], key
        _check_when(incident.when, g["when"], gold["published"])
        assert g["where"]["name_contains"] in (incident.where.name or ""), key
        assert incident.where.country == g["where"]["country"], key
        munitions = incident.munitions
        assert (munitions.launched, munitions.intercepted, munitions.impacted) == (
            g["munitions"]["launched"],
            g["munitions"]["intercepted"],
            g["munitions"]["impacted"],
        ), key
        assert [(c.outcome.value, c.best) for c in incident.casualties] == [
            (c["outcome"], c["best"]) for c in g["casualties"]
        ], key
        _check_evidence(article, incident.evidence, g["evidence"])


def test_seed_statistics_match_gold(
    seed_result: tuple[dict[str, Any], Article, Extraction],
) -> None:
    gold, article, result = seed_result
    found: dict[tuple[str, float, str | None], Statistic] = {
        _statistic_key(s.metric, s.value, s.where.country): s for s in result.statistics
    }
    expected = {
        _statistic_key(g["metric"], g["value"], g["country"]): g for g in gold["statistics"]
    }
    assert found.keys() == expected.keys()
    assert len(result.statistics) == len(gold["statistics"])
    for key, g in expected.items():
        statistic = found[key]
        assert statistic.kind.value == g["kind"], key
        assert statistic.qualifier.value == g["qualifier"], key
        _check_when(statistic.when, g["when"], gold["published"])
        _check_evidence(article, statistic.evidence, g["evidence"])


def test_contradictory_137_operations_are_both_kept_as_reported(run_seed: SeedRun) -> None:
    _, _, result = run_seed("seed_001")
    operations = sorted(
        (s.where.name or "", s.where.country) for s in result.statistics if s.value == 137
    )
    assert operations == [("Iraq", "IQ"), ("Iraq and Syria", None)]
    # Statistics never leak into incident counts.
    assert all(137 not in (i.munitions.launched, i.munitions.impacted) for i in result.incidents)


def test_seed_provenance_names_model_versions_and_the_authored_request(
    seed_result: tuple[dict[str, Any], Article, Extraction],
) -> None:
    _, article, result = seed_result
    provenance = result.provenance
    assert provenance.article_id == article.id
    assert provenance.model == "gpt-4.1-mini"
    assert provenance.reasks == 0
    assert len(provenance.request_ids) == 1
    assert provenance.usage.total_tokens == (
        provenance.usage.prompt_tokens + provenance.usage.completion_tokens
    )
    assert provenance.usage.total_tokens > 0
    assert all(i.provenance == provenance for i in result.incidents)
    assert all(s.provenance == provenance for s in result.statistics)
