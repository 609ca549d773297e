"""Fault tests over the network, against the local fake server: nothing lost, nothing doubled.

The server (sitrep.fakeserver, on 127.0.0.1 only) answers synthetic articles with one
statistic each, so every article's fate can be counted: extracted exactly once, or failed
with a reason, never both, never neither.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sitrep.run.scheduler import run_batch
from sitrep.settings import BatchOptions, ModelConfig, RetryPolicy
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from synthetic import statistic_arguments, synthetic_articles

FAST_RETRIES = RetryPolicy(
    max_attempts=8, initial_wait=0.01, max_wait=0.05, jitter=0.01, deadline=30.0
)


def _ids(path: Path, key: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line)
        found[record["provenance"]["article_id"] if key == "provenance" else record[key]] += 1
    return found


def _statuses(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "ledger.sqlite") as db:
        return dict(db.execute("SELECT id, status FROM articles"))


def _done_so_far(out: Path) -> int:
    """Articles done in a running batch's ledger; 0 until its migrations have made the tables."""
    if not (out / "ledger.sqlite").exists():
        return 0
    try:
        return sum(1 for s in _statuses(out).values() if s == "done")
    except sqlite3.OperationalError:  # the file is there, its tables not yet
        return 0


def test_faulty_endpoint_leaves_every_article_extracted_once_or_failed_with_reason(
    tmp_path: Path,
) -> None:
    articles = synthetic_articles(300)
    settings = ServerSettings(
        fault_rate=0.2,  # a fifth of calls: 429, 500, a timeout, or malformed output
        fault_retry_after=0.05,
        timeout_hold=2.0,
        seed=7,
        answer=statistic_arguments,
    )
    with FakeOpenAIServer(settings) as server:
        config = ModelConfig(
            model="gpt-4.1-mini",
            base_url=server.base_url,
            request_timeout=0.5,
            retry=FAST_RETRIES,
        )
        summary = asyncio.run(
            run_batch(
                articles,
                config,
                api_key="test-key-never-sent",
                out_dir=tmp_path,
                options=BatchOptions(concurrency=32),
            )
        )
        stats = server.stats()
    assert stats.injected_429 > 0
    assert stats.server_errors > 0
    assert stats.timeouts > 0
    assert stats.malformed > 0

    all_ids = {a.id for a in articles}
    extracted = _ids(tmp_path / "statistics.jsonl", "provenance")
    failed = _ids(tmp_path / "failures.jsonl", "article_id")
    assert set(extracted.values()) <= {1}  # nothing doubled
    assert set(failed.values()) <= {1}
    assert set(extracted) | set(failed) == all_ids  # nothing lost
    assert not set(extracted) & set(failed)
    assert summary.pending == 0
    assert summary.done == len(extracted)
    for line in (tmp_path / "failures.jsonl").read_text("utf-8").splitlines():
        assert json.loads(line)["reason"]  # every failure says why


def test_run_killed_mid_way_and_restarted_yields_every_article_exactly_once(
    tmp_path: Path,
) -> None:
    articles = synthetic_articles(200)
    archive = tmp_path / "archive.jsonl"
    archive.write_text(
        "".join(
            json.dumps({"text": a.text, "published": "2024-07-17", "source": a.source}) + "\n"
            for a in articles
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    settings = ServerSettings(latency=0.02, answer=statistic_arguments)
    with FakeOpenAIServer(settings) as server:
        command = [
            sys.executable,
            "-m",
            "sitrep",
            "run",
            str(archive),
            "--out",
            str(out),
            "--base-url",
            server.base_url,
            "--concurrency",
            "8",
        ]
        env = {**os.environ, "OPENAI_API_KEY": "test-key-never-sent"}
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if _done_so_far(out) >= 40:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = sum(1 for s in _statuses(out).values() if s == "done")
        assert 40 <= killed_at < 200, "the kill must land part-way through the run"

        second = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert second.returncode == 0, second.stderr
    statuses = _statuses(out)
    assert Counter(statuses.values()) == Counter({"done": 200})
    assert _ids(out / "statistics.jsonl", "provenance") == Counter({a.id: 1 for a in articles})
