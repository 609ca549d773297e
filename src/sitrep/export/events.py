"""Merged events as tables: one row an event, flat (`events.csv`, `events.parquet`) or in ACLED's
columns (`events-acled.csv`).

ACLED's columns are filled as far as sitrep knows them; `ACLED_EMPTY` names the columns that stay
empty and why (the README's table is checked against it). One event is one ACLED row: its event
and sub-event types are already ACLED's (an attack whose every drone was intercepted is
"Strategic developments / Disrupted weapons use", one that struck "Explosions/Remote violence /
Air/drone strike"; the two never merge).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pycountry

from sitrep.errors import ConfigurationError
from sitrep.export.tables import flatten, write_csv, write_parquet
from sitrep.merge.store import EVENTS, read_events
from sitrep.model.events import Event
from sitrep.model.vocab import EventType
from sitrep.run.outputs import ARTICLES

ACLED_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2",
    "admin3", "location", "latitude", "longitude", "geo_precision", "source", "source_scale",
    "notes", "fatalities", "tags", "timestamp",
)  # fmt: skip

# The columns sitrep leaves empty, and why.
ACLED_EMPTY = {
    "assoc_actor_1": "articles rarely name allied actors apart; not extracted",
    "inter1": "ACLED's actor categories need its actor list; not coded",
    "actor2": "the target is extracted as free text, not as an actor",
    "assoc_actor_2": "as actor2",
    "inter2": "as inter1",
    "interaction": "combines inter1 and inter2",
    "civilian_targeting": "not extracted",
    "region": "ACLED's regions are its own grouping of countries",
    "admin2": "only the first administrative level is extracted",
    "admin3": "as admin2",
    "latitude": "no geocoding: empty unless known, never guessed",
    "longitude": "as latitude",
    "source_scale": "ACLED's judgement of each outlet's reach",
}

# The `sitrep export --format` values for events, beside the run's tables (`ExportFormat`).
EVENT_FORMATS = ("events-csv", "events-parquet", "acled")

_DISORDER = {
    EventType.BATTLES: "Political violence",
    EventType.EXPLOSIONS_REMOTE_VIOLENCE: "Political violence",
    EventType.VIOLENCE_AGAINST_CIVILIANS: "Political violence",
    EventType.PROTESTS: "Demonstrations",
    EventType.RIOTS: "Demonstrations",
    EventType.STRATEGIC_DEVELOPMENTS: "Strategic developments",
}
# ACLED: 1 a day is known, 2 a week or a range of days, 3 a month or longer.
_TIME_PRECISION = {"day": 1, "days": 2, "week": 2}
# ACLED: 1 the place itself, 2 near it or part of a region, 3 a province or larger.
_GEO_PRECISION = {"site": 1, "city": 1, "region": 2, "admin1": 3, "country": 3}


def export_events(directory: Path, fmt: str) -> Path:
    """Write the events of `directory` as `events-csv`, `events-parquet` or `acled`."""
    source = directory / EVENTS
    if not source.exists():
        raise ConfigurationError(
            f"{directory} has no {EVENTS}: run `sitrep merge {directory}` first"
        )
    if fmt == "acled":
        target = directory / "events-acled.csv"
        sources = _article_sources(directory / ARTICLES)
        with target.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=ACLED_COLUMNS)
            writer.writeheader()
            writer.writerows(acled_row(e, sources) for e in read_events(source))
        return target
    rows = (_flat(e) for e in read_events(source))
    if fmt == "events-csv":
        target = directory / "events.csv"
        write_csv(rows, target)
    elif fmt == "events-parquet":
        target = directory / "events.parquet"
        write_parquet(rows, target)
    else:
        raise ConfigurationError(f"unknown events format {fmt!r}")
    return target


def _flat(event: Event) -> dict[str, Any]:
    record = event.model_dump(mode="json")
    for name in ("fatalities", "injured"):  # one column set whether the figure is known or not
        record[name] = record[name] or {"low": None, "best": None, "high": None}
    for name, figure in record["munitions"].items():
        record["munitions"][name] = figure or {"low": None, "best": None, "high": None}
    return flatten(record)


def acled_row(event: Event, sources: dict[str, str]) -> dict[str, Any]:
    country = pycountry.countries.get(alpha_2=event.where.country) if event.where.country else None
    start = event.when.start
    actor = event.perpetrator.name
    if actor is None and country is not None:
        actor = f"Unidentified Armed Group ({country.name})"  # ACLED's name for an unnamed actor
    outlets = sorted({sources.get(m.article_id) or m.article_id for m in event.members})
    latest = max(m.facts.extracted_at for m in event.members)
    row: dict[str, Any] = dict.fromkeys(ACLED_COLUMNS, "")
    row.update(
        {
            "event_id_cnty": (country.alpha_3 if country else "XXX")
            + event.id.removeprefix("evt_"),
            "event_date": start.isoformat() if start else "",
            "year": start.year if start else "",
            "time_precision": _TIME_PRECISION.get(event.when.precision, 3),
            "disorder_type": _DISORDER[event.event_type],
            "event_type": event.event_type.value,
            "sub_event_type": event.sub_event_type.value,
            "actor1": actor or "",
            "iso": int(country.numeric) if country else "",
            "country": country.name if country else "",
            "admin1": event.where.admin1 or "",
            "location": event.where.name or "",
            "geo_precision": _GEO_PRECISION.get(event.where.precision or "", 3),
            "source": "; ".join(outlets),
            "notes": event.summary,
            "fatalities": event.fatalities.best if event.fatalities else "",
            "tags": _tags(event),
            "timestamp": int(datetime.fromisoformat(latest).timestamp()),
        }
    )
    return row


def _tags(event: Event) -> str:
    tags = [f"sitrep event {event.id}", f"sources={event.sources}"]
    if event.weapon:
        tags.append(f"weapon={event.weapon}")
    for name in ("launched", "intercepted", "impacted"):
        figure = getattr(event.munitions, name)
        if figure is not None:
            tags.append(
                f"{name}={figure.best}" + (f"-{figure.high}" if figure.high > figure.best else "")
            )
    if event.fatalities and event.fatalities.high > event.fatalities.best:
        tags.append(f"fatalities reported {event.fatalities.low}-{event.fatalities.high}")
    return "; ".join(tags)


def _article_sources(path: Path) -> dict[str, str]:
    """Article id → its outlet, where `articles.jsonl` names one."""
    if not path.exists():
        return {}
    sources: dict[str, str] = {}
    for line in _lines(path):
        article = json.loads(line)
        if article.get("source"):
            sources[article["id"]] = article["source"]
    return sources


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as stream:
        yield from (line for line in stream if line.strip())
