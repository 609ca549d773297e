"""Gold and runs read as records grouped by article, every value checked by the record models.

Gold is JSON Lines, UTF-8, one object per article: `article_id` (the id `Article.from_file`
gives the text, as `articles.jsonl` and `provenance.article_id` hold it; once per file) and the
lists `incidents` and `statistics` are required (an empty list says the article has none, and
is scored); `path`, `published` and `note` are informational; any other key is an error.

A gold record is partial: any subset of the fields of `Incident` or `Statistic`, nested objects
and lists of objects partial too. Each present key is looked up in the `model_fields` of the
record model (recursing into nested models and lists of them) and each present leaf is
validated with a pydantic `TypeAdapter` of that field's annotation and constraints, in strict
JSON mode: `"2"` is not a count, `"yesterday"` is not a date. `id` and `provenance` are
ignored, so a run's own records are valid gold. Gold evidence is `{"quote", "start", "end"}`
with `text[start:end] == quote` in the article's text after its date line
(`score.check_gold_evidence` holds it to that where the run keeps the text).

A run directory written by `sitrep run` is read the same way: `articles.jsonl` gives the
articles (and their text), `incidents.jsonl` and `statistics.jsonl` the records, grouped by
`provenance.article_id`. An article with records but no line in `articles.jsonl` (a directory
whose first run predates that file) is an article of the run too.

Every fault in a file is collected, each naming the file, the line and the path inside the
record (`gold.jsonl line 3: incidents[0].where.nmae: unknown field (known: name, ...)`), and
raised together as one `EvaluationError`.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import BaseModel, TypeAdapter, ValidationError

from sitrep.errors import EvaluationError
from sitrep.model.records import Incident, Statistic
from sitrep.run.outputs import ARTICLES, FAILURES, INCIDENTS, STATISTICS

__all__ = ["ArticleRecords", "Partial", "RecordSet", "load_gold", "load_run", "parse_gold"]

Partial = dict[str, Any]
"""A record's stated fields: validated values (enums, dates, counts), nested objects as dicts."""

_IGNORED: Final = frozenset({"id", "provenance"})
_GOLD_KEYS: Final = ("article_id", "path", "published", "note", "incidents", "statistics")
_MAX_SHOWN: Final = 20


@dataclass(frozen=True, slots=True)
class ArticleRecords:
    """The records of one article, without their ids and provenance. `label` names the article
    for people: the gold line's `path`, or the source a run recorded for it."""

    article_id: str
    incidents: tuple[Partial, ...] = ()
    statistics: tuple[Partial, ...] = ()
    label: str | None = None


@dataclass(frozen=True, slots=True)
class RecordSet:
    """Records by article id. `texts` holds the article texts a run directory records;
    `failed` the articles it failed, with their kind of error; `left_out` counts the articles
    of the source that were not loaded (`load_run(only=...)`)."""

    source: str
    articles: Mapping[str, ArticleRecords]
    texts: Mapping[str, str] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    left_out: int = 0


def load_gold(path: Path) -> RecordSet:
    """Gold from a JSON Lines file, or from a run directory written by `sitrep run`."""
    if path.is_dir():
        gold = load_run(path)
        if not gold.articles:
            raise EvaluationError(f"{path} holds no articles to use as gold")
        return gold
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"cannot read gold {path}: {exc}") from exc
    return parse_gold(text.splitlines(), source=str(path))


def parse_gold(lines: Iterable[str], *, source: str) -> RecordSet:
    """Gold from JSON Lines text; `source` names it in messages."""
    problems: list[str] = []
    articles: dict[str, ArticleRecords] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        found: list[str] = []
        article = _gold_article(line, found)
        problems += [f"{where}: {message}" for message in found]
        if article is None:
            continue
        if article.article_id in first_line:
            problems.append(
                f"{where}: article_id {article.article_id!r} is already on line "
                f"{first_line[article.article_id]}"
            )
            continue
        first_line[article.article_id] = number
        articles[article.article_id] = article
    _raise_if_any(problems, f"{source} is not valid gold")
    if not articles:
        raise EvaluationError(f"{source} holds no articles")
    return RecordSet(source=source, articles=articles)


