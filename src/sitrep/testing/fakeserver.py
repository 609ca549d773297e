"""An OpenAI-compatible Chat Completions server on loopback, for load and fault tests.

It answers every request with a valid extraction: empty (`{"incidents": [], "statistics": []}`)
unless `ServerSettings.answer` says otherwise, as a call of the requested tool or, for a
`response_format` request, as the message content. It is not a model and its answers say so:
ids are `chatcmpl-fake-<n>`, the model name is echoed and there is no `system_fingerprint`. It
enforces requests and tokens per minute like OpenAI (429 with Retry-After, `x-ratelimit-*`
headers on every answer) and injects faults: 429, 500, a held request, arguments that are not JSON.

Tokens are estimated, not counted: a prompt is its request body's bytes // 4, a completion its
arguments' characters // 4 (at least 1); both count against `tpm` and appear in `usage`.

    with FakeOpenAIServer(ServerSettings(latency=0.2, rpm=600)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")

    python -m sitrep.testing.fakeserver --port 8099 --latency 0.2 --rpm 600   # prints the URL

It also serves OpenAI's Files and Batch endpoints (`/v1/files`, `/v1/batches`; see
`sitrep.testing.batches` for what is modelled): a batch of Chat Completions requests answered
through the same `answer` and the same builders, run over `ServerSettings.batch.duration` seconds,
with failed, malformed, expiring and cancelled lines as `BatchSettings` asks (`--batch-duration`,
`--batch-failed-share`, `--batch-malformed-share`, `--batch-expire`, ... on the command line).

It needs aiohttp, which the `testing` extra installs: `pip install 'sitrep[testing]'`. Its
bodies are built by `sitrep.testing.completions`, like the authored cassettes'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import signal
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover  (only without the extra)
    raise ImportError(
        "sitrep.testing.fakeserver needs aiohttp: pip install 'sitrep[testing]'"
    ) from exc

from sitrep.model.usage import cacheable_tokens
from sitrep.testing.batches import BatchEndpoints, BatchSettings, add_options, pop_options
from sitrep.testing.completions import (
    answer_message,
    chat_completion,
    error_body,
    malformed_arguments,
    usage,
)
from sitrep.testing.recorded import answers_from_cassettes

HOST = "127.0.0.1"  # loopback only: this server must never be reachable from elsewhere
DEFAULT_ARGUMENTS = '{"incidents": [], "statistics": []}'
FAULTS = ("429", "500", "timeout", "malformed")
_SHUTDOWN_GRACE = 0.5  # seconds in-flight answers get to finish when the server stops

_SERVER_ERROR = json.dumps(
    error_body(
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    )
).encode()
_BAD_REQUEST = error_body(
    "We could not parse the JSON body of your request.", "invalid_request_error", None
)


@dataclass(frozen=True)
class ServerSettings:
    """How the server behaves. Budgets count only admitted requests, not the 429s."""

    latency: float = 0.0  # seconds before each answer (asyncio.sleep: requests overlap)
    latency_jitter: float = 0.0  # up to this many random seconds added to each latency
    rpm: int | None = None  # requests per window; None for no limit
    tpm: int | None = None  # estimated tokens per window; None for no limit
    window: float = 60.0  # seconds the budgets slide over; tests shrink it
    fault_rate: float = 0.0  # share of requests answered with a fault
    faults: tuple[str, ...] = FAULTS  # chosen uniformly when a fault fires
    fault_retry_after: float = 1.0  # seconds an injected 429 asks the client to wait
    timeout_hold: float = 30.0  # seconds a "timeout" fault holds the request, then hangs up
    seed: int = 0
    answer: Callable[[dict[str, Any]], str] | None = None  # request body -> arguments JSON
    # Share of each prompt reported as served from the prompt cache (usage's
    # prompt_tokens_details.cached_tokens), by OpenAI's rule: none below 1,024 tokens, else in
    # 128-token increments.
    cached_share: float = 0.0
    # The Files and Batch endpoints (testing/batches.py); frozen, so one shared default is safe
    batch: BatchSettings = BatchSettings()  # noqa: RUF009

    def __post_init__(self) -> None:
        if min(self.latency, self.latency_jitter, self.fault_retry_after, self.timeout_hold) < 0:
            raise ValueError("durations cannot be negative")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if not 0.0 <= self.cached_share <= 1.0:
            raise ValueError("cached_share must be between 0 and 1")
        if not self.faults or not set(self.faults) <= set(FAULTS):
            raise ValueError(f"faults must be a non-empty selection of {FAULTS}")
        if self.window <= 0 or any(n is not None and n < 1 for n in (self.rpm, self.tpm)):
            raise ValueError("window, rpm and tpm must be positive")


@dataclass(frozen=True)
class ServerStats:
    """Counts since the start (or the last reset). Each request is counted once, on arrival,
    by the outcome decided for it, so `requests` equals the sum of the outcomes."""

    requests: int = 0
    ok: int = 0  # 200 with a valid answer
    rate_limited: int = 0  # 429: the rpm/tpm budget was spent
    injected_429: int = 0  # 429: fault injection
    server_errors: int = 0  # 500: fault injection
    timeouts: int = 0  # held, then closed unanswered
    malformed: int = 0  # 200 with arguments that are not JSON
    bad_requests: int = 0  # 400: the body was not a JSON object
    tokens: int = 0  # estimated tokens admitted to the budget
    in_flight: int = 0  # admitted requests not yet answered (or hung up on)


class _Window:
    """The requests and tokens admitted in the last `window` seconds.

    Parallel lists with a moving head, and cumulative token sums, so that finding how many of
    the oldest entries must expire before a request fits is a bisection, not a walk.
    """

    def __init__(self, rpm: int | None, tpm: int | None, window: float) -> None:
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self._at: list[float] = []
        self._cum: list[int] = []  # tokens admitted up to and including each entry
        self._head = 0
        self._expired = 0  # cumulative tokens of the entries before the head

    def _expire(self, now: float) -> None:
        while self._head < len(self._at) and self._at[self._head] <= now - self.window:
            self._expired = self._cum[self._head]
            self._head += 1
        if self._head > 1024 and self._head * 2 > len(self._at):
            del self._at[: self._head], self._cum[: self._head]
            self._head = 0

    def used(self) -> tuple[int, int]:
        return len(self._at) - self._head, (self._cum[-1] if self._cum else 0) - self._expired

    def refuse(self, now: float, tokens: int) -> tuple[str, float | None] | None:
        """None if the request fits; else the spent budget and seconds until it would fit."""
        self._expire(now)
        count, used = self.used()
        if self.rpm is not None and count >= self.rpm:
            return "requests", self._at[len(self._at) - self.rpm] + self.window - now
        if self.tpm is not None and used + tokens > self.tpm:
            if tokens > self.tpm:
                return "tokens", None  # too large ever to fit: waiting will not help
            k = bisect_left(self._cum, self._expired + used + tokens - self.tpm, lo=self._head)
            return "tokens", self._at[k] + self.window - now
        return None

    def admit(self, now: float, tokens: int) -> None:
        self._at.append(now)
        self._cum.append((self._cum[-1] if self._cum else 0) + tokens)

    def headers(self, now: float) -> dict[str, str]:
        # Reset is when the oldest entry expires and budget next frees up; for a sliding window
        # that is what a client with nothing remaining needs to know.
        count, used = self.used()
        reset = _duration(self._at[self._head] + self.window - now if count else 0.0)
        headers = {}
        for kind, limit, spent in (("requests", self.rpm, count), ("tokens", self.tpm, used)):
            if limit is not None:
                headers[f"x-ratelimit-limit-{kind}"] = str(limit)
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(limit - spent, 0))
                headers[f"x-ratelimit-reset-{kind}"] = reset
        return headers


def _duration(seconds: float) -> str:
    """OpenAI's style: "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{math.ceil(max(seconds, 0.0) * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def _rate_limited(
    kind: str, message: str, headers: dict[str, str], wait: float | None
) -> web.Response:
    if wait is not None:  # Retry-After in whole seconds as the standard says; the ms exact
        headers |= {
            "retry-after": str(math.ceil(wait)),
            "retry-after-ms": str(math.ceil(wait * 1e3)),
        }
        message += f" Please try again in {_duration(wait)}."
    body = json.dumps(error_body(message, kind, "rate_limit_exceeded")).encode()
    return web.Response(status=429, body=body, content_type="application/json", headers=headers)


