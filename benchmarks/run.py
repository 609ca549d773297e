"""Benchmarks of sitrep's batch job against an OpenAI-compatible fake server on loopback.

    python benchmarks/run.py            # the full benchmark (35 to 45 minutes)
    python benchmarks/run.py --quick    # a smoke version of every measurement (about 3 minutes)
    python benchmarks/run.py --table    # results.json's summary as the table in BENCHMARKS.md

What is measured, each in a fresh client process (`bench_client.py`) talking to the fake server
(`python -m sitrep.testing.fakeserver`) in another process, pinned to different cores when there are
two or more, so that neither's CPU is billed to the other:

- throughput: `run_batch` against a bare `openai.AsyncOpenAI` loop (a semaphore and
  `chat.completions.create`, no retries) sending the same requests, alternating, on one server;
  and in each round `sitrep run` itself, timed as a whole process (start-up included);
- budgets: `run_batch` with rpm/tpm limits against a server enforcing the same limits over the
  same 60 s sliding window: the share of the budget used in every complete 60 s window, and the
  share of requests answered 429;
- memory: peak RSS (`ru_maxrss`) of a client streaming a small and a large JSON Lines file;
- resume: a finished run started again, through the API and through the CLI;
- CPU: process CPU time per article of both clients (from the throughput runs).

Inputs and outputs live in a temporary directory that is removed afterwards (`--keep` keeps
it); the results are printed as a table and written to benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench_client import Spec
from bench_inputs import write_jsonl

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "bench_client.py"
RESULTS = HERE / "results.json"
WINDOW = 60.0  # seconds: the server's budget window, and the one run_batch's limiter uses
THROUGHPUT_TARGET = 0.9  # sitrep's articles/s at least this share of the bare loop's
BUDGET_TARGET = 0.9  # share of the binding budget used in complete windows
REJECTED_TARGET = 0.02  # share of requests answered 429
MEMORY_TARGET = 1.2  # peak RSS of the large run at most this many times the small run's


class BenchmarkError(RuntimeError):
    pass


# The plan: sizes of every measurement


@dataclass(frozen=True)
class BudgetCase:
    name: str
    articles: int
    rpm: int
    tpm: int | None


@dataclass(frozen=True)
class Plan:
    name: str
    throughput_articles: int
    throughput_repeats: int  # runs of each client, alternating
    warmup_articles: int  # through the bare loop first, not counted
    profile_articles: int  # one sampled run of each client; 0 for none
    budgets: tuple[BudgetCase, ...]
    memory_sizes: tuple[int, int]
    resume_articles: int
    concurrency: int = 64
    latency: float = 0.2  # seconds the server takes per answer in throughput and budget runs


FULL = Plan(
    name="full",
    throughput_articles=8_000,
    throughput_repeats=5,
    warmup_articles=500,
    profile_articles=4_000,
    budgets=(
        # ~7,060 tokens per request: 5M tokens a minute admit ~708 requests, under the rpm.
        BudgetCase("tpm binds", articles=2_600, rpm=1_200, tpm=5_000_000),
        # 12M tokens a minute admit ~1,700 requests: the rpm binds.
        BudgetCase("rpm binds", articles=4_400, rpm=1_200, tpm=12_000_000),
    ),
    memory_sizes=(1_000, 100_000),
    resume_articles=10_000,
)
QUICK = Plan(
    name="quick",
    throughput_articles=600,
    throughput_repeats=2,
    warmup_articles=100,
    profile_articles=0,
    budgets=(BudgetCase("tpm binds", articles=200, rpm=300, tpm=1_000_000),),
    memory_sizes=(500, 2_000),
    resume_articles=500,
)


# Processes: the fake server and the measured clients


def _env() -> dict[str, str]:
    """The environment for child processes: loopback is never sent through a proxy."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _cores() -> tuple[set[int], set[int]] | None:
    """(client cores, server cores), or None with fewer than two cores to split."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {cores[0]}, {cores[1]}


def _pin(pid: int, role: int) -> None:
    split = _cores()
    if split is not None:
        with suppress(ProcessLookupError):  # already gone: its result will say why
            os.sched_setaffinity(pid, split[role])


_CLIENT_ROLE, _SERVER_ROLE = 0, 1


class FakeServer:
    """`python -m sitrep.testing.fakeserver` in its own process on a free loopback port."""

    def __init__(
        self,
        workdir: Path,
        *,
        latency: float,
        rpm: int | None = None,
        tpm: int | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.settings = {"latency": latency, "rpm": rpm, "tpm": tpm, "window": WINDOW}
        args = [sys.executable, "-m", "sitrep.testing.fakeserver", "--port", "0"]
        args += ["--latency", str(latency), "--window", str(WINDOW)]
        if rpm is not None:
            args += ["--rpm", str(rpm)]
        if tpm is not None:
            args += ["--tpm", str(tpm)]
        args += extra  # any other of its options (`--batch-duration 2`)
        workdir.mkdir(parents=True, exist_ok=True)
        self._out = (workdir / "server.out").open("w+")
        self._err = (workdir / "server.err").open("w+")
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=self._err, env=_env())
        _pin(self.proc.pid, _SERVER_ROLE)
        self.base_url = self._wait_for_url(timeout=30.0)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._out.seek(0)
            line = self._out.readline().strip()
            if line.startswith("http://127.0.0.1:"):
                return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        self._err.seek(0)
        raise BenchmarkError(f"the fake server did not start: {self._err.read()[-2000:]}")

    def stats(self) -> dict[str, int]:
        root = self.base_url.removesuffix("/v1")
        with self._opener.open(f"{root}/stats", timeout=10) as response:
            stats: dict[str, int] = json.loads(response.read())
        return stats

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._out.close()
        self._err.close()


@contextmanager
def fake_server(
    workdir: Path,
    *,
    latency: float,
    rpm: int | None = None,
    tpm: int | None = None,
    extra: Sequence[str] = (),
) -> Iterator[FakeServer]:
    server = FakeServer(workdir, latency=latency, rpm=rpm, tpm=tpm, extra=extra)
    try:
        yield server
    finally:
        server.stop()


def run_process(
    args: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> tuple[str, float]:
    """Run a client process pinned to the client core; its stdout and wall time."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or _env()
    )
    _pin(proc.pid, _CLIENT_ROLE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=30)
        raise BenchmarkError(f"timed out after {timeout:.0f} s: {' '.join(args[:4])}") from None
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise BenchmarkError(f"exit {proc.returncode}: {' '.join(args[:4])}\n{err[-3000:]}")
    return out, wall


