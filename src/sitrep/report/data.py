"""A run directory read into the data of the review page.

The page is written for a browser, whose strings count UTF-16 code units: a character outside
the Basic Multilingual Plane (an emoji, a rare CJK ideograph) is one Python `str` index but two
units there. Every evidence span is converted here (`Utf16Offsets`), so the script slices the
text with the offsets it is given. Evidence that cannot be placed (offsets outside the text, a
start after the end, a quote that is not `text[start:end]`, an article whose text the run did
not record) is listed with its reason, never dropped.

`events.jsonl` (written by `sitrep merge`) is optional and read as plain JSON objects: the page
shows what it finds and tolerates keys it does not know.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from sitrep.errors import ConfigurationError
from sitrep.run.outputs import ARTICLES, FAILURES, INCIDENTS, STATISTICS, read_objects

EVENTS: Final = "events.jsonl"
_HIDDEN: Final = frozenset({"id", "provenance"})

__all__ = ["EVENTS", "Utf16Offsets", "page_data"]


class Utf16Offsets:
    """Python `str` indices of one text turned into UTF-16 code unit offsets."""

    def __init__(self, text: str) -> None:
        # The indices of the characters that take two UTF-16 units; empty for BMP-only text.
        self._astral = [i for i, char in enumerate(text) if ord(char) > 0xFFFF]

    def __call__(self, index: int) -> int:
        return index + bisect_left(self._astral, index)


def page_data(directory: Path) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready objects."""
    if not (directory / INCIDENTS).is_file():
        raise ConfigurationError(f"{directory} holds no batch outputs ({INCIDENTS} is missing)")
    articles: dict[str, dict[str, Any]] = {}
    for line in read_objects(directory / ARTICLES):
        article_id = str(line.get("id"))
        articles[article_id] = {
            "id": article_id,
            "text": line.get("text"),
            "published": line.get("published"),
            "source": line.get("source"),
            "title": line.get("title"),
            "url": line.get("url"),
            "records": [],
        }
    records: list[dict[str, Any]] = []
    unplaced: list[dict[str, Any]] = []
    offsets: dict[str, Utf16Offsets] = {}
    for kind, name in (("incident", INCIDENTS), ("statistic", STATISTICS)):
        for raw in read_objects(directory / name):
            article_id = str((raw.get("provenance") or {}).get("article_id"))
            article = articles.get(article_id)
            if article is None:
                article = articles[article_id] = {
                    "id": article_id,
                    "text": None,
                    "published": None,
                    "source": None,
                    "title": None,
                    "url": None,
                    "records": [],
                }
            text = article["text"]
            if isinstance(text, str) and article_id not in offsets:
                offsets[article_id] = Utf16Offsets(text)
            record = _record(kind, raw, article_id)
            for field, evidence in _evidence(raw):
                problem = _misplaced(evidence, text)
                if problem is None:
                    to16 = offsets[article_id]
                    record["spans"].append(
                        {
                            "field": field,
                            "start": to16(evidence["start"]),
                            "end": to16(evidence["end"]),
                        }
                    )
                else:
                    unplaced.append(
                        {
                            "key": record,  # replaced by the record's key below
                            "record": record["id"],
                            "article_id": article_id,
                            "field": field,
                            "quote": evidence.get("quote"),
                            "start": evidence.get("start"),
                            "end": evidence.get("end"),
                            "reason": problem,
                        }
                    )
            records.append(record)
    order = {article_id: n for n, article_id in enumerate(articles)}
    records.sort(key=lambda r: order[r["article_id"]])  # stable: incidents before statistics
    # Record ids need not be unique (two statistics of one article from the same passage with
    # the same label share one), so the page names each record by its place in this order.
    for n, record in enumerate(records):
        record["key"] = f"r{n}"
        articles[record["article_id"]]["records"].append(record["key"])
    for entry in unplaced:
        entry["key"] = entry["key"]["key"]
    events_path = directory / EVENTS
    return {
        "run": directory.resolve().name,
        "key": _fingerprint(records),
        "articles": list(articles.values()),
        "records": records,
        "unplaced": unplaced,
        "events": list(read_objects(events_path)) if events_path.is_file() else None,
        "failures": list(read_objects(directory / FAILURES)),
    }


def _record(kind: str, raw: dict[str, Any], article_id: str) -> dict[str, Any]:
    when = raw.get("when") or {}
    where = raw.get("where") or {}
    if kind == "incident":
        label = f"{raw.get('event_type')} / {raw.get('sub_event_type')}"
    else:
        label = f"{raw.get('metric')}: {raw.get('qualifier')} {raw.get('value')} {raw.get('unit')}"
    return {
        "key": "",
        "id": str(raw.get("id")),
        "kind": kind,
        "article_id": article_id,
        "label": label,
        "summary": raw.get("summary"),
        "event_type": raw.get("event_type"),
        "salience": raw.get("salience"),
        "country": where.get("country"),
        "place": where.get("name"),
        "date": when.get("start"),
        "date_end": when.get("end"),
        # What a reviewer accepts or corrects, and what goes into gold: the record without the
        # id and provenance gold ignores.
        "data": {key: value for key, value in raw.items() if key not in _HIDDEN},
        "spans": [],
    }


def _evidence(raw: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every evidence object of a record, with the path it sits at."""
    for n, evidence in enumerate(raw.get("evidence") or []):
        if isinstance(evidence, dict):
            yield f"evidence[{n}]", evidence
    for n, figure in enumerate(raw.get("casualties") or []):
        if isinstance(figure, dict) and isinstance(figure.get("evidence"), dict):
            yield f"casualties[{n}].evidence", figure["evidence"]


def _misplaced(evidence: dict[str, Any], text: object) -> str | None:
    """Why the evidence cannot be highlighted in `text`, or None when it can."""
    if not isinstance(text, str):
        return "the run did not record the article's text (articles.jsonl has no line for it)"
    start, end, quote = evidence.get("start"), evidence.get("end"), evidence.get("quote")
    if not isinstance(start, int) or not isinstance(end, int):
        return f"offsets are not integers (start {start!r}, end {end!r})"
    if not 0 <= start <= end <= len(text):
        return f"offsets {start}..{end} are outside the text ({len(text)} characters)"
    if text[start:end] != quote:
        return f"the quote is not the text at {start}..{end} ({text[start:end]!r})"
    return None


def _fingerprint(records: list[dict[str, Any]]) -> str:
    """Names the run's records in their order, so that a page keeps its reviewer's decisions
    (stored by record key) apart from those of another run's page in the browser's storage."""
    digest = hashlib.sha256("\n".join(r["id"] for r in records).encode())
    return digest.hexdigest()[:16]