class FakeOpenAI:
    """The aiohttp application and its state. Counters are guarded by a lock so that a thread
    other than the server's can read a consistent snapshot."""

    def __init__(self, settings: ServerSettings | None = None) -> None:
        self.settings = settings or ServerSettings()
        s = self.settings
        self._rng = random.Random(s.seed)
        self._jitter = random.Random(s.seed + 1)  # apart, so jitter never shifts the faults
        self._window = _Window(s.rpm, s.tpm, s.window)
        self._lock = threading.Lock()
        self._counts = {f.name: 0 for f in fields(ServerStats)}
        self._serial = 0  # request numbers keep rising across resets

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 2**20)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/stats", self._stats)
        s = self.settings
        BatchEndpoints(s.batch, s.answer, DEFAULT_ARGUMENTS, s.seed).register(app)
        return app

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(**self._counts)

    def reset_stats(self) -> None:
        """Zero every counter but `in_flight`; the rate-limit window is left as it is."""
        with self._lock:
            for name in self._counts:
                if name != "in_flight":
                    self._counts[name] = 0

    async def _stats(self, _: web.Request) -> web.Response:
        return web.json_response(asdict(self.stats()))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            with self._lock:
                self._counts["requests"] += 1
                self._counts["bad_requests"] += 1
            return web.json_response(_BAD_REQUEST, status=400)
        model, answer = str(body.get("model", "fake")), self.settings.answer
        admitted = self._decide(model, len(raw), answer(body) if answer else DEFAULT_ARGUMENTS)
        if isinstance(admitted, web.Response):
            return admitted
        try:
            return await self._answer(request, body, model, admitted)
        finally:
            with self._lock:
                self._counts["in_flight"] -= 1

    def _decide(self, model: str, size: int, arguments: str) -> _Admitted | web.Response:
        """Count the request and pick its fate: admitted to be answered, or a 429 now."""
        s, counts = self.settings, self._counts
        with self._lock:  # no await in here: each decision is one step of the event loop
            self._serial += 1
            number, now = self._serial, time.monotonic()
            counts["requests"] += 1
            # One draw per request whatever the budget, so a seed fixes the faults' sequence.
            fault = self._rng.choice(s.faults) if self._rng.random() < s.fault_rate else None
            if fault == "malformed":
                arguments = malformed_arguments(arguments)
            prompt, completion = size // 4, max(len(arguments) // 4, 1)
            refused = None if fault == "429" else self._window.refuse(now, prompt + completion)
            if fault == "429":
                counts["injected_429"] += 1
            elif refused is not None:
                counts["rate_limited"] += 1
            else:
                self._window.admit(now, prompt + completion)
                counts["tokens"] += prompt + completion
                counts[_OUTCOMES[fault]] += 1
                counts["in_flight"] += 1
            headers = self._window.headers(now) | {"x-request-id": f"req_fake_{number}"}
        if fault == "429":
            message = "Rate limit reached (a fault injected by sitrep's fake server)."
            return _rate_limited("requests", message, headers, s.fault_retry_after)
        if refused is not None:
            kind, wait = refused
            limit = s.rpm if kind == "requests" else s.tpm
            what = f"{model} on {kind} per min: Limit {limit}"
            asked = 1 if kind == "requests" else prompt + completion
            if wait is None:
                message = f"Request too large for {what}, Requested {asked}. Make it smaller."
            else:
                used = self._window.used()[kind == "tokens"]
                message = f"Rate limit reached for {what}, Used {used}, Requested {asked}."
            return _rate_limited(kind, message, headers, wait)
        return _Admitted(number, fault, arguments, prompt, completion, headers)

    async def _answer(
        self, request: web.Request, body: dict[str, Any], model: str, admitted: _Admitted
    ) -> web.Response:
        number, fault, arguments, prompt, completion, headers = admitted
        s = self.settings
        if delay := s.latency + self._jitter.uniform(0, s.latency_jitter):
            await asyncio.sleep(delay)
        if fault == "timeout":
            await asyncio.sleep(s.timeout_hold)
            if request.transport is not None:
                request.transport.close()  # hang up: the response below is never sent
            return web.Response(status=504)
        if fault == "500":
            return web.Response(
                status=500, body=_SERVER_ERROR, content_type="application/json", headers=headers
            )
        answer = chat_completion(
            completion_id=f"chatcmpl-fake-{number}",
            model=model,
            created=int(time.time()),
            answer=answer_message(body, arguments, f"call_fake_{number}"),
            finish_reason="stop",
            token_usage=usage(prompt, completion, cacheable_tokens(int(prompt * s.cached_share))),
        )
        return web.Response(
            body=json.dumps(answer).encode(), content_type="application/json", headers=headers
        )