def run_client(spec: Spec) -> dict[str, Any]:
    out, wall = run_process(
        [sys.executable, str(CLIENT), json.dumps(asdict(spec))], timeout=spec.deadline + 120
    )
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


# Reading what a run did


@dataclass(frozen=True)
class LoggedCall:
    at: float  # epoch seconds the request was sent: logged when answered, less its latency
    answered: float  # epoch seconds the answer was logged
    status: int
    tokens: int  # prompt + completion, as the server counted them


def ledger_calls(out_dir: Path) -> list[LoggedCall]:
    """Every request sitrep sent (not the cache's answers), from its ledger, in order.

    The ledger logs each call when its answer is in, with the latency from the moment the
    request went to the transport; the server admitted it between the two, within
    milliseconds of the sending on loopback, so the sending time stands for the admission.
    """
    uri = f"file:{out_dir / 'ledger.sqlite'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute(
            "SELECT created_at, latency_ms, status, coalesce(prompt_tokens, 0) + "
            "coalesce(completion_tokens, 0) FROM calls WHERE from_cache = 0 ORDER BY id"
        ).fetchall()
    calls = []
    for created, latency_ms, status, tokens in rows:
        answered = datetime.fromisoformat(created).timestamp()
        calls.append(LoggedCall(answered - latency_ms / 1000, answered, int(status), int(tokens)))
    return calls


def quarter_rates(times: Sequence[float], start: float, end: float) -> list[float]:
    """Answers per second in each quarter of [start, end]: does the rate hold over the run?"""
    span = (end - start) / 4
    counts = [0, 0, 0, 0]
    for t in times:
        counts[min(max(int((t - start) / span), 0), 3)] += 1
    return [round(c / span, 1) for c in counts]


@dataclass(frozen=True)
class WindowUse:
    """Use of a budget over sliding 60 s windows, as shares of the limits.

    A window's use is that of its binding limit: max(requests admitted / rpm, tokens admitted /
    tpm). Complete windows are those lying wholly between the first and the last request.
    """

    complete_windows: int  # window starts, 0.1 s apart
    mean: float  # over the complete windows
    minimum: float
    busiest: float  # the most used window anywhere in the run
    busiest_requests: float  # requests in the busiest window ÷ rpm
    busiest_tokens: float | None  # tokens in the busiest window ÷ tpm


