"""The Batch API path's bookkeeping: CPU per article of `run_batch_api`, against the fake server.

    python benchmarks/batch_overhead.py                      # 100,000 articles (the figure)
    python benchmarks/batch_overhead.py --articles 5000 --interactive-articles 5000   # a look
    python benchmarks/batch_overhead.py --profile 20000      # and a sampled run of 20,000

What runs where. The fake server (`python -m sitrep.testing.fakeserver --batch-duration S`) is a
process of its own, pinned to the other core when there are two (`run.fake_server`), so none of
its CPU (parsing the batch files, building the answers) is counted. Each measured run is a fresh
interpreter (`--child`), so its CPU time and peak RSS are its own:

- batch: `run_batch_api` over the whole archive, every round (advance, collect, drive, submit,
  wait) until every batch is collected and every article finished; the clock covers the call.
  The archive is a JSON Lines file streamed by `read_archives` each round, as the CLI does.
  Each phase is timed by wrapping its method (`_BatchRun.drive`, `JobWriter.add` ...): CPU
  and wall seconds summed over the rounds, and how many times it ran.
- interactive: `run_batch` (the interactive scheduler) on the same kind of archive, concurrency
  64, against a server with no latency: the path the batch one is compared with.

The articles are synthetic (`bench_inputs`), short (300 to 600 characters) and all different,
with the compact prompt profile, which keeps a request body at about 12 KB (the full profile's
worked examples would double it). Every article must end done: the run fails otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench_client import cpu_probe
from bench_inputs import write_jsonl
from run import fake_server, machine, run_process
from sampler import Sampler

from sitrep.extract.extractor import Extractor
from sitrep.run import batchjobs, batchrun
from sitrep.run.batchbook import BatchBook
from sitrep.run.batchjobs import BatchJobs, JobWriter
from sitrep.run.ledger import LEDGER_NAME
from sitrep.run.readers import InputItem, read_archives
from sitrep.run.scheduler import run_batch
from sitrep.settings import BatchApiOptions, BatchOptions, ModelConfig, PromptProfile
from sitrep.wire.calls import encode_request

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "batch_overhead.json"
MODEL = "gpt-4.1-mini"  # a priced model, so both paths' cost accounting runs
API_KEY = "sk-benchmark-fake-server"
MIN_CHARS, MAX_CHARS = 300, 600  # a short wire item: the request body is mostly the prompt

Result = TypeVar("Result")


@dataclass(frozen=True)
class Job:
    """One measured run, as the parent hands it to a child process."""

    path: str  # "batch" or "interactive"
    base_url: str
    inputs: str
    out_dir: str
    articles: int
    concurrency: int = 64
    poll_initial: float = 0.25  # seconds; the default (5 s) would sleep past a short batch
    poll_max: float = 1.0
    profile: bool = False


# Timing the phases of a batch run


@dataclass
class Phase:
    calls: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0


@dataclass
class Phases:
    by_name: dict[str, Phase] = field(default_factory=dict)

    def wrap_async(self, owner: Any, name: str, label: str) -> None:
        method = getattr(owner, name)
        phase = self.by_name.setdefault(label, Phase())

        @functools.wraps(method)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                # Other tasks on the loop (the ledger's periodic commit) fall in here too.
                phase.calls += 1
                phase.cpu_s += time.process_time() - cpu
                phase.wall_s += time.perf_counter() - wall

        setattr(owner, name, timed)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        method = getattr(owner, name)
        phase = self.by_name.setdefault(label, Phase())

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                phase.calls += 1
                phase.cpu_s += time.process_time() - cpu
                phase.wall_s += time.perf_counter() - wall

        setattr(owner, name, timed)


def instrument() -> Phases:
    """Wrap the batch path's phases (in this child process only)."""
    phases = Phases()
    phases.wrap_async(batchrun._BatchRun, "drive", "drive (archive read, replay, finish)")
    phases.wrap(JobWriter, "add", "  of which writing input files (ledger rows included)")
    phases.wrap(BatchBook, "add_job", "    of which ledger rows")
    phases.wrap_async(BatchJobs, "advance", "advance (upload, create)")
    phases.wrap_async(BatchJobs, "collect", "collect (poll, download, read, record)")
    # batchjobs imported it by name: its own reference is the one to wrap.
    phases.wrap(batchjobs, "read_result_lines", "  of which reading result lines")
    phases.wrap(BatchBook, "collect", "  of which recording them (ledger)")
    phases.wrap_async(BatchJobs, "wait_for_any", "wait (polls with backoff)")
    return phases


# The measured runs (child processes)


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _config(job: Job) -> ModelConfig:
    return ModelConfig(model=MODEL, base_url=job.base_url, prompt_profile=PromptProfile.COMPACT)


