"""Synthetic articles and a scripted answer for batch tests: many articles, no model.

Each article states one figure ("Report 17: militants carried out 17 attacks ..."); the scripted
answer codes it as one statistic quoting that sentence, so it passes every check in code and
each article leaves exactly one record to count when testing for loss and duplication.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx2

from author_cassettes import answer
from sitrep.model.article import Article

_SENTENCE = re.compile(r"Report (\d+): militants carried out \d+ attacks in [A-Za-z ]+\.")


def synthetic_text(number: int) -> str:
    return (
        f"Report {number}: militants carried out {number} attacks in the northern province. "
        "Officials gave no further details."
    )


def synthetic_articles(count: int, start: int = 1) -> list[Article]:
    return [
        Article.from_text(synthetic_text(n), published=date(2024, 7, 17), source=f"synthetic/{n}")
        for n in range(start, start + count)
    ]


def statistic_arguments(body: dict[str, Any]) -> str:
    """The arguments a careful coder gives for a synthetic article: one statistic."""
    # The article is in the first user message; a re-ask appends more messages after it.
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    found = _SENTENCE.search(user)
    if found is None:
        return json.dumps({"incidents": [], "statistics": []})
    statistic = attacks_statistic(int(found.group(1)), found.group(0))
    return json.dumps({"incidents": [], "statistics": [statistic]})


def attacks_statistic(value: int, sentence: str) -> dict[str, Any]:
    """The draft statistic a careful coder gives for "... carried out N attacks ...": the
    figure, who carried them out, and the sentence as evidence; nothing else is stated."""
    return {
        "metric": "attacks",
        "kind": "flow",
        "value": value,
        "qualifier": "exact",
        "unit": "attacks",
        "subject": "militants",
        "object": None,
        "when": {"phrase": None, "start": None, "end": None, "time_of_day": None},
        "where": {
            "name": None,
            "site_kind": None,
            "admin1": None,
            "country_code": None,
            "precision": None,
        },
        "reported_by": [],
        "evidence": [sentence],
    }


Handler = Callable[[httpx2.Request], httpx2.Response]


def answering(request: httpx2.Request, reply_id: str = "synthetic") -> httpx2.Response:
    """A valid completion for any synthetic-article request."""
    body = json.loads(request.content)
    return answer(statistic_arguments(body))(request, reply_id)