def window_use(calls: Sequence[LoggedCall], rpm: int, tpm: int | None) -> WindowUse | None:
    admitted = sorted((c.at, c.tokens) for c in calls if c.status == 200)
    if not admitted:
        return None
    times = [t for t, _ in admitted]
    cumulative = [0]
    for _, tokens in admitted:
        cumulative.append(cumulative[-1] + tokens)

    def use(start: float) -> tuple[float, float, float | None]:
        i, j = bisect_left(times, start), bisect_left(times, start + WINDOW)
        requests = (j - i) / rpm
        tokens = (cumulative[j] - cumulative[i]) / tpm if tpm else None
        return max(requests, tokens or 0.0), requests, tokens

    first, last = min(c.at for c in calls), max(c.at for c in calls)
    shares = []
    step = 0
    while first + step * 0.1 + WINDOW <= last:
        shares.append(use(first + step * 0.1)[0])
        step += 1
    busiest = max((use(t) for t in times), key=lambda u: u[0])
    return WindowUse(
        complete_windows=len(shares),
        mean=statistics.fmean(shares) if shares else float("nan"),
        minimum=min(shares) if shares else float("nan"),
        busiest=busiest[0],
        busiest_requests=busiest[1],
        busiest_tokens=busiest[2],
    )


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if k != "in_flight"}


