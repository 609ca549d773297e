"""A run measured against gold: records found, and each field of the records found.

Every article of the gold is scored; one the run lacks is scored as an empty prediction and
listed in `failed_articles` (with its kind of error) if the run failed it, in
`missing_articles` if the run never had it. Articles of the run that the gold lacks are
counted in `unscored_articles` and not scored.

Record level, for incidents and statistics apart: within each article, records are paired by
`align.align`; `matched` counts the pairs, and precision = matched / predicted, recall =
matched / gold, F1 their harmonic mean, summed over all articles before dividing (micro
averages). Where a denominator is 0: when gold and prediction are both empty, precision,
recall and F1 are all 1.0 (nothing was to be found and nothing was claimed); otherwise that
ratio is 0.0.

Field level, on the matched pairs only: each field the gold record states is scored by
`fields.field_scores`, and a field's score is the mean over the pairs in which the gold states
it (`field_pairs` counts them). For statistics, `value_mae` is the mean absolute difference of
the values over the matched pairs in which the gold states a value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from sitrep.errors import EvaluationError
from sitrep.evaluate.align import (
    DEFAULT_THRESHOLD,
    align,
    incident_similarity,
    statistic_similarity,
)
from sitrep.evaluate.fields import agreement, field_order, field_scores
from sitrep.evaluate.gold import ArticleRecords, Partial, RecordSet
from sitrep.model.records import Incident, Statistic

__all__ = [
    "ArticleScore",
    "Evaluation",
    "RecordScores",
    "StatisticScores",
    "check_gold_evidence",
    "evaluate_run",
]

DEFAULT_WORST = 5


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ArticleScore(_Result):
    """One article's records of one kind: how many, and how many were found."""

    article_id: str
    label: str | None = None  # the article's path or source, where gold or run gives one
    precision: float
    recall: float
    f1: float
    gold: int
    predicted: int
    matched: int


class RecordScores(_Result):
    """One kind of record over every gold article."""

    precision: float
    recall: float
    f1: float
    gold: int
    predicted: int
    matched: int
    fields: dict[str, float]
    field_pairs: dict[str, int]
    worst_articles: list[ArticleScore]
    articles: list[ArticleScore]


class StatisticScores(RecordScores):
    value_mae: float | None


class Evaluation(_Result):
    """A run scored against gold (see `sitrep.evaluate.score` for every definition)."""

    gold: str
    run: str
    threshold: float
    gold_articles: int
    incidents: RecordScores
    statistics: StatisticScores
    missing_articles: list[str]
    failed_articles: dict[str, str]
    unscored_articles: int