def load_run(path: Path, *, only: Collection[str] | None = None) -> RecordSet:
    """The records of a run directory, by article. With `only`, the records of other articles
    are neither validated nor kept (they are counted in `left_out`), so that a large run is
    scored against a small gold set in the memory of the gold set's articles."""
    if not path.is_dir():
        raise EvaluationError(f"{path} is not a directory written by `sitrep run`")
    if not (path / INCIDENTS).is_file():
        raise EvaluationError(f"{path} is not a sitrep run directory: {INCIDENTS} is missing")
    problems: list[str] = []
    ids, texts, labels = _run_articles(path / ARTICLES, only, problems)
    records: dict[str, dict[str, list[Partial]]] = {}
    for kind, name, model in (
        ("incidents", INCIDENTS, Incident),
        ("statistics", STATISTICS, Statistic),
    ):
        for number, line in _lines(path / name):
            where = f"{path / name} line {number}"
            found: list[str] = []
            owner, record = _run_record(line, model, only, found)
            problems += [f"{where}: {message}" for message in found]
            if owner is None:
                continue
            ids[owner] = None
            if record is not None:
                records.setdefault(owner, {"incidents": [], "statistics": []})[kind].append(record)
    failed = _run_failures(path / FAILURES, problems)
    _raise_if_any(problems, f"{path} is not a readable run directory")
    kept = [i for i in ids if only is None or i in only]
    articles = {
        i: ArticleRecords(
            article_id=i,
            incidents=tuple(records.get(i, {}).get("incidents", ())),
            statistics=tuple(records.get(i, {}).get("statistics", ())),
            label=labels.get(i),
        )
        for i in kept
    }
    return RecordSet(
        source=str(path),
        articles=articles,
        texts=texts,
        failed={i: kind for i, kind in failed.items() if only is None or i in only},
        left_out=len(ids) - len(kept),
    )


def _run_articles(
    path: Path, only: Collection[str] | None, problems: list[str]
) -> tuple[dict[str, None], dict[str, str], dict[str, str]]:
    """Every article id of a run's articles.jsonl in order, and the texts and sources of
    those kept."""
    ids: dict[str, None] = {}
    texts: dict[str, str] = {}
    labels: dict[str, str] = {}
    for number, line in _lines(path):
        obj = _json_object(line, f"{path} line {number}", problems)
        if obj is None:
            continue
        article_id, text = obj.get("id"), obj.get("text")
        if not isinstance(article_id, str) or not isinstance(text, str):
            problems.append(f"{path} line {number}: an article needs an id and a text")
            continue
        ids[article_id] = None
        if only is None or article_id in only:
            texts[article_id] = text
            if isinstance(source := obj.get("source"), str):
                labels[article_id] = source
    return ids, texts, labels


def _run_failures(path: Path, problems: list[str]) -> dict[str, str]:
    """The kind of error of each article a run's failures.jsonl lists."""
    failed: dict[str, str] = {}
    for number, line in _lines(path):
        obj = _json_object(line, f"{path} line {number}", problems)
        if obj is not None and isinstance(article_id := obj.get("article_id"), str):
            failed[article_id] = str(obj.get("error_kind") or "failed")
    return failed


def validate_partial(
    value: object, model: type[BaseModel], path: str, problems: list[str]
) -> Partial:
    """`value` as a partial record of `model`; each fault found is appended to `problems`,
    named by its path below `path` ("incidents[0]", or "" for a whole line)."""
    return _partial(value, model, path, problems, ignored=_IGNORED)


def _gold_article(line: str, problems: list[str]) -> ArticleRecords | None:
    obj = _json_object(line, "", problems)
    if obj is None:
        return None
    unknown = [key for key in obj if key not in _GOLD_KEYS]
    for key in unknown:
        problems.append(f"unknown key {key!r} (known: {', '.join(_GOLD_KEYS)})")
    article_id = obj.get("article_id")
    if not isinstance(article_id, str) or not article_id:
        problems.append("article_id is missing or not a non-empty string")
    for key in ("path", "note"):
        if key in obj and not isinstance(obj[key], str):
            problems.append(f"{key}: expected a string, got {_show(obj[key])}")
    if "published" in obj:
        _leaf(obj["published"], _adapter_of(date), date, "published", problems)
    kinds: dict[str, list[Partial]] = {}
    for kind, model in (("incidents", Incident), ("statistics", Statistic)):
        items = obj.get(kind)
        if not isinstance(items, list):
            problems.append(
                f"{kind} is missing or not a list (an empty list says the article has none)"
            )
            continue
        kinds[kind] = [
            validate_partial(item, model, f"{kind}[{index}]", problems)
            for index, item in enumerate(items)
        ]
    if problems or not isinstance(article_id, str):
        return None
    path = obj.get("path")
    return ArticleRecords(
        article_id=article_id,
        incidents=tuple(kinds["incidents"]),
        statistics=tuple(kinds["statistics"]),
        label=path if isinstance(path, str) else None,
    )


def _run_record(
    line: str,
    model: type[Incident] | type[Statistic],
    only: Collection[str] | None,
    problems: list[str],
) -> tuple[str | None, Partial | None]:
    """The article id of one line of a run's output and, if it is wanted, the record."""
    obj = _json_object(line, "", problems)
    if obj is None:
        return None, None
    provenance = obj.get("provenance")
    owner = provenance.get("article_id") if isinstance(provenance, dict) else None
    if not isinstance(owner, str):
        problems.append("provenance.article_id is missing: a run's records name their article")
        return None, None
    if only is not None and owner not in only:
        return owner, None
    try:
        # A record sitrep wrote is whole: one validation of the model is the quick path.
        record = model.model_validate_json(line, strict=True)
    except ValidationError:
        return owner, validate_partial(obj, model, "", problems)
    return owner, record.model_dump(exclude=set(_IGNORED))