# The measurements


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self._inputs: dict[int, Path] = {}
        self._runs = 0

    def log(self, message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)

    def inputs(self, count: int) -> Path:
        if count not in self._inputs:
            began = time.perf_counter()
            self._inputs[count] = write_jsonl(self.workdir / f"articles-{count}.jsonl", count)
            self.log(f"wrote {count:,} articles in {time.perf_counter() - began:.1f} s")
        return self._inputs[count]

    def out_dir(self, label: str) -> Path:
        self._runs += 1
        return self.workdir / f"out-{self._runs:02d}-{label}"

    def spec(self, client: str, base_url: str, inputs: Path, **changes: Any) -> Spec:
        assert client in ("sitrep", "bare")
        out = str(self.out_dir(client)) if client == "sitrep" else None
        spec = Spec(
            client="sitrep" if client == "sitrep" else "bare",
            base_url=base_url,
            inputs=str(inputs),
            concurrency=self.plan.concurrency,
            out_dir=out,
        )
        return replace(spec, **changes)

    def measured(self, server: FakeServer, spec: Spec) -> dict[str, Any]:
        """Run one client; add what the server saw and spent meanwhile, and the rate profile."""
        stats0, cpu0 = server.stats(), server.cpu_seconds()
        result = run_client(spec)
        result["server"] = _delta(server.stats(), stats0)
        result["server_cpu_s"] = server.cpu_seconds() - cpu0
        start, end = result["started_at"], result["started_at"] + result["wall_s"]
        if spec.client == "bare":
            times = result.pop("finished_at")
        else:
            assert spec.out_dir is not None
            times = [c.answered for c in ledger_calls(Path(spec.out_dir)) if c.status == 200]
        result["rate_by_quarter"] = quarter_rates(times, start, end)
        handled = result["extracted"] + result.get("skipped", 0)  # skipped: done before
        if handled != result["articles"] or result["failed"]:
            raise BenchmarkError(f"{spec.client}: {handled} of {result['articles']} extracted")
        self.log(
            f"{spec.client}"
            f"{' (profiled)' if spec.profile else ''}: {result['articles']:,} articles in "
            f"{result['wall_s']:.1f} s = {result['articles_per_s']:.1f}/s, "
            f"{result['cpu_ms_per_article']:.2f} ms CPU/article, "
            f"server CPU {result['server_cpu_s'] / result['wall_s']:.0%}, "
            f"quarters {result['rate_by_quarter']}"
        )
        return result

    def throughput(self) -> dict[str, Any]:
        plan = self.plan
        inputs = self.inputs(plan.throughput_articles)
        runs: list[dict[str, Any]] = []
        cli_runs: list[dict[str, Any]] = []
        profiles: dict[str, Any] = {}
        with fake_server(self.workdir / "server-throughput", latency=plan.latency) as server:
            self.log(f"throughput: server {server.base_url}, latency {plan.latency} s")
            warmup = self.inputs(plan.warmup_articles)
            self.measured(server, self.spec("bare", server.base_url, warmup))
            for repeat in range(plan.throughput_repeats):
                for client in ("bare", "sitrep"):  # alternating, the same order every round
                    result = self.measured(server, self.spec(client, server.base_url, inputs))
                    runs.append(result | {"repeat": repeat})
                cli = self.cli(server, inputs, self.out_dir("cli"))
                cli_runs.append(cli | {"repeat": repeat})
            if plan.profile_articles:
                sample = self.inputs(plan.profile_articles)
                for client in ("sitrep", "bare"):
                    spec = self.spec(client, server.base_url, sample, profile=True)
                    profiles[client] = self.measured(server, spec)
        return {
            "articles": plan.throughput_articles,
            "concurrency": plan.concurrency,
            "latency_s": plan.latency,
            "runs": runs,
            "cli_runs": cli_runs,
            "profiles": profiles,
        }

    def budget(self, case: BudgetCase) -> dict[str, Any]:
        plan = self.plan
        inputs = self.inputs(case.articles)
        workdir = self.workdir / f"server-budget-{case.rpm}-{case.tpm}"
        with fake_server(workdir, latency=plan.latency, rpm=case.rpm, tpm=case.tpm) as server:
            self.log(f"budget '{case.name}': rpm {case.rpm}, tpm {case.tpm}, window {WINDOW} s")
            spec = self.spec("sitrep", server.base_url, inputs, rpm=case.rpm, tpm=case.tpm)
            result = self.measured(server, spec)
        assert spec.out_dir is not None
        calls = ledger_calls(Path(spec.out_dir))
        use = window_use(calls, case.rpm, case.tpm)
        seen = result["server"]
        rejected = seen["rate_limited"] / seen["requests"] if seen["requests"] else 0.0
        self.log(f"budget '{case.name}': {use}; 429s {seen['rate_limited']} ({rejected:.2%})")
        return {
            "case": asdict(case),
            "window_s": WINDOW,
            "run": result,
            "requests_logged": len(calls),
            "window_use": asdict(use) if use else None,
            "rejected_share": rejected,
            "span_s": max(c.at for c in calls) - min(c.at for c in calls),
        }

    def memory(self) -> list[dict[str, Any]]:
        results = []
        with fake_server(self.workdir / "server-memory", latency=0.0) as server:
            for size in self.plan.memory_sizes:
                inputs = self.inputs(size)
                self.log(f"memory: {size:,} articles streamed from {inputs.name}")
                spec = self.spec("sitrep", server.base_url, inputs, preload=False)
                result = self.measured(server, spec)
                results.append({"articles": size, "run": result})
                self.log(f"memory: peak RSS {result['maxrss_mib']:.1f} MiB")
                assert spec.out_dir is not None
                shutil.rmtree(spec.out_dir)
        return results

    def cli(self, server: FakeServer, inputs: Path, out_dir: Path) -> dict[str, Any]:
        """`sitrep run` as a user types it, timed as a whole process.

        The process's wall time includes what an in-process measurement leaves out: starting
        the interpreter and importing, counting the inputs for the progress display, streaming
        the JSON Lines file, the progress log lines and the summary table.
        """
        env = _env() | {"OPENAI_API_KEY": "sk-benchmark-fake-server"}
        args = [sys.executable, "-m", "sitrep", "run", str(inputs), "--out", str(out_dir)]
        args += ["--base-url", server.base_url, "--model", "gpt-4.1-mini"]
        args += ["--concurrency", str(self.plan.concurrency)]
        before, cpu0 = server.stats(), _children_cpu_s()
        _, wall = run_process(args, timeout=1800, env=env)
        cpu = _children_cpu_s() - cpu0
        seen = _delta(server.stats(), before)
        uri = f"file:{out_dir / 'ledger.sqlite'}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            statuses = dict(db.execute("SELECT status, count(*) FROM articles GROUP BY status"))
        articles = sum(statuses.values())
        if statuses.get("done") != articles:
            raise BenchmarkError(f"sitrep run: {statuses} of {articles} articles")
        result = {
            "articles": articles,
            "process_wall_s": wall,
            "cpu_s": cpu,
            "articles_per_s": seen["ok"] / wall,
            "cpu_ms_per_article": 1000 * cpu / articles,
            "server": seen,
            "args": args[1:],
        }
        self.log(
            f"sitrep run (CLI): {seen['ok']:,} requests answered in {wall:.1f} s of process = "
            f"{result['articles_per_s']:.1f}/s, {result['cpu_ms_per_article']:.2f} ms CPU/article"
        )
        return result

    def resume(self) -> dict[str, Any]:
        inputs = self.inputs(self.plan.resume_articles)
        with fake_server(self.workdir / "server-resume", latency=0.0) as server:
            spec = self.spec("sitrep", server.base_url, inputs, preload=False)
            first = self.measured(server, spec)
            self.log("resume: the same run again, through the API")
            second = self.measured(server, spec)
            self.log("resume: the same run again, through the CLI (sitrep run)")
            assert spec.out_dir is not None
            cli = self.cli(server, inputs, Path(spec.out_dir))
        self.log(
            f"resume: API saw {second['server']['requests']} requests in "
            f"{second['wall_s']:.2f} s; CLI {cli['server']['requests']} in "
            f"{cli['process_wall_s']:.2f} s"
        )
        return {
            "articles": self.plan.resume_articles,
            "first": first,
            "api": second,
            "cli": cli,
        }