def _archive(job: Job) -> Callable[[], Iterable[InputItem]]:
    return lambda: read_archives([Path(job.inputs)])


async def _batch(job: Job) -> dict[str, Any]:
    batch = BatchApiOptions(poll_initial=job.poll_initial, poll_max=job.poll_max)
    summary = await batchrun.run_batch_api(
        _archive(job), _config(job), api_key=API_KEY, out_dir=Path(job.out_dir), batch=batch
    )
    s = summary.summary
    return {
        "read": s.run.read,
        "extracted": s.run.extracted,
        "failed": s.run.failed,
        "done": s.done,
        "pending": s.pending,
        "stopped": s.stopped,
        "submitted": summary.submitted,
        "waiting": summary.waiting,
        "jobs": summary.jobs,
        "batch_cost": summary.batch_cost,
    }


async def _interactive(job: Job) -> dict[str, Any]:
    options = BatchOptions(concurrency=job.concurrency)
    summary = await run_batch(
        _archive(job)(), _config(job), api_key=API_KEY, out_dir=Path(job.out_dir), options=options
    )
    return {
        "read": summary.run.read,
        "extracted": summary.run.extracted,
        "failed": summary.run.failed,
        "done": summary.done,
        "pending": summary.pending,
        "stopped": summary.stopped,
    }


def _ledger_facts(out_dir: Path) -> dict[str, Any]:
    """What the ledger says was made: batch files and their sizes, line states, articles."""
    with closing(sqlite3.connect(out_dir / LEDGER_NAME)) as db:
        files = db.execute("SELECT requests, bytes, state FROM batch_jobs ORDER BY id").fetchall()
        lines = dict(db.execute("SELECT state, count(*) FROM batch_requests GROUP BY state"))
        articles = dict(db.execute("SELECT status, count(*) FROM articles GROUP BY status"))
    return {
        "files": [{"requests": r, "bytes": b, "state": s} for r, b, s in files],
        "lines": lines,
        "articles": articles,
    }


def child(job: Job) -> dict[str, Any]:
    phases = instrument() if job.path == "batch" else None
    sampler = Sampler() if job.profile else None
    rss_start = _maxrss_mib()
    probe_before = cpu_probe()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if sampler is not None:
        sampler.start()
    try:
        work = _batch(job) if job.path == "batch" else _interactive(job)
        outcome = asyncio.run(work)
    finally:
        if sampler is not None:
            sampler.stop()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    probe_after = cpu_probe()
    result: dict[str, Any] = {
        "job": asdict(job),
        **outcome,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_ms_per_article": 1000 * cpu / max(job.articles, 1),
        "maxrss_mib_after_imports": rss_start,
        "maxrss_mib": _maxrss_mib(),
        "ledger": _ledger_facts(Path(job.out_dir)),
        # How fast the (shared) host was: CPU ms of a fixed loop before and after.
        "cpu_probe_ms": [probe_before, probe_after],
    }
    if phases is not None:
        result["phases"] = {name: asdict(p) for name, p in phases.by_name.items()}
    if sampler is not None:
        result["profile"] = sampler.report(top=30)
    return result


# The parent: inputs, the server, the runs, the checks


def body_sizes(inputs: Path, base_url: str, sample: int = 1000) -> dict[str, float]:
    """Bytes of the first request body of the first `sample` articles, compact and full."""
    items = []
    for item in read_archives([inputs]):
        items.append(item)
        if len(items) == sample:
            break
    sizes: dict[str, float] = {}
    for profile in PromptProfile:
        config = ModelConfig(model=MODEL, base_url=base_url, prompt_profile=profile)
        extractor = Extractor(config, api_key=API_KEY)
        try:
            lengths = [
                len(encode_request(extractor.request_for(item.article)))
                for item in items
                if item.article is not None
            ]
        finally:
            extractor.close()
        sizes[f"{profile.value}_mean"] = sum(lengths) / len(lengths)
        sizes[f"{profile.value}_max"] = max(lengths)
    return sizes


def check(result: dict[str, Any], articles: int) -> list[str]:
    """Every article done, none failed, nothing left waiting."""
    problems = []
    if result["read"] != articles or result["done"] != articles:
        problems.append(f"read {result['read']}, done {result['done']} of {articles}")
    if result["failed"] or result["pending"]:
        problems.append(f"failed {result['failed']}, pending {result['pending']}")
    if result["stopped"] is not None:
        problems.append(f"stopped: {result['stopped']}")
    if result["job"]["path"] == "batch":
        lines = result["ledger"]["lines"]
        if lines.get("answered") != articles or set(lines) != {"answered"}:
            problems.append(f"batch lines by state: {lines}")
        if result["waiting"]:
            problems.append(f"{result['waiting']} requests still waiting")
    return problems


