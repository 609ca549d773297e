"""An evaluation as text: JSON for programs, Markdown for reports, and the rows of the tables
the command line draws on a terminal. Nothing here prints; `sitrep.cli` does.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from sitrep.evaluate.score import Evaluation, RecordScores

__all__ = ["ReportFormat", "Section", "render_json", "render_markdown", "sections"]


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


@dataclass(frozen=True, slots=True)
class Section:
    """One table: a title, its column headers, its rows, and a note under it."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def render_json(evaluation: Evaluation) -> str:
    """One JSON object: `incidents` and `statistics` (precision, recall, f1, counts, `fields`
    by name, `worst_articles`, every article), `missing_articles`, `failed_articles`,
    `unscored_articles`."""
    return json.dumps(evaluation.model_dump(mode="json"), indent=2, ensure_ascii=False)


def render_markdown(evaluation: Evaluation) -> str:
    parts = [f"# sitrep eval: {evaluation.run} against {evaluation.gold}", ""]
    for section in sections(evaluation):
        parts += [f"## {section.title}", ""]
        if section.rows:
            parts.append(_markdown_row(section.headers))
            parts.append(_markdown_row(tuple("---" for _ in section.headers)))
            parts += [_markdown_row(row) for row in section.rows]
            parts.append("")
        if section.note:
            parts += [section.note, ""]
    return "\n".join(parts)


def sections(evaluation: Evaluation) -> list[Section]:
    """The tables of a report, in order: records, the fields of each kind, the worst articles."""
    kinds = (("incidents", evaluation.incidents), ("statistics", evaluation.statistics))
    records = Section(
        title="records",
        headers=("", "gold", "predicted", "matched", "precision", "recall", "F1"),
        rows=tuple(
            (
                name,
                f"{s.gold:,}",
                f"{s.predicted:,}",
                f"{s.matched:,}",
                _ratio(s.precision),
                _ratio(s.recall),
                _ratio(s.f1),
            )
            for name, s in kinds
        ),
        note=_records_note(evaluation),
    )
    found = [records]
    for name, scores in kinds:
        note = "" if scores.fields else "no matched pair: no field was scored"
        if name == "statistics" and evaluation.statistics.value_mae is not None:
            note = f"value: mean absolute error {evaluation.statistics.value_mae:,.4g}"
        found.append(_fields_section(name, scores, note))
    found += [_worst_section(name, scores) for name, scores in kinds]
    return found


def _records_note(evaluation: Evaluation) -> str:
    lines = [
        f"{evaluation.gold_articles:,} gold articles; a pair matches at similarity "
        f"{evaluation.threshold:g} or more."
    ]
    if evaluation.missing_articles:
        missing = ", ".join(evaluation.missing_articles)
        lines.append(
            f"Not in the run (scored as empty predictions): {len(evaluation.missing_articles)}:"
            f" {missing}."
        )
    if evaluation.failed_articles:
        kinds = Counter(evaluation.failed_articles.values())
        listed = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        lines.append(
            f"Failed in the run (scored as empty predictions): {len(evaluation.failed_articles)}"
            f" ({listed})."
        )
    if evaluation.unscored_articles:
        lines.append(
            f"Articles of the run not in the gold (not scored): {evaluation.unscored_articles:,}."
        )
    return " ".join(lines)


def _fields_section(name: str, scores: RecordScores, note: str) -> Section:
    return Section(
        title=f"{name.removesuffix('s')} fields (on matched pairs)",
        headers=("field", "score", "pairs"),
        rows=tuple(
            (field, _ratio(score), f"{scores.field_pairs[field]:,}")
            for field, score in scores.fields.items()
        ),
        note=note,
    )


def _worst_section(name: str, scores: RecordScores) -> Section:
    return Section(
        title=f"worst articles: {name}",
        headers=("article", "gold", "predicted", "matched", "F1"),
        rows=tuple(
            (
                f"{a.label} ({a.article_id})" if a.label else a.article_id,
                f"{a.gold:,}",
                f"{a.predicted:,}",
                f"{a.matched:,}",
                _ratio(a.f1),
            )
            for a in scores.worst_articles
        ),
        note="" if scores.worst_articles else "none listed",
    )


def _ratio(value: float) -> str:
    return f"{value:.3f}"


def _markdown_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
