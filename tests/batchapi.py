"""Running the Batch API path against the fake server, and reading back what the server got.

    with serving(answer=statistic_arguments, duration=0.3) as server:
        summary = run_api(lambda: ARTICLES, synthetic_config(server), out)
        batches = sent_batches(server)        # every batch, its input lines, those it never ran

The server's side is read through its own endpoints (`GET /v1/batches`, the input and error
files' content), not from the ledger, so a test can hold the two against each other.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2
import pytest

from sitrep.model.article import Article
from sitrep.run.batchapi import BatchClient
from sitrep.run.batchbook import CUSTOM_ID_DIGITS, NOT_RUN_CODES
from sitrep.run.batchrun import BatchApiSummary, run_batch_api
from sitrep.run.ledger import LEDGER_NAME
from sitrep.run.readers import InputItem
from sitrep.settings import BatchApiOptions, BatchOptions, ModelConfig
from sitrep.testing.batches import BatchSettings
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from synthetic import statistic_arguments

MODEL = "gpt-4.1-mini"  # priced, so batch lines carry costs
FAST = BatchApiOptions(poll_initial=0.05, poll_max=0.2)


@contextmanager
def serving(
    answer: Callable[[dict[str, Any]], str] = statistic_arguments, **batch: Any
) -> Iterator[FakeOpenAIServer]:
    settings = BatchSettings(**{"duration": 0.3} | batch)
    with FakeOpenAIServer(ServerSettings(answer=answer, batch=settings)) as server:
        yield server


def synthetic_config(server: FakeOpenAIServer, **changes: Any) -> ModelConfig:
    return ModelConfig(model=MODEL, base_url=server.base_url, **changes)


def run_api(
    inputs: Callable[[], Iterable[InputItem | Article]],
    config: ModelConfig,
    out: Path,
    *,
    options: BatchOptions | None = None,
    **batch: Any,
) -> BatchApiSummary:
    return asyncio.run(
        run_batch_api(
            inputs,
            config,
            api_key="test-key-never-sent",
            out_dir=out,
            options=options or BatchOptions(read_workers=1),
            batch=replace(FAST, **batch),
        )
    )


class Killed(Exception):  # noqa: N818  (a process stopped, not an error of sitrep's)
    """The process stopped here."""


def kill_before(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """`BatchClient.<method>` stops the process before it reaches the server."""

    async def killed(self: BatchClient, *args: Any, **kwargs: Any) -> Any:
        raise Killed(f"before {method}")

    monkeypatch.setattr(BatchClient, method, killed)


def kill_after(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """`BatchClient.<method>` reaches the server, then the process stops before it hears back."""
    real = getattr(BatchClient, method)

    async def killed(self: BatchClient, *args: Any, **kwargs: Any) -> Any:
        await real(self, *args, **kwargs)
        raise Killed(f"after {method}")

    monkeypatch.setattr(BatchClient, method, killed)


# The server's side


@dataclass(frozen=True)
class SentBatch:
    """A batch as the server holds it: its input file's custom_ids and the lines it never ran."""

    id: str
    status: str
    input_file_id: str
    custom_ids: list[str]
    bodies: list[dict[str, Any]]
    not_run: frozenset[str]


def _get(server: FakeOpenAIServer, path: str) -> httpx2.Response:
    response = httpx2.get(server.base_url.rstrip("/") + path, timeout=5)
    response.raise_for_status()
    return response


def _lines(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.splitlines() if line.strip()]


def sent_batches(server: FakeOpenAIServer) -> list[SentBatch]:
    """Every batch the server was asked to make, oldest first."""
    views: list[dict[str, Any]] = []
    after = ""
    while True:
        page = _get(server, f"/batches?limit=100{after}").json()
        views.extend(page["data"])
        if not page["has_more"]:
            break
        after = f"&after={page['last_id']}"
    batches = []
    for view in reversed(views):
        lines = _lines(_get(server, f"/files/{view['input_file_id']}/content").content)
        not_run: set[str] = set()
        if view.get("error_file_id"):
            for line in _lines(_get(server, f"/files/{view['error_file_id']}/content").content):
                if (line.get("error") or {}).get("code") in NOT_RUN_CODES:
                    not_run.add(line["custom_id"])
        batches.append(
            SentBatch(
                view["id"],
                view["status"],
                view["input_file_id"],
                [line["custom_id"] for line in lines],
                [line["body"] for line in lines],
                frozenset(not_run),
            )
        )
    return batches


def output_request_ids(server: FakeOpenAIServer) -> set[str]:
    """The request ids of every line in the batches' output files."""
    ids = set()
    for view in _get(server, "/batches?limit=100").json()["data"]:
        if view.get("output_file_id"):
            for line in _lines(_get(server, f"/files/{view['output_file_id']}/content").content):
                ids.add(line["response"]["request_id"])
    return ids


def request_of(custom_id: str) -> str:
    """The request hash digits a custom_id starts with."""
    digits, _, submission = custom_id.rpartition("-")
    assert len(digits) == CUSTOM_ID_DIGITS, custom_id
    assert submission.isdigit(), custom_id
    return digits


def times_run(batches: list[SentBatch]) -> Counter[str]:
    """How many times the server ran each request (by its hash digits)."""
    return Counter(
        request_of(custom_id)
        for batch in batches
        for custom_id in batch.custom_ids
        if custom_id not in batch.not_run
    )


# The output directory's side


def query(out: Path, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(out / LEDGER_NAME)) as db:
        return db.execute(sql, parameters).fetchall()


def jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def statuses(out: Path) -> Counter[str]:
    return Counter(row[0] for row in query(out, "SELECT status FROM articles"))


def assert_done_once_and_run_once(
    server: FakeOpenAIServer, out: Path, articles: list[Article]
) -> list[SentBatch]:
    """Every article done, its record and text written once; every request run exactly once
    by the server but for lines a batch never ran; every line the server got in the ledger."""
    ids = Counter(article.id for article in articles)
    assert statuses(out) == Counter({"done": len(articles)})
    assert Counter(line["id"] for line in jsonl(out / "articles.jsonl")) == ids
    statistics = jsonl(out / "statistics.jsonl")
    assert Counter(record["provenance"]["article_id"] for record in statistics) == ids
    assert jsonl(out / "failures.jsonl") == []
    batches = sent_batches(server)
    sent = [custom_id for batch in batches for custom_id in batch.custom_ids]
    assert len(sent) == len(set(sent)), "a custom_id was sent twice"
    ran = times_run(batches)
    assert set(ran.values()) == {1}, f"requests run more than once: {ran.most_common(3)}"
    ledger = {row[0] for row in query(out, "SELECT request_hash FROM batch_requests")}
    assert set(ran) == {digest[:CUSTOM_ID_DIGITS] for digest in ledger}
    assert set(sent) == {row[0] for row in query(out, "SELECT custom_id FROM batch_requests")}
    return batches