class _Admitted(NamedTuple):
    number: int
    fault: str | None
    arguments: str
    prompt: int
    completion: int
    headers: dict[str, str]


_OUTCOMES = {None: "ok", "500": "server_errors", "timeout": "timeouts", "malformed": "malformed"}


async def _start(fake: FakeOpenAI, port: int) -> tuple[web.AppRunner, int]:
    # No access log: a log line per request would cost more than the answer. Handlers are
    # cancelled when their client hangs up, so a held request ends when the client gives up.
    runner = web.AppRunner(
        fake.app(), access_log=None, shutdown_timeout=_SHUTDOWN_GRACE, handler_cancellation=True
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port, reuse_address=True).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


async def _stop(runner: web.AppRunner) -> None:
    await runner.cleanup()
    # A request whose client hung up during a hold belongs to no connection any more.
    leftovers = asyncio.all_tasks() - {asyncio.current_task()}
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


class FakeOpenAIServer(FakeOpenAI):
    """The fake server on its own thread and event loop, so that blocking code and an event loop
    in the calling thread can both use it."""

    def __init__(self, settings: ServerSettings | None = None, *, port: int = 0) -> None:
        super().__init__(settings)
        self.port = port  # the bound port once started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30) or self._error is not None:
            raise RuntimeError("the fake server did not start") from self._error

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._thread = self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            runner, self.port = loop.run_until_complete(_start(self, self.port))
        except BaseException as exc:
            self._error, self._loop = exc, None
            loop.close()
            return
        finally:
            self._ready.set()
        try:
            loop.run_forever()
            loop.run_until_complete(_stop(runner))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


