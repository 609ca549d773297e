"""examples/gold/archive.jsonl keeps the gold format (docs of it: examples/gold/README.md).

One line per article of examples/archive, each naming its article by id; every present field
valid for its type in the record models; every evidence span the text at its offsets; every date
code resolves the same way code resolves it.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping
from datetime import date
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from conftest import ARCHIVE, ROOT
from sitrep.model.article import Article
from sitrep.model.records import Incident, Statistic
from sitrep.model.vocab import SUB_EVENT_TYPES, EventType, SubEventType
from sitrep.text.dates import resolve_date_phrase

GOLD = ROOT / "examples" / "gold" / "archive.jsonl"
TOP_LEVEL = {"article_id", "path", "published", "note", "incidents", "statistics"}
REQUIRED = {"article_id", "incidents", "statistics"}
IGNORED = {"id", "provenance"}  # set by code; a gold file may hold them, and they are not scored


def gold_lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLD.read_text("utf-8").splitlines() if line.strip()]


@cache
def archive() -> dict[str, Article]:
    """The archive's articles by id."""
    articles = [Article.from_file(path) for path in sorted(ARCHIVE.glob("*.txt"))]
    return {article.id: article for article in articles}


def records(line: Mapping[str, Any]) -> Iterator[tuple[str, type[BaseModel], dict[str, Any]]]:
    for kind, model in (("incidents", Incident), ("statistics", Statistic)):
        for i, record in enumerate(line[kind]):
            yield f"{line['article_id']}.{kind}[{i}]", model, record


def _item_model(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds, and whether it holds a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item, True
    return None, False


def partial_problems(value: object, model: type[BaseModel], path: str) -> list[str]:
    """Why `value` is not a partial `model`: unknown keys, and present values of a wrong type."""
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {value!r}"]
    problems: list[str] = []
    for key, item in value.items():
        where = f"{path}.{key}"
        if model in (Incident, Statistic) and key in IGNORED:
            continue
        info = model.model_fields.get(key)
        if info is None:
            problems.append(f"{where}: unknown key; known: {sorted(model.model_fields)}")
            continue
        submodel, many = _item_model(info.annotation)
        if submodel is not None and many and isinstance(item, list):
            for i, element in enumerate(item):
                problems += partial_problems(element, submodel, f"{where}[{i}]")
        elif submodel is not None and not many:
            problems += partial_problems(item, submodel, where)
        else:
            annotation: Any = info.annotation
            if info.metadata:  # constraints given with Field(...), such as offsets >= 0
                annotation = Annotated[annotation, *info.metadata]
            try:
                TypeAdapter(annotation).validate_python(item)
            except ValidationError as exc:
                problems.append(f"{where}: {item!r} is invalid: {exc.errors()[0]['msg']}")
    return problems


def evidence_spans(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from record.get("evidence", [])
    for figure in record.get("casualties", []):
        if "evidence" in figure:
            yield figure["evidence"]


def test_the_gold_file_has_one_line_per_archive_article() -> None:
    ids = [line["article_id"] for line in gold_lines()]
    assert len(ids) == len(set(ids)), "an article has two gold lines"
    assert set(ids) == set(archive()), {
        "not in the archive": sorted(set(ids) - set(archive())),
        "without a gold line": sorted(set(archive()) - set(ids)),
    }


def test_each_line_has_the_contracts_keys_and_names_its_article_consistently() -> None:
    for line in gold_lines():
        assert REQUIRED <= set(line) <= TOP_LEVEL, sorted(set(line) ^ TOP_LEVEL)
        article = archive()[line["article_id"]]
        if "path" in line:
            assert Article.from_file(ROOT / line["path"]).id == article.id, line["path"]
        if "published" in line:
            assert date.fromisoformat(line["published"]) == article.published, line["path"]


def test_every_present_field_is_valid_for_its_type_in_the_record_models() -> None:
    problems = [p for line in gold_lines() for where, model, r in records(line)
                for p in partial_problems(r, model, where)]  # fmt: skip
    assert not problems, "\n".join(problems)


def test_every_evidence_span_is_the_article_text_at_its_offsets() -> None:
    for line in gold_lines():
        text = archive()[line["article_id"]].text
        for where, _, record in records(line):
            spans = list(evidence_spans(record))
            assert spans or "evidence" not in record, f"{where}: empty evidence"
            for span in spans:
                quote, start, end = span["quote"], span["start"], span["end"]
                assert quote, f"{where}: an empty quote"
                assert text[start:end] == quote, f"{where}: {quote!r} is not at {start}:{end}"


def test_dates_marked_as_resolved_by_code_are_what_code_resolves() -> None:
    for line in gold_lines():
        published = archive()[line["article_id"]].published
        assert published is not None
        for where, _, record in records(line):
            when = record.get("when", {})
            if when.get("precision") == "day":
                assert when.get("start") == when.get("end"), f"{where}: a day has start == end"
            if when.get("source") != "code":
                continue
            found = resolve_date_phrase(when["phrase"], published)
            assert (when["start"], when["end"], when["precision"], when["time_of_day"]) == (
                found.start.isoformat(),
                found.end.isoformat(),
                found.precision.value,
                found.time_of_day and found.time_of_day.value,
            ), f"{where}: {when['phrase']!r}"


def _ordered(*values: int | None) -> bool:
    present = [v for v in values if v is not None]
    return present == sorted(present)


def test_counts_and_event_types_keep_the_codebooks_rules() -> None:
    for line in gold_lines():
        for where, model, record in records(line):
            if model is not Incident:
                continue
            if "event_type" in record and "sub_event_type" in record:
                event, sub = EventType(record["event_type"]), SubEventType(record["sub_event_type"])
                assert sub in SUB_EVENT_TYPES[event], where
            munitions = record.get("munitions", {})
            launched = munitions.get("launched")
            stopped, hit = munitions.get("intercepted") or 0, munitions.get("impacted") or 0
            assert launched is None or stopped + hit <= launched, where
            if record.get("status") == "intercepted":
                assert not hit, f"{where}: intercepted, yet a munition impacted"
            for figure in record.get("casualties", []):
                assert _ordered(figure.get("low"), figure.get("best"), figure.get("high")), where
