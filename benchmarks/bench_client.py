"""One measured client run, in its own process: sitrep's batch or the bare openai loop.

    python benchmarks/bench_client.py '{"client": "sitrep", "base_url": ..., "inputs": ...}'

`benchmarks/run.py` starts this once per measurement, so each run has a fresh interpreter (its
peak RSS is its own) and the fake server's CPU is never billed to it. It prints one JSON object
on its last line of stdout: wall time and process CPU time of the measured part, peak RSS, and
what the run did.

Both clients send the same requests: the bare loop builds each one with sitrep's
`Extractor.request_for`, so the bodies are the same bytes apart from the JSON encoding the SDK
applies to both.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import openai
from sampler import Sampler

from sitrep.extract.extractor import Extractor
from sitrep.run.readers import InputItem, read_archives
from sitrep.run.scheduler import run_batch
from sitrep.settings import BatchOptions, ModelConfig

MODEL = "gpt-4.1-mini"  # a priced model, so the batch's cost accounting runs as it would
API_KEY = "sk-benchmark-fake-server"


@dataclass(frozen=True)
class Spec:
    client: Literal["sitrep", "bare"]
    base_url: str
    inputs: str  # a JSON Lines file of articles
    concurrency: int = 64
    preload: bool = True  # read every article before the clock starts; else stream the file
    out_dir: str | None = None  # sitrep's output directory (the ledger lives there)
    rpm: int | None = None
    tpm: int | None = None
    deadline: float = 1800.0  # seconds: the run is cancelled past this
    profile: bool = False


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _config(spec: Spec) -> ModelConfig:
    return ModelConfig(model=MODEL, base_url=spec.base_url)


async def _run_sitrep(spec: Spec, items: list[InputItem] | None) -> dict[str, Any]:
    assert spec.out_dir is not None, "sitrep runs need an output directory"
    options = BatchOptions(concurrency=spec.concurrency, rpm=spec.rpm, tpm=spec.tpm)
    inputs = items if items is not None else read_archives([Path(spec.inputs)])
    summary = await run_batch(
        inputs, _config(spec), api_key=API_KEY, out_dir=Path(spec.out_dir), options=options
    )
    run = summary.run
    return {
        "articles": run.read,
        "extracted": run.extracted,
        "failed": run.failed,
        "skipped": run.skipped,
        "rate_limited_seen": run.rate_limited,
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "stopped": summary.stopped,
        "ledger_done": summary.done,
    }


async def _run_bare(spec: Spec, items: list[InputItem]) -> dict[str, Any]:
    """The baseline: a semaphore, the SDK's create(), nothing else (no retries)."""
    extractor = Extractor(_config(spec), api_key=API_KEY)  # only builds the requests
    client = openai.AsyncOpenAI(
        base_url=spec.base_url, api_key=API_KEY, max_retries=0, timeout=120.0
    )
    semaphore = asyncio.Semaphore(spec.concurrency)
    prompt_tokens = completion_tokens = 0
    finished: list[float] = []  # time.time() of each answer, for the rate over the run

    async def one(item: InputItem) -> None:
        nonlocal prompt_tokens, completion_tokens
        assert item.article is not None
        async with semaphore:
            request = extractor.request_for(item.article)
            completion = await client.chat.completions.create(**request)
        finished.append(time.time())
        if completion.usage is not None:
            prompt_tokens += completion.usage.prompt_tokens
            completion_tokens += completion.usage.completion_tokens

    try:
        results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
    finally:
        await client.close()
        extractor.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    return {
        "articles": len(items),
        "extracted": len(items) - len(errors),
        "failed": len(errors),
        "first_error": repr(errors[0]) if errors else None,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "finished_at": finished,
    }


def _load(path: Path) -> list[InputItem]:
    items = list(read_archives([path]))
    unreadable = [item for item in items if item.article is None]
    if unreadable:
        raise SystemExit(f"unreadable benchmark input: {unreadable[0]}")
    return items


def cpu_probe() -> float:
    """Milliseconds of CPU a fixed pure-Python loop takes: how fast this core is right now.

    The host's speed drifts (by up to a quarter on the machine these figures were taken on),
    so each run records it before and after, to tell a slow run from a slow host.
    """
    began = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return 1000 * (time.process_time() - began)


def measure(spec: Spec) -> dict[str, Any]:
    rss_start = _maxrss_mib()  # after the imports
    items = _load(Path(spec.inputs)) if spec.preload or spec.client == "bare" else None
    sampler = Sampler() if spec.profile else None
    probe_before = cpu_probe()
    started_at = time.time()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if sampler is not None:
        sampler.start()
    try:
        if spec.client == "sitrep":
            work = _run_sitrep(spec, items)
        else:
            assert items is not None
            work = _run_bare(spec, items)
        outcome = asyncio.run(asyncio.wait_for(work, timeout=spec.deadline))
    finally:
        if sampler is not None:
            sampler.stop()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    probe_after = cpu_probe()
    result: dict[str, Any] = {
        "spec": asdict(spec),
        **outcome,
        "started_at": started_at,
        "wall_s": wall,
        "cpu_s": cpu,
        "articles_per_s": outcome["articles"] / wall if wall else 0.0,
        "cpu_ms_per_article": 1000 * cpu / max(outcome["articles"], 1),
        "maxrss_mib_after_imports": rss_start,
        "maxrss_mib": _maxrss_mib(),
        "cpu_probe_ms": [probe_before, probe_after],
    }
    if sampler is not None:
        result["profile"] = sampler.report()
    return result


def main(argv: list[str]) -> int:
    spec = Spec(**json.loads(argv[1]))
    print(json.dumps(measure(spec)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
