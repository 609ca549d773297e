"""Synthetic news articles for the benchmarks, written as JSON Lines on disk.

Each article is news-like prose of 600 to 4,000 characters (about 2,300 on average, a short
wire story), different for every number, so every article has its own id and nothing is ever
answered from the response cache. The text is drawn from a seeded generator: the same count
and seed always write the same file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

_PLACES = (
    "Tuz Khurmatu",
    "Kirkuk",
    "Mosul",
    "Gao",
    "Timbuktu",
    "Mopti",
    "Maiduguri",
    "Bama",
    "Gwoza",
    "Beledweyne",
    "Kismayo",
    "Baidoa",
    "Goma",
    "Beni",
    "Bunia",
    "Tillaberi",
    "Diffa",
    "Menaka",
)
_ACTORS = (
    "militants",
    "gunmen",
    "an armed group",
    "security forces",
    "unidentified attackers",
    "a local militia",
)
_EVENTS = (
    "attacked a checkpoint",
    "shelled a village",
    "ambushed a convoy",
    "raided a market",
    "clashed with soldiers",
    "abducted travellers",
    "set fire to houses",
)
_SOURCES = (
    "a provincial police officer said",
    "local officials said",
    "a hospital source said",
    "residents told reporters",
    "the army said in a statement",
    "a spokesperson for the governor said",
)
_FILLER = (
    "The area has seen repeated violence in recent months.",
    "No group has claimed responsibility.",
    "Officials gave no further details.",
    "Roads leading to the town were closed for several hours.",
    "Humanitarian agencies said access to the district remained limited.",
    "Residents said they heard gunfire for about an hour.",
    "The circumstances of the incident could not be independently verified.",
    "Security was tightened around public buildings after the attack.",
    "Several families were reported to have left their homes.",
    "The regional administration called for calm.",
)


def article_fields(
    number: int, rng: random.Random, *, min_chars: int = 600, max_chars: int = 4000
) -> dict[str, str]:
    """One article as the JSON Lines reader takes it: text, published, source, title."""
    place = rng.choice(_PLACES)
    published = date(2024, 1, 1) + timedelta(days=number % 366)
    sentences = [
        f"Report {number}: {rng.choice(_ACTORS)} {rng.choice(_EVENTS)} near {place} on "
        f"{published.strftime('%A')}, killing {rng.randint(0, 40)} people and wounding "
        f"{rng.randint(0, 60)}, {rng.choice(_SOURCES)}."
    ]
    target = rng.randint(min_chars, max_chars)
    length = len(sentences[0])
    while length < target:
        if rng.random() < 0.3:
            sentence = (
                f"In a separate incident in {rng.choice(_PLACES)}, {rng.choice(_ACTORS)} "
                f"{rng.choice(_EVENTS)}, {rng.choice(_SOURCES)}, and {rng.randint(2, 90)} "
                "people were reported missing."
            )
        else:
            sentence = rng.choice(_FILLER)
        sentences.append(sentence)
        length += len(sentence) + 1
    return {
        "text": " ".join(sentences),
        "published": published.isoformat(),
        "source": f"synthetic/{number}",
        "title": f"Violence near {place} (report {number})",
    }


def synthetic_lines(
    count: int, seed: int = 0, *, min_chars: int = 600, max_chars: int = 4000
) -> Iterator[str]:
    rng = random.Random(seed)
    for number in range(1, count + 1):
        fields = article_fields(number, rng, min_chars=min_chars, max_chars=max_chars)
        yield json.dumps(fields) + "\n"


def write_jsonl(
    path: Path, count: int, seed: int = 0, *, min_chars: int = 600, max_chars: int = 4000
) -> Path:
    """Write `count` articles to `path`, streaming: nothing but one line is held in memory.
    `min_chars` and `max_chars` bound each text's length (a short wire story by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for line in synthetic_lines(count, seed, min_chars=min_chars, max_chars=max_chars):
            stream.write(line)
    return path