def _partial(
    value: object,
    model: type[BaseModel],
    path: str,
    problems: list[str],
    ignored: frozenset[str] = frozenset(),
) -> Partial:
    if not isinstance(value, dict):
        problems.append(f"{path or 'record'}: expected an object, got {_show(value)}")
        return {}
    fields = model.model_fields
    result: Partial = {}
    for key, item in value.items():
        if key in ignored:
            continue
        inner = f"{path}.{key}" if path else str(key)
        if key not in fields:
            known = ", ".join(k for k in fields if k not in ignored)
            problems.append(f"{inner}: unknown field (known: {known})")
            continue
        result[key] = _field(item, model, key, inner, problems)
    return result


def _field(item: object, model: type[BaseModel], key: str, path: str, problems: list[str]) -> Any:
    info = model.model_fields[key]
    annotation = info.annotation
    nested = _model_in(annotation)
    if nested is not None:
        if item is None and _allows_none(annotation):
            return None
        return _partial(item, nested, path, problems)
    element = _list_element_model(annotation)
    if element is not None:
        if not isinstance(item, list):
            problems.append(f"{path}: expected a list of objects, got {_show(item)}")
            return []
        if info.metadata:  # a length bound on the list itself (evidence: at least one)
            _leaf(item, _list_adapter(model, key), list, path, problems)
        return [_partial(x, element, f"{path}[{i}]", problems) for i, x in enumerate(item)]
    return _leaf(item, _field_adapter(model, key), annotation, path, problems)


def _leaf(
    item: object, adapter: TypeAdapter[Any], annotation: Any, path: str, problems: list[str]
) -> Any:
    try:
        return adapter.validate_json(json.dumps(item), strict=True)
    except (ValidationError, TypeError, ValueError) as exc:
        problems.append(f"{path}: {_leaf_message(item, annotation, exc)}")
        return None


def _leaf_message(item: object, annotation: Any, exc: Exception) -> str:
    enums = [a for a in _members(annotation) if isinstance(a, type) and issubclass(a, Enum)]
    if enums:
        allowed = ", ".join(str(m.value) for m in enums[0])
        tail = ", or null" if _allows_none(annotation) else ""
        return f"{item!r} is not one of {allowed}{tail}"
    if isinstance(exc, ValidationError):
        errors = [e for e in exc.errors() if e["type"] != "none_required"] or exc.errors()
        return f"{errors[0]['msg']} (got {_show(item)})"
    return f"cannot be read: {exc}"


@cache
def _field_adapter(model: type[BaseModel], key: str) -> TypeAdapter[Any]:
    """The field's annotation with its constraints (`Field(ge=0)` lives in `metadata`)."""
    info = model.model_fields[key]
    return _adapter_of(_constrained(info.annotation, info.metadata))


@cache
def _list_adapter(model: type[BaseModel], key: str) -> TypeAdapter[Any]:
    """The constraints of a list field on the list itself (its length)."""
    return _adapter_of(_constrained(list[Any], model.model_fields[key].metadata))


def _constrained(annotation: Any, metadata: list[Any]) -> Any:
    return Annotated[(annotation, *metadata)] if metadata else annotation


@cache
def _adapter_of(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _members(annotation: Any) -> tuple[Any, ...]:
    """The types of a union (`X | None`), or the annotation itself; `Annotated` unwrapped."""
    if typing.get_origin(annotation) is Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(m for arg in typing.get_args(annotation) for m in _members(arg))
    return (annotation,)


def _allows_none(annotation: Any) -> bool:
    return type(None) in _members(annotation)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    found = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return found[0] if found else None


def _list_element_model(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if typing.get_origin(member) is list:
            return _model_in(typing.get_args(member)[0])
    return None


def _json_object(line: str, where: str, problems: list[str]) -> dict[str, Any] | None:
    prefix = f"{where}: " if where else ""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        problems.append(f"{prefix}not valid JSON: {exc}")
        return None
    if not isinstance(obj, dict):
        problems.append(f"{prefix}expected a JSON object, got {_show(obj)}")
        return None
    return obj


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    if not path.exists():
        return
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    yield number, line
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"cannot read {path}: {exc}") from exc


def _show(value: object) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _raise_if_any(problems: list[str], headline: str) -> None:
    if not problems:
        return
    shown = problems[:_MAX_SHOWN]
    more = len(problems) - len(shown)
    lines = [headline + ":", *shown, *([f"... and {more} more"] if more else [])]
    raise EvaluationError("\n".join(lines), problems=problems)