def evaluate_run(
    gold: RecordSet,
    run: RecordSet,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    worst: int = DEFAULT_WORST,
) -> Evaluation:
    """Score `run` against `gold`. `threshold` is the least similarity of a match; `worst`
    how many of the lowest-F1 articles (ties by id) each kind lists.

    Raises EvaluationError when a gold quote is not the text at its offsets in the run's copy
    of the article."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be within [0, 1], not {threshold}")
    if worst < 0:
        raise ValueError(f"worst must be 0 or more, not {worst}")
    check_gold_evidence(gold, run.texts)
    incidents = _Tally(incident_similarity, field_order(Incident))
    statistics = _Tally(statistic_similarity, field_order(Statistic))
    missing = []
    failed = {}
    for article_id in sorted(gold.articles):
        wanted = gold.articles[article_id]
        found = run.articles.get(article_id)
        if found is None:
            if article_id in run.failed:
                failed[article_id] = run.failed[article_id]
            else:
                missing.append(article_id)
            found = ArticleRecords(article_id=article_id)
        label = wanted.label or found.label
        incidents.add(article_id, wanted.incidents, found.incidents, threshold, label)
        statistics.add(article_id, wanted.statistics, found.statistics, threshold, label)
    return Evaluation(
        gold=gold.source,
        run=run.source,
        threshold=threshold,
        gold_articles=len(gold.articles),
        incidents=RecordScores(**incidents.summary(worst)),
        statistics=StatisticScores(**statistics.summary(worst), value_mae=statistics.value_mae()),
        missing_articles=missing,
        failed_articles=failed,
        unscored_articles=len(run.articles.keys() - gold.articles.keys()) + run.left_out,
    )


def check_gold_evidence(gold: RecordSet, texts: Mapping[str, str]) -> None:
    """Each gold quote stated with its offsets must be `text[start:end]` of its article, where
    the text is known (a run directory keeps it). Quotes found after folding (`match:
    normalized`) are exempt: their span is the passage as the article writes it."""
    problems = []
    for article_id, records in gold.articles.items():
        text = texts.get(article_id)
        if text is None:
            continue
        for kind, items in (("incidents", records.incidents), ("statistics", records.statistics)):
            for index, record in enumerate(items):
                for path, evidence in _evidence_of(record, f"{kind}[{index}]"):
                    problem = _misquoted(evidence, text)
                    if problem:
                        problems.append(f"{gold.source}: article {article_id}: {path}: {problem}")
    if problems:
        raise EvaluationError(
            "gold evidence does not match the article text:\n" + "\n".join(problems[:20]),
            problems=problems,
        )


def _evidence_of(record: Partial, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    found = [(f"{path}.evidence[{i}]", e) for i, e in enumerate(record.get("evidence") or ())]
    for i, figure in enumerate(record.get("casualties") or ()):
        if isinstance(figure, dict) and isinstance(figure.get("evidence"), dict):
            found.append((f"{path}.casualties[{i}].evidence", figure["evidence"]))
    return found


def _misquoted(evidence: Mapping[str, Any], text: str) -> str | None:
    quote, start, end = evidence.get("quote"), evidence.get("start"), evidence.get("end")
    if not isinstance(quote, str) or not isinstance(start, int) or not isinstance(end, int):
        return None
    if evidence.get("match") == "normalized":
        return None
    if end > len(text) or start > end:
        return f"offsets {start}:{end} lie outside the article's {len(text)} characters"
    if text[start:end] != quote:
        return f"text[{start}:{end}] is {text[start:end]!r}, not the quote {quote!r}"
    return None


def _ratios(gold: int, predicted: int, matched: int) -> tuple[float, float, float]:
    """Precision, recall and F1 (this module's docstring says what a zero divisor gives)."""
    if gold == 0 and predicted == 0:
        return 1.0, 1.0, 1.0
    precision = matched / predicted if predicted else 0.0
    recall = matched / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _article_score(
    article_id: str, gold: int, predicted: int, matched: int, label: str | None = None
) -> ArticleScore:
    precision, recall, f1 = _ratios(gold, predicted, matched)
    return ArticleScore(
        article_id=article_id,
        label=label,
        precision=precision,
        recall=recall,
        f1=f1,
        gold=gold,
        predicted=predicted,
        matched=matched,
    )


@dataclass
class _Tally:
    """The running counts of one kind of record."""

    similarity: Callable[[Partial, Partial], float]
    order: list[str]
    articles: list[ArticleScore] = field(default_factory=list)
    field_sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    field_counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    value_errors: list[float] = field(default_factory=list)

    def add(
        self,
        article_id: str,
        gold: Sequence[Partial],
        predicted: Sequence[Partial],
        threshold: float,
        label: str | None = None,
    ) -> None:
        pairs = align(gold, predicted, self.similarity, threshold=threshold, tie_break=agreement)
        for wanted, found, _ in pairs:
            for name, score in field_scores(wanted, found).items():
                self.field_sums[name] += score
                self.field_counts[name] += 1
            value, other = wanted.get("value"), found.get("value")
            if isinstance(value, int | float) and isinstance(other, int | float):
                self.value_errors.append(abs(float(value) - float(other)))
        self.articles.append(
            _article_score(article_id, len(gold), len(predicted), len(pairs), label)
        )

    def summary(self, worst: int) -> dict[str, Any]:
        total = _article_score(
            "",
            sum(a.gold for a in self.articles),
            sum(a.predicted for a in self.articles),
            sum(a.matched for a in self.articles),
        )
        position = {name: index for index, name in enumerate(self.order)}
        names = sorted(self.field_counts, key=lambda n: (position.get(n, len(position)), n))
        return {
            **total.model_dump(exclude={"article_id", "label"}),
            "fields": {n: self.field_sums[n] / self.field_counts[n] for n in names},
            "field_pairs": {n: self.field_counts[n] for n in names},
            "worst_articles": sorted(self.articles, key=lambda a: (a.f1, a.article_id))[:worst],
            "articles": self.articles,
        }

    def value_mae(self) -> float | None:
        if not self.value_errors:
            return None
        return sum(self.value_errors) / len(self.value_errors)
