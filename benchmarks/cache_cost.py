"""What prompt caching and the Batch API save on the example archive, per 1,000 articles.

    python benchmarks/cache_cost.py                       # gpt-4.1-mini prices
    python benchmarks/cache_cost.py --model gpt-5-mini

Replays the example archive (`sitrep run examples/archive --out DIR --replay cassettes/archive`,
nothing is sent), reads the prompt and completion tokens of every call from the run's ledger,
and prices them per 1,000 articles twice: interactive, as if nothing were cached, and with
prompt caching, where every request after the first has the static prefix (the body up to the
article: schema, system message, the user message's fixed start) served from the cache, by
OpenAI's rule (`sitrep.model.usage.cacheable_tokens`: 1,024 tokens at least, in 128-token
increments). The archive's cassettes are authored, and their usage counts a request's body
bytes at four a token; the prefix is counted the same way, so the two agree. Both are priced
again at Batch API prices (`Price.for_batch`: every rate at its batch share, OpenAI's half),
and each cost is given as a share of the interactive one with nothing cached.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.usage import cacheable_tokens
from sitrep.run.budget import price_for
from sitrep.settings import DEFAULT_MODEL, ModelConfig
from sitrep.wire.calls import encode_request

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = 1_000


def static_prefix_bytes(config: ModelConfig) -> int:
    """Bytes every request body starts with, whatever the article."""
    builder = RequestBuilder(config)
    body = encode_request(builder.build(Article.from_text("x", published=date(2024, 1, 1))))
    start = json.dumps(builder.user_prefix, ensure_ascii=False)[:-1].encode()
    return body.index(start) + len(start)


def measured(out: Path) -> tuple[int, int, int, int]:
    """Articles, requests, prompt and completion tokens of the replayed run."""
    archive, replay = ROOT / "examples" / "archive", ROOT / "cassettes" / "archive"
    command = [sys.executable, "-m", "sitrep", "run", str(archive), "--out", str(out)]
    subprocess.run(
        [*command, "--replay", str(replay)],
        check=True,
        capture_output=True,
    )
    with sqlite3.connect(out / "ledger.sqlite") as db:
        articles = db.execute("SELECT count(*) FROM articles WHERE status = 'done'").fetchone()[0]
        calls, prompt, completion = db.execute(
            "SELECT count(*), sum(prompt_tokens), sum(completion_tokens) FROM calls "
            "WHERE status = 200 AND from_cache = 0"
        ).fetchone()
    return int(articles), int(calls), int(prompt), int(completion)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    config = ModelConfig(model=args.model)
    price = price_for(config.model)
    if price is None:
        parser.error(f"no price for {config.model}")
    with tempfile.TemporaryDirectory() as tmp:
        articles, calls, prompt, completion = measured(Path(tmp) / "out")
    prefix = static_prefix_bytes(config) // 4
    cached_per_request = cacheable_tokens(prefix)
    scale = ARTICLES / articles
    requests = round(calls * scale)
    prompt_k, completion_k = round(prompt * scale), round(completion * scale)
    cached_k = cached_per_request * (requests - 1)
    batch = price.for_batch()
    plain = price.cost(prompt_k, completion_k)
    costs = {
        "interactive, nothing cached": plain,
        "interactive, prompt caching": price.cost(prompt_k, completion_k, cached_k),
        "Batch API, nothing cached": batch.cost(prompt_k, completion_k),
        "Batch API, prompt caching": batch.cost(prompt_k, completion_k, cached_k),
    }
    print(f"measured: {articles} articles, {calls} requests, {prompt:,} prompt tokens,")
    print(f"  {completion:,} completion tokens; static prefix {prefix:,} tokens,")
    print(f"  {cached_per_request:,} of them cacheable a request")
    print()
    print(f"| per {ARTICLES:,} articles ({config.model}) | tokens | cost | of interactive |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| requests | {requests:,} | | |")
    print(f"| prompt tokens | {prompt_k:,} | | |")
    print(f"| of them cached (every request after the first) | {cached_k:,} | | |")
    print(f"| completion tokens | {completion_k:,} | | |")
    for label, cost in costs.items():
        print(f"| {label} | | ${cost:,.2f} | {cost / plain:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