async def _serve_until_signalled(settings: ServerSettings, port: int) -> None:
    runner, port = await _start(FakeOpenAI(settings), port)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    print(f"http://{HOST}:{port}/v1", flush=True)
    try:
        await stop.wait()
    finally:
        await _stop(runner)


def main(argv: list[str] | None = None) -> int:
    """Run the server in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m sitrep.testing.fakeserver", description=__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--answers-from",
        type=Path,
        help="a directory of cassettes: answer each request as they recorded it "
        "(sitrep.testing.recorded); otherwise every answer is an empty extraction",
    )
    for field in fields(ServerSettings):  # an option for each setting but the answer function
        name, kind = field.name, int if field.name in ("rpm", "tpm", "seed") else float
        if name == "faults":
            parser.add_argument("--faults", type=_split, default=FAULTS, help="comma-separated")
        elif name not in ("answer", "batch"):
            parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=field.default)
    add_options(parser)
    options = vars(parser.parse_args(argv))
    port = options.pop("port")
    recorded = options.pop("answers_from")
    try:
        batch = pop_options(options)
        answer = answers_from_cassettes(recorded) if recorded is not None else None
        settings = ServerSettings(**options, batch=batch, answer=answer)
    except (ValueError, LookupError) as exc:
        parser.error(str(exc))
    asyncio.run(_serve_until_signalled(settings, port))
    return 0


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


if __name__ == "__main__":
    raise SystemExit(main())
