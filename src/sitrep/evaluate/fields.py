"""How well a matched prediction gets each field the gold states, as a score in [0, 1].

A field is named by its dotted path (`status`, `where.name`, `munitions.launched`) and scored
only where the gold record states it; a field the gold leaves out says nothing about the
prediction. A field the prediction lacks is read as null. The rules:

* Enumerations, counts, numbers, dates other than the event's (`when.anchor`) and `null`:
  exact (`launched: null`, "not reported", is right only against null).
* `where.name` and `where.admin1`: the same place once folded (`align.same_place`);
  `where.country`: the same code, case aside. Other free text (`summary`, `target`,
  `munitions.weapon`, `when.phrase`, `metric`, `unit` ...): the same folded words
  (`normalize.text_tokens`), spaces and hyphens between them ignored.
* `when` (scored when the gold states `when.start` or `when.end`): right when the predicted
  range lies within the gold's range at the gold's precision: with G = `align.gold_range`
  (the gold's dates, widened to whole weeks, months, seasons, half-years or years at those
  precisions) and P = `align.predicted_range`, `G.start <= P.start <= P.end <= G.end`. A gold
  whose start and end are both null says no date is known: right only if the prediction
  gives none either.
* `casualties` and `reported_by`: the share of the gold's entries found in the prediction,
  one to one, each found entry equal on every key that gold entry states (evidence aside);
  an empty gold list is right only against an empty prediction.
* `evidence`: the share of the characters of the gold's evidence spans (by offsets) that the
  prediction's evidence spans cover. Gold evidence without offsets is not scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from typing import Any, Final

from pydantic import BaseModel

from sitrep.evaluate.align import assign, gold_range, predicted_range, same_place
from sitrep.evaluate.gold import Partial
from sitrep.evaluate.normalize import text_tokens

__all__ = ["agreement", "evidence_coverage", "field_order", "field_scores", "when_matches"]

_PLACE_TEXT: Final = frozenset({"where.name", "where.admin1"})
_LISTS: Final = frozenset({"casualties", "reported_by"})


def field_scores(gold: Partial, predicted: Partial) -> dict[str, float]:
    """The score of every field the gold states that can be scored, by dotted path."""
    return dict(_scores(gold, predicted, ""))


def agreement(gold: Partial, predicted: Partial) -> int:
    """How many of the gold's fields the prediction gets fully right."""
    return sum(1 for score in field_scores(gold, predicted).values() if score == 1.0)


def when_matches(gold: Mapping[str, Any], predicted: Mapping[str, Any]) -> bool:
    """The `when` rule of this module's docstring."""
    wanted = gold_range(gold)
    found = predicted_range(predicted)
    if wanted is None:
        return found is None
    if found is None:
        return False
    return wanted[0] <= found[0] and found[1] <= wanted[1]


def evidence_coverage(
    gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any]]
) -> float | None:
    """The share of the gold spans' characters inside predicted spans; None without offsets."""
    wanted = _union(_spans(gold))
    total = sum(end - start for start, end in wanted)
    if total == 0:
        return None
    found = _union(_spans(predicted))
    covered = sum(
        max(0, min(end, other_end) - max(start, other_start))
        for start, end in wanted
        for other_start, other_end in found
    )
    return covered / total


def field_order(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every scorable dotted path of `model`, in the models' order (`when` before its parts)."""
    order: list[str] = []
    for key, info in model.model_fields.items():
        if key in {"id", "provenance"}:
            continue
        path = f"{prefix}{key}"
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            if path == "when":
                order.append("when")
            order += field_order(nested, f"{path}.")
        else:
            order.append(path)
    return [p for p in order if p not in {"when.start", "when.end"}]


def _scores(gold: Mapping[str, Any], predicted: object, prefix: str) -> Iterator[tuple[str, float]]:
    other: Mapping[str, Any] = predicted if isinstance(predicted, dict) else {}
    for key, wanted in gold.items():
        path = f"{prefix}{key}"
        found = other.get(key)
        if path == "when" and isinstance(wanted, dict):
            if "start" in wanted or "end" in wanted:
                yield "when", float(when_matches(wanted, _as_mapping(found)))
            parts = {k: v for k, v in wanted.items() if k not in {"start", "end"}}
            yield from _scores(parts, found, "when.")
        elif path == "evidence" and isinstance(wanted, list):
            coverage = evidence_coverage(wanted, found if isinstance(found, list) else [])
            if coverage is not None:
                yield "evidence", coverage
        elif path in _LISTS and isinstance(wanted, list):
            yield path, _share_found(path, wanted, found if isinstance(found, list) else [])
        elif isinstance(wanted, dict):
            yield from _scores(wanted, found, f"{path}.")
        else:
            yield path, float(_same(path, wanted, found))


def _same(path: str, wanted: object, found: object) -> bool:
    if isinstance(wanted, str) and not isinstance(wanted, Enum):
        if not isinstance(found, str):
            return False
        if path in _PLACE_TEXT:
            return same_place(wanted, found)
        if path.endswith("country"):
            return wanted.casefold() == found.casefold()
        return "".join(text_tokens(wanted)) == "".join(text_tokens(found))
    return wanted == found


def _share_found(path: str, wanted: list[Any], found: list[Any]) -> float:
    if not wanted:
        return float(not found)
    weights = [[1.0 if _entry_matches(path, w, f) else 0.0 for f in found] for w in wanted]
    return len(assign(weights)) / len(wanted)


def _entry_matches(path: str, wanted: object, found: object) -> bool:
    if not isinstance(wanted, dict) or not isinstance(found, dict):
        return False
    return all(
        _same(f"{path}.{key}", value, found.get(key))
        for key, value in wanted.items()
        if key != "evidence"
    )


def _spans(evidence: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    spans = []
    for item in evidence:
        if not isinstance(item, dict):
            continue
        start, end = item.get("start"), item.get("end")
        if isinstance(start, int) and isinstance(end, int) and end > start:
            spans.append((start, end))
    return spans


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans merged, in order: each character counted once."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
