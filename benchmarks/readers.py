"""Articles a second through sitrep's readers alone: no model, no ledger, nothing sent.

    python benchmarks/readers.py                # 1,000 generated pages (about 100 MB of HTML)
    python benchmarks/readers.py --pages 200    # quicker

The same generated news pages (benchmarks/bench_pages.py: 50 to 150 KB each, the article a
few KB of it) are read three ways through `sitrep.run.readers.read_archives`, each timed in
CPU time of this process:
- a directory of `.html` files;
- one `.warc.gz` as a crawler writes it (a request and a response record a page, each its own
  gzip member, the bodies gzip-encoded as servers send them);
- for scale, a JSON Lines file of the same articles' plain text, which needs no reduction.
`count_inputs` (the progress display's count) is timed on the WARC file too.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
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


def read_all(path: Path) -> tuple[int, int]:
    """Articles and other inputs read from `path`."""
    articles = others = 0
    for item in read_archives([path]):
        if item.article is not None:
            articles += 1
        else:
            others += 1
    return articles, others


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="generated pages (1,000)")
    args = parser.parse_args(argv)
    count = args.pages
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        inputs = {
            "web pages, a directory of .html files": write_html_directory(root / "html", count),
            "WARC, one .warc.gz": write_warc(root / "crawl.warc.gz", count),
            "JSON Lines of the plain text (for scale)": write_jsonl(root / "a.jsonl", count),
        }
        print(f"Python {platform.python_version()}, {count} pages\n")
        print("| input | size | articles | other inputs | CPU s | articles/s | CPU ms an article |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for label, path in inputs.items():
            read_all(path)  # warm up: the page cache, lazy imports
            (articles, others), spent = _measure(path)
            print(
                f"| {label} | {size(path) / 2**20:.1f} MiB | {articles:,} | {others:,} "
                f"| {spent:.2f} | {articles / spent:,.0f} | {spent / articles * 1000:.2f} |"
            )
        warc = inputs["WARC, one .warc.gz"]
        total, spent = timed(lambda: count_inputs([warc]))
        print(f"\n`count_inputs` on the WARC file: {total:,} inputs in {spent:.2f} s of CPU")


def _measure(path: Path) -> tuple[tuple[int, int], float]:
    started = time.process_time()
    result = read_all(path)
    return result, time.process_time() - started


if __name__ == "__main__":
    main()