def _children_cpu_s() -> float:
    """User + system CPU time of the child processes that have ended."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Summary


def _median_spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


Row = Callable[..., None]


def _throughput_rows(tp: dict[str, Any], row: Row) -> None:
    rate = {
        c: [r["articles_per_s"] for r in tp["runs"] if r["spec"]["client"] == c]
        for c in ("sitrep", "bare")
    }
    cpu = {
        c: [r["cpu_ms_per_article"] for r in tp["runs"] if r["spec"]["client"] == c]
        for c in ("sitrep", "bare")
    }
    s, b = _median_spread(rate["sitrep"]), _median_spread(rate["bare"])
    ratio = s["median"] / b["median"]
    where = f"{tp['articles']:,} articles, concurrency {tp['concurrency']}, " + (
        f"latency {tp['latency_s']} s, {len(rate['sitrep'])} runs each"
    )
    row(
        f"throughput, bare loop ({where})",
        f"{b['median']:.1f}/s (range {b['min']:.1f}-{b['max']:.1f})",
    )
    row(
        f"throughput, sitrep run_batch ({where})",
        f"{s['median']:.1f}/s (range {s['min']:.1f}-{s['max']:.1f})",
    )
    row(
        "throughput ratio sitrep / bare (medians)",
        f"{ratio:.2f}",
        f">= {THROUGHPUT_TARGET}",
        ratio >= THROUGHPUT_TARGET,
    )
    cli_rates = [r["articles_per_s"] for r in tp.get("cli_runs", [])]
    if cli_rates:
        c = _median_spread(cli_rates)
        cli_ratio = c["median"] / b["median"]
        row(
            f"throughput, sitrep run as a whole process ({where})",
            f"{c['median']:.1f}/s (range {c['min']:.1f}-{c['max']:.1f})",
        )
        row(
            "throughput ratio sitrep run (whole process) / bare loop (medians)",
            f"{cli_ratio:.2f}",
            f">= {THROUGHPUT_TARGET}",
            cli_ratio >= THROUGHPUT_TARGET,
        )
    rounds = [
        r["articles_per_s"] / b_run["articles_per_s"]
        for r in tp["runs"]
        for b_run in tp["runs"]
        if r["spec"]["client"] == "sitrep"
        and b_run["spec"]["client"] == "bare"
        and r["repeat"] == b_run["repeat"]
    ]
    row(
        "throughput ratio per round (sitrep / the bare run just before it)",
        ", ".join(f"{x:.2f}" for x in rounds),
    )
    for client in ("sitrep", "bare"):
        c = _median_spread(cpu[client])
        row(
            f"client CPU per article, {client}",
            f"{c['median']:.2f} ms (range {c['min']:.2f}-{c['max']:.2f})",
        )
    if cli_rates:
        c = _median_spread([r["cpu_ms_per_article"] for r in tp["cli_runs"]])
        row(
            "client CPU per article, sitrep run (whole process, start-up included)",
            f"{c['median']:.2f} ms (range {c['min']:.2f}-{c['max']:.2f})",
        )
    probes = [ms for r in tp["runs"] for ms in r["cpu_probe_ms"]]
    row(
        "host speed: CPU ms of a fixed loop, before/after each throughput run",
        f"{min(probes):.0f}-{max(probes):.0f} ms (median {statistics.median(probes):.0f})",
    )
    server_share = [r["server_cpu_s"] / r["wall_s"] for r in tp["runs"]]
    row(
        "fake server CPU during throughput runs (its own core)",
        f"{min(server_share):.0%}-{max(server_share):.0%} of one core",
    )


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures, each with its target and whether it is met."""
    rows: list[dict[str, Any]] = []

    def row(measure: str, value: str, target: str = "", met: bool | None = None) -> None:
        rows.append({"measure": measure, "value": value, "target": target, "met": met})

    if tp := results.get("throughput"):
        _throughput_rows(tp, row)
    for budget in results.get("budget", []):
        case, use = budget["case"], budget["window_use"]
        label = f"budget '{case['name']}' (rpm {case['rpm']:,}, tpm {case['tpm']:,})"
        if use:
            row(
                f"{label}: share of the binding limit used per 60 s window, mean over "
                f"window starts every 0.1 s for {use['complete_windows'] / 10:.0f} s",
                f"{use['mean']:.1%} (lowest {use['minimum']:.1%}, busiest {use['busiest']:.1%})",
                f">= {BUDGET_TARGET:.0%}",
                use["mean"] >= BUDGET_TARGET,
            )
        seen = budget["run"]["server"]
        row(
            f"{label}: requests answered 429",
            f"{budget['rejected_share']:.2%} ({seen['rate_limited']} of {seen['requests']:,})",
            f"<= {REJECTED_TARGET:.0%}",
            budget["rejected_share"] <= REJECTED_TARGET,
        )
    memory = results.get("memory")
    if memory and len(memory) == 2:
        small, large = memory
        ratio = large["run"]["maxrss_mib"] / small["run"]["maxrss_mib"]
        for m in memory:
            row(
                f"peak RSS, {m['articles']:,} articles streamed from JSONL",
                f"{m['run']['maxrss_mib']:.1f} MiB ({m['run']['wall_s']:.0f} s, "
                f"{m['run']['articles_per_s']:.0f}/s)",
            )
        row(
            f"peak RSS ratio {large['articles']:,} / {small['articles']:,}",
            f"{ratio:.2f}",
            f"<= {MEMORY_TARGET}",
            ratio <= MEMORY_TARGET,
        )
    resume = results.get("resume")
    if resume:
        api, cli = resume["api"], resume["cli"]
        n = resume["articles"]
        row(
            f"resume of a finished {n:,}-article run: requests sent (API)",
            str(api["server"]["requests"]),
            "0",
            api["server"]["requests"] == 0,
        )
        row(
            f"resume of a finished {n:,}-article run: requests sent (CLI)",
            str(cli["server"]["requests"]),
            "0",
            cli["server"]["requests"] == 0,
        )
        row(
            "resume wall time, API (run_batch call / whole process)",
            f"{api['wall_s']:.2f} s / {api['process_wall_s']:.2f} s",
        )
        row("resume wall time, CLI (whole process)", f"{cli['process_wall_s']:.2f} s")
    return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    mark = {True: "yes", False: "NO", None: ""}
    table = [("measure", "result", "target", "met")]
    table += [(r["measure"], r["value"], r["target"], mark[r["met"]]) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as the Markdown table BENCHMARKS.md shows."""
    mark = {True: "yes", False: "**no**", None: ""}
    lines = ["| measure | result | target | met |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {r['measure']} | {r['value']} | {r['target'].replace('>=', '≥').replace('<=', '≤')} "
        f"| {mark[r['met']]} |"
        for r in rows
    ]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    packages: dict[str, str | None] = {}
    for name in ("sitrep", "openai", "instructor", "httpx2", "httpcore2", "pydantic", "aiohttp"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    split = _cores()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "pinning": {"client": sorted(split[0]), "server": sorted(split[1])} if split else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--quick", action="store_true", help="a 2-minute smoke version")
    parser.add_argument(
        "--only",
        default="throughput,budget,memory,resume",
        help="comma-separated subset of: throughput, budget, memory, resume",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the summary of the results file (--out) as Markdown, running nothing",
    )
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(args.out.read_text())["summary"]))
        return 0
    plan = QUICK if args.quick else FULL
    only = set(args.only.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="sitrep-bench-"))
    bench = Bench(plan, workdir)
    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "plan": asdict(plan),
        "machine": machine(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    bench.log(f"{plan.name} benchmark in {workdir}")
    try:
        if "throughput" in only:
            results["throughput"] = bench.throughput()
        if "budget" in only:
            results["budget"] = [bench.budget(case) for case in plan.budgets]
        if "memory" in only:
            results["memory"] = bench.memory()
        if "resume" in only:
            results["resume"] = bench.resume()
    finally:
        if args.keep:
            bench.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["summary"] = summarize(results)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print()
    print_table(results["summary"])
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
