"""The speed and memory of `sitrep merge` on synthetic incidents.

    python benchmarks/merge.py [--incidents 1000000] [--window 1]

Writes a run directory of synthetic incidents (real events each reported by one to four
articles, under varying spellings of the place, with background recollections), then times
one merge of all of them and a second, incremental merge of a further tenth. Prints incidents
per second and the peak resident memory of the process (the generator streams to disk, so
the peak is the merge's).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sitrep.merge.rules import Tolerances
from sitrep.merge.store import merge_run

COUNTRIES = ("IQ", "SY", "YE", "SO", "NG", "ML", "BF", "NE", "AF", "PK", "SD", "LY", "UA", "CD")
KINDS = (
    ("Explosions/Remote violence", "Air/drone strike", "occurred", "drone"),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack", "occurred", "rocket"),
    ("Explosions/Remote violence", "Remote explosive/landmine/IED", "occurred", "roadside bomb"),
    ("Strategic developments", "Disrupted weapons use", "intercepted", "drone"),
    ("Battles", "Armed clash", "occurred", None),
)
SPELLINGS = ("{}", "{} air base", "the {} base", "{}s", "al-{}")
SYLLABLES = (
    "ain",
    "asad",
    "deir",
    "zor",
    "kir",
    "kuk",
    "tal",
    "afar",
    "ram",
    "adi",
    "mosul",
    "hit",
)
FIRST_DAY = date(2021, 1, 1)
DAYS = 3 * 365


def place_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add(" ".join(rng.choice(SYLLABLES) + rng.choice(SYLLABLES) for _ in range(2)))
    return sorted(names)


def incident(number: int, event: int, rng: random.Random, background: bool, **fields: Any) -> str:
    day: date = fields["day"]
    span = (day.replace(day=1), day.replace(day=28)) if background else (day, day)
    return json.dumps(
        {
            "id": f"inc{number:09d}",
            "summary": f"synthetic incident {number} of event {event}",
            "salience": "background" if background else "main",
            "status": fields["status"],
            "event_type": fields["event_type"],
            "sub_event_type": fields["sub_event_type"],
            "when": {
                "phrase": None,
                "start": span[0].isoformat(),
                "end": span[1].isoformat(),
                "precision": "month" if background else "day",
                "anchor": None,
                "time_of_day": None,
                "source": "code",
            },
            "where": {
                "name": rng.choice(SPELLINGS).format(fields["place"]),
                "site_kind": "base",
                "admin1": None,
                "country": fields["country"],
                "precision": "site",
            },
            "perpetrator": {"name": None, "attribution": "unknown"},
            "target": None,
            "munitions": {
                "weapon": fields["weapon"],
                "launched": fields["launched"],
                "intercepted": None,
                "impacted": None,
            },
            "casualties": [],
            "damage": {"level": "not reported", "description": None},
            "reported_by": [],
            "evidence": [{"quote": "q", "start": 0, "end": 1, "match": "exact"}],
            "provenance": {
                "article_id": f"art{number // 2:09d}",
                "model": "synthetic",
                "prompt_version": "0",
                "schema_version": "0",
                "request_ids": [],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "reasks": 0,
                "extracted_at": "2024-01-01T00:00:00Z",
                "sitrep_version": "0",
            },
        }
    )


def write_incidents(path: Path, count: int, rng: random.Random, first: int = 0) -> None:
    places = {c: place_names(rng, 400) for c in COUNTRIES}
    with path.open("a", encoding="utf-8") as stream:
        number, event = first, first
        while number < first + count:
            event += 1
            event_type, sub_event_type, status, weapon = rng.choice(KINDS)
            country = rng.choice(COUNTRIES)
            fields = {
                "event_type": event_type,
                "sub_event_type": sub_event_type,
                "status": status,
                "weapon": weapon,
                "country": country,
                "place": rng.choice(places[country]),
                "day": FIRST_DAY + timedelta(days=rng.randrange(DAYS)),
                "launched": rng.choice((None, 1, 2, 3, 6)),
            }
            for _ in range(min(rng.randint(1, 4), first + count - number)):
                background = rng.random() < 0.1
                stream.write(incident(number, event, rng, background, **fields) + "\n")
                number += 1


def peak_mib() -> float:
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # kiB on Linux, bytes on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(20240716)
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch)
        write_incidents(run / "incidents.jsonl", args.incidents, rng)
        size = (run / "incidents.jsonl").stat().st_size
        started = time.perf_counter()
        summary = merge_run(run, Tolerances(window=args.window))
        seconds = time.perf_counter() - started
        later = max(1, args.incidents // 10)
        write_incidents(run / "incidents.jsonl", later, rng, first=args.incidents)
        started = time.perf_counter()
        again = merge_run(run, Tolerances(window=args.window))
        incremental = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "incidents": args.incidents,
                    "input_mib": round(size / 2**20),
                    "events": summary.events,
                    "comparisons": summary.comparisons,
                    "seconds": round(seconds, 1),
                    "incidents_per_second": round(args.incidents / seconds),
                    "incremental_new": again.new,
                    "incremental_seconds": round(incremental, 1),
                    "events_after": again.events,
                    "peak_rss_mib": round(peak_mib()),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
