"""What inputs sitrep does not read cost a batch: a crawl's other records, a folder of PDFs.

    python benchmarks/not_read.py              # 200,000 inputs not read, 3 runs, medians
    python benchmarks/not_read.py --inputs 1000000 --runs 1

Each run passes that many `InputItem.skip` items (as a WARC reader yields for the records it
does not read) through `run_batch` into a fresh output directory, then the same again into it
(a resume: each is already in the ledger), and prints microseconds per input for both and the
time the closing count by kind took. No request is sent: there is no article.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2

from sitrep.run.ledger import Ledger
from sitrep.run.readers import InputItem
from sitrep.run.scheduler import run_batch
from sitrep.settings import ModelConfig


def inputs(count: int) -> Iterator[InputItem]:
    for n in range(count):
        segment = f"/data/crawl/CC-MAIN-2024-10/segment-{n // 10_000:05}.warc.gz"
        yield InputItem.skip(f"{segment}:record {n}", "WARC request records")


def refuse(request: httpx2.Request) -> httpx2.Response:
    raise AssertionError("no request is sent for inputs not read")


def one_run(count: int, out: Path) -> float:
    began = time.perf_counter()
    summary = asyncio.run(
        run_batch(
            inputs(count),
            ModelConfig(model="gpt-4.1-mini"),
            api_key="no-key",
            out_dir=out,
            transport=httpx2.MockTransport(refuse),
        )
    )
    elapsed = time.perf_counter() - began
    assert summary.not_read_all_runs == {"WARC request records": count}
    return elapsed


def counting(out: Path) -> float:
    ledger = Ledger.open(out)
    try:
        began = time.perf_counter()
        ledger.skipped_counts()
        return time.perf_counter() - began
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    first, again, count = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory)
            first.append(one_run(args.inputs, out))
            again.append(one_run(args.inputs, out))
            count.append(counting(out))
    per = 1e6 / args.inputs
    print(f"{args.inputs:,} inputs not read, median of {args.runs} runs:")
    print(f"  first run  {statistics.median(first) * per:6.1f} µs an input")
    print(f"  resume     {statistics.median(again) * per:6.1f} µs an input")
    print(f"  count by kind at the end  {statistics.median(count) * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
