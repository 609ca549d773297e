"""Articles a second through sitrep's readers alone: no model, no ledger, nothing sent.

    python benchmarks/readers.py                # 1,000 generated pages (about 100 MB of HTML)
    python benchmarks/readers.py --pages 200    # quicker
    python benchmarks/readers.py --workers 1,2,4

The same generated news pages (benchmarks/bench_pages.py: 50 to 150 KB each, the article a
few KB of it) are read three ways through `sitrep.run.readers.read_archives`, each timed in
CPU time of this process:
- a directory of `.html` files;
- one `.warc.gz` as a crawler writes it (a request and a response record a page, each its own
  gzip member, the bodies gzip-encoded as servers send them);
- for scale, a JSON Lines file of the same articles' plain text, which needs no reduction.
Each page input is read with every `--workers` count (`read_archives(..., workers=N)`; 1
reads in this process). Articles a second are by the wall clock, from the call to the last
item, so they include starting the worker processes (their imports), timed on its own as the
wait for the first article; CPU is this process's alone, which with workers is the reading of
the files and the hand-over of pages and articles. `count_inputs` (the progress display's
count) is timed on the WARC file too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_pages import pages, write_html_directory, write_warc

from sitrep.run.readers import count_inputs, read_archives


def write_jsonl(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as stream:
        for page in pages(count):
            text = "\n".join(page.paragraphs)
            stream.write(json.dumps({"text": text, "published": page.published.isoformat()}))
            stream.write("\n")
    return path


def size(path: Path) -> int:
    if path.is_dir():
        return sum(child.stat().st_size for child in path.iterdir())
    return path.stat().st_size


def timed(run: Callable[[], int]) -> tuple[int, float]:
    started = time.process_time()
    result = run()
    return result, time.process_time() - started


@dataclass(frozen=True)
class Reading:
    articles: int
    others: int
    wall: float  # seconds from the call to the last item
    first: float  # seconds to the first article
    cpu: float  # seconds of this process's CPU


def read_all(path: Path, workers: int = 1) -> Reading:
    """Articles and other inputs read from `path`, and what reading them took."""
    articles = others = 0
    first = 0.0
    cpu, started = time.process_time(), time.perf_counter()
    for item in read_archives([path], workers=workers):
        if item.article is not None:
            first = first or time.perf_counter() - started
            articles += 1
        else:
            others += 1
    wall = time.perf_counter() - started
    return Reading(articles, others, wall, first, time.process_time() - cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="generated pages (1,000)")
    parser.add_argument("--workers", default="1,2", help="worker counts to read with (1,2)")
    args = parser.parse_args(argv)
    count = args.pages
    counts = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        inputs = {
            "web pages, a directory of .html files": write_html_directory(root / "html", count),
            "WARC, one .warc.gz": write_warc(root / "crawl.warc.gz", count),
            "JSON Lines of the plain text (for scale)": write_jsonl(root / "a.jsonl", count),
        }
        cores = os.cpu_count()
        print(f"Python {platform.python_version()}, {count} pages, {cores} cores\n")
        print(
            "| input | size | workers | articles | other inputs | wall s | first article s "
            "| articles/s | CPU ms an article, this process |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, path in inputs.items():
            read_all(path)  # warm up: the page cache, lazy imports
            for workers in counts if path.suffix != ".jsonl" else [1]:
                got = read_all(path, workers)
                print(
                    f"| {label} | {size(path) / 2**20:.1f} MiB | {workers} | {got.articles:,} "
                    f"| {got.others:,} | {got.wall:.2f} | {got.first:.2f} "
                    f"| {got.articles / got.wall:,.0f} | {got.cpu / got.articles * 1000:.2f} |"
                )
        warc = inputs["WARC, one .warc.gz"]
        total, spent = timed(lambda: count_inputs([warc]))
        print(f"\n`count_inputs` on the WARC file: {total:,} inputs in {spent:.2f} s of CPU")


if __name__ == "__main__":
    main()