def measured(job: Job, log: Callable[[str], None]) -> dict[str, Any]:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(job))]
    out, wall = run_process(args, timeout=4 * 3600)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    problems = check(result, job.articles)
    if problems:
        raise SystemExit(f"{job.path} run is wrong: " + "; ".join(problems))
    log(
        f"{job.path}: {job.articles:,} articles, {result['cpu_ms_per_article']:.2f} ms CPU an "
        f"article, {result['wall_s']:.1f} s, peak RSS {result['maxrss_mib']:.0f} MiB"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--articles", type=int, default=100_000, help="through the Batch API")
    parser.add_argument(
        "--interactive-articles",
        type=int,
        default=20_000,
        help="through the interactive path, for comparison; 0 for none",
    )
    parser.add_argument("--profile", type=int, default=0, help="a sampled batch run of N")
    parser.add_argument("--batch-duration", type=float, default=2.0, help="seconds a batch runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Job(**json.loads(args.child)))), flush=True)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="sitrep-batch-bench-"))
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:7.1f}s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/batch_overhead.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "prompt_profile": PromptProfile.COMPACT.value,
        "article_chars": [MIN_CHARS, MAX_CHARS],
        "batch_duration_s": args.batch_duration,
    }
    try:
        sizes = {args.articles, args.interactive_articles, args.profile} - {0}
        inputs = {
            n: write_jsonl(
                workdir / f"articles-{n}.jsonl", n, min_chars=MIN_CHARS, max_chars=MAX_CHARS
            )
            for n in sorted(sizes)
        }
        log(f"archives written in {workdir}")
        extra = ["--batch-duration", str(args.batch_duration)]
        with fake_server(workdir / "server-batch", latency=0.0, extra=extra) as server:
            results["body_bytes"] = body_sizes(inputs[args.articles], server.base_url)
            job = Job(
                "batch",
                server.base_url,
                str(inputs[args.articles]),
                str(workdir / "out-batch"),
                args.articles,
            )
            results["batch"] = measured(job, log)
            results["batch"]["server_cpu_s"] = server.cpu_seconds()
            if args.profile:
                job = Job(
                    "batch",
                    server.base_url,
                    str(inputs[args.profile]),
                    str(workdir / "out-profile"),
                    args.profile,
                    profile=True,
                )
                results["profile"] = measured(job, log)
        if args.interactive_articles:
            with fake_server(workdir / "server-interactive", latency=0.0) as server:
                job = Job(
                    "interactive",
                    server.base_url,
                    str(inputs[args.interactive_articles]),
                    str(workdir / "out-interactive"),
                    args.interactive_articles,
                )
                results["interactive"] = measured(job, log)
                results["interactive"]["server_cpu_s"] = server.cpu_seconds()
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(summary(results))
    print(f"\nwritten to {args.out}")
    return 0


def summary(results: dict[str, Any]) -> str:
    """The figures as BENCHMARKS.md gives them."""
    b = results["batch"]
    files = b["ledger"]["files"]
    counts = ", ".join(f"{f['requests']:,}" for f in files)
    lines = [
        f"request body (compact profile): {results['body_bytes']['compact_mean']:,.0f} bytes "
        f"on average (full profile: {results['body_bytes']['full_mean']:,.0f})",
        f"batch: {b['read']:,} articles, {b['cpu_ms_per_article']:.2f} ms CPU an article "
        f"({b['cpu_s']:.1f} s CPU), wall {b['wall_s']:.1f} s, peak RSS {b['maxrss_mib']:.0f} MiB",
        f"batch files: {len(files)} ({counts} requests; "
        f"{sum(f['bytes'] for f in files) / 2**20:,.0f} MiB in all)",
        f"fake server CPU (not counted): {b['server_cpu_s']:.1f} s",
    ]
    for name, phase in b["phases"].items():
        lines.append(
            f"  {name}: {phase['calls']}x, {1000 * phase['cpu_s'] / b['read']:.3f} ms CPU an "
            f"article, {phase['wall_s']:.1f} s wall"
        )
    if "interactive" in results:
        i = results["interactive"]
        lines.append(
            f"interactive: {i['read']:,} articles, {i['cpu_ms_per_article']:.2f} ms CPU an "
            f"article, wall {i['wall_s']:.1f} s, peak RSS {i['maxrss_mib']:.0f} MiB"
        )
    probes = [
        f"{ms:.0f}"
        for r in ("batch", "interactive")
        if r in results
        for ms in results[r]["cpu_probe_ms"]
    ]
    lines.append(f"host speed, CPU ms of a fixed loop around each run: {', '.join(probes)}")
    if "profile" in results:
        lines.append("sampled profile (inclusive share of CPU, sitrep functions):")
        lines += [
            f"  {share:6.1%} {name}"
            for name, share in results["profile"]["profile"]["inclusive_sitrep"][:20]
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
