"""Calls that got no usable answer are in the call log too: timeouts, refused and reset
connections, a request abandoned on the wire, each with what became of it.

The faults are real: the fake server (on loopback) holds a request and hangs up on it, a port
with nothing listening refuses the connection. The rows are read back from the ledger.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import openai
import pytest

import sitrep.run.ledger
from author_cassettes import authored
from conftest import FAULT_ARTICLE
from sitrep.errors import ReplayError, TransportError
from sitrep.extract.extractor import Extractor
from sitrep.model.article import Article
from sitrep.model.schemas import schema_version
from sitrep.run.ledger import LEDGER_NAME, MIGRATIONS, Ledger
from sitrep.run.scheduler import run_batch
from sitrep.settings import BatchOptions, ModelConfig, RetryPolicy
from sitrep.testing.fakeserver import FakeOpenAIServer, ServerSettings
from sitrep.wire.calls import NO_STATUS, Call, encode_request, request_hash
from sitrep.wire.faults import unanswered_outcome
from synthetic import statistic_arguments, synthetic_articles

MODEL = "gpt-4.1-mini"
KEY = "sk-test-credential-that-must-never-be-logged"
ARTICLE = Article.from_file(FAULT_ARTICLE)
QUICK = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01, jitter=0.0)
HELD = ServerSettings(fault_rate=1.0, faults=("timeout",), timeout_hold=3.0)
MORTAR = authored("mortar_strike")

SYNC_AND_ASYNC = pytest.mark.parametrize("run_async", [False, True], ids=["sync", "async"])


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(tmp_path)
    yield opened
    opened.close()


def config(base_url: str, *, timeout: float, resend_timed_out: bool | None = True) -> ModelConfig:
    retry = RetryPolicy(
        max_attempts=QUICK.max_attempts,
        initial_wait=QUICK.initial_wait,
        max_wait=QUICK.max_wait,
        jitter=QUICK.jitter,
        resend_timed_out=resend_timed_out,
    )
    return ModelConfig(model=MODEL, base_url=base_url, request_timeout=timeout, retry=retry)


def extract(made: Extractor, *, run_async: bool) -> None:
    """Extract the article, sync or async, closing the extractor's clients after."""
    if not run_async:
        try:
            made.extract(ARTICLE)
        finally:
            made.close()
        return

    async def main() -> None:
        try:
            await made.aextract(ARTICLE)
        finally:
            await made.aclose()

    asyncio.run(main())


def sent_hash(made: Extractor) -> str:
    """The hash of the bytes the extractor puts on the wire for the article."""
    return request_hash("POST", "/v1/chat/completions", encode_request(made.request_for(ARTICLE)))


def nothing_listening() -> str:
    """The base URL of a loopback port that was just free: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def assert_unanswered(call: Call, made: Extractor, outcome: str) -> None:
    """A call that got no answer, logged with its fault, its request and what it was for."""
    assert (call.status, call.outcome) == (NO_STATUS, outcome)
    assert call.request_hash == sent_hash(made)
    assert (call.article_id, call.model) == (ARTICLE.id, MODEL)
    assert (call.prompt_version, call.schema_version) == (made.prompts.version, schema_version())
    assert (call.response, call.request_id, call.prompt_tokens, call.completion_tokens) == (
        None,
        None,
        None,
        None,
    )
    assert call.from_cache is False


def ledger_text(path: Path) -> str:
    """Every value of every call row, responses decompressed, as one string."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM calls").fetchall()
    values = [
        zlib.decompress(v).decode() if isinstance(v, bytes) else str(v) for r in rows for v in r
    ]
    return "\n".join(values)


# --- the fake server holds the request past the timeout ---------------------------------------


@SYNC_AND_ASYNC
def test_a_timed_out_call_is_logged_with_its_timeout_latency_hash_and_tag(
    ledger: Ledger, run_async: bool
) -> None:
    with FakeOpenAIServer(HELD) as server:
        made = Extractor(
            config(server.base_url, timeout=0.3), api_key=KEY, call_log=ledger, cache=ledger
        )
        with pytest.raises(TransportError) as info:
            extract(made, run_async=run_async)
        assert server.stats().timeouts == QUICK.max_attempts
    assert str(info.value) == "gave up after transport faults; last: request timeout after 0.3 s"
    calls = ledger.calls_for(ARTICLE.id)
    assert len(calls) == QUICK.max_attempts  # every attempt, each resent after its timeout
    for call in calls:
        assert_unanswered(call, made, "request timeout after 0.3 s")
        assert 300 <= call.latency_ms < HELD.timeout_hold * 1000
    assert ledger.cached_response(calls[0].request_hash) is None
    assert KEY not in ledger_text(ledger.path)


def test_a_timed_out_call_not_sent_again_is_logged_once(ledger: Ledger) -> None:
    with FakeOpenAIServer(HELD) as server:
        local = config(server.base_url, timeout=0.3, resend_timed_out=None)
        assert local.resends_timed_out is False
        made = Extractor(local, api_key=KEY, call_log=ledger)
        with pytest.raises(TransportError, match=r"no answer within 0\.3 s"):
            extract(made, run_async=False)
    (call,) = ledger.calls_for(ARTICLE.id)
    assert_unanswered(call, made, "request timeout after 0.3 s")


# --- the fake server hangs up before the timeout ---------------------------------------------


@SYNC_AND_ASYNC
def test_a_call_the_server_hung_up_on_is_logged_as_closed_without_an_answer(
    ledger: Ledger, run_async: bool
) -> None:
    hangs_up = ServerSettings(fault_rate=1.0, faults=("timeout",), timeout_hold=0.2)
    with FakeOpenAIServer(hangs_up) as server:
        made = Extractor(config(server.base_url, timeout=10), api_key=KEY, call_log=ledger)
        with pytest.raises(TransportError, match="without answering"):
            extract(made, run_async=run_async)
    calls = ledger.calls_for(ARTICLE.id)
    assert len(calls) == QUICK.max_attempts
    for call in calls:
        assert_unanswered(call, made, "the server closed the connection without answering")
        assert call.latency_ms >= 200


# --- nothing listening --------------------------------------------------------------------------


@SYNC_AND_ASYNC
def test_a_refused_connection_is_logged_for_every_attempt(ledger: Ledger, run_async: bool) -> None:
    made = Extractor(
        config(nothing_listening(), timeout=5), api_key=KEY, call_log=ledger, cache=ledger
    )
    with pytest.raises(TransportError) as info:
        extract(made, run_async=run_async)
    assert str(info.value) == "gave up after transport faults; last: connection refused"
    calls = ledger.calls_for(ARTICLE.id)
    assert len(calls) == QUICK.max_attempts
    for call in calls:
        assert_unanswered(call, made, "connection refused")
        assert call.latency_ms >= 0
    assert ledger.cached_response(calls[0].request_hash) is None
    assert KEY not in ledger_text(ledger.path)


# --- a fault, then the answer ---------------------------------------------------------------


def reset_then(
    answer: Callable[[httpx2.Request, str], httpx2.Response],
) -> Callable[[httpx2.Request], httpx2.Response]:
    """A transport whose first request has its connection reset, as the socket reports it."""
    seen: list[httpx2.Request] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if len(seen) == 1:
            try:
                raise ConnectionResetError(104, "Connection reset by peer")
            except ConnectionResetError as exc:
                raise httpx2.ReadError("", request=request) from exc
        return answer(request, "after-reset")

    return handle


@SYNC_AND_ASYNC
def test_a_reset_then_an_answer_logs_both_and_only_the_answer_serves_as_cache(
    ledger: Ledger, no_sleep: list[float], run_async: bool
) -> None:
    transport = httpx2.MockTransport(reset_then(MORTAR))
    made = Extractor(
        ModelConfig(model=MODEL),
        api_key=KEY,
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        call_log=ledger,
    )
    extract(made, run_async=run_async)
    reset, answered = ledger.calls_for(ARTICLE.id)
    assert (reset.status, reset.outcome, reset.response) == (NO_STATUS, "connection reset", None)
    assert (answered.status, answered.outcome) == (200, None)
    assert reset.request_hash == answered.request_hash
    assert ledger.cached_response(reset.request_hash) == answered.response
    assert len(no_sleep) == 1


def test_a_request_only_ever_refused_is_asked_of_the_endpoint_not_the_cache(
    ledger: Ledger,
) -> None:
    with pytest.raises(TransportError):
        extract(
            Extractor(config(nothing_listening(), timeout=5), api_key=KEY, call_log=ledger),
            run_async=False,
        )
    with FakeOpenAIServer() as server:
        made = Extractor(
            config(server.base_url, timeout=5), api_key=KEY, call_log=ledger, cache=ledger
        )
        extract(made, run_async=False)
        assert server.stats().requests == 1
    assert [c.status for c in ledger.calls_for(ARTICLE.id)] == [NO_STATUS, NO_STATUS, 200]


# --- a request abandoned on the wire ----------------------------------------------------------


def test_a_call_cancelled_on_the_wire_is_logged_as_cancelled(ledger: Ledger) -> None:
    with FakeOpenAIServer(ServerSettings(latency=10.0)) as server:
        made = Extractor(config(server.base_url, timeout=30), api_key=KEY, call_log=ledger)

        async def main() -> None:
            task = asyncio.create_task(made.aextract(ARTICLE))
            for _ in range(500):
                if server.stats().in_flight:
                    break
                await asyncio.sleep(0.01)
            assert server.stats().in_flight == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await made.aclose()

        asyncio.run(main())
    (call,) = ledger.calls_for(ARTICLE.id)
    assert_unanswered(call, made, "cancelled")


# --- a batch logs every request the server saw ------------------------------------------------


def test_a_batch_logs_a_row_for_every_request_the_server_saw_faults_included(
    tmp_path: Path,
) -> None:
    articles = synthetic_articles(40)
    settings = ServerSettings(
        fault_rate=0.3,
        faults=("timeout", "500"),
        timeout_hold=0.05,  # hangs up before the client's timeout
        seed=3,
        answer=statistic_arguments,
    )
    retry = RetryPolicy(max_attempts=8, initial_wait=0.01, max_wait=0.02, jitter=0.0)
    with FakeOpenAIServer(settings) as server:
        summary = asyncio.run(
            run_batch(
                articles,
                ModelConfig(model=MODEL, base_url=server.base_url, retry=retry),
                api_key=KEY,
                out_dir=tmp_path,
                options=BatchOptions(concurrency=8),
            )
        )
        stats = server.stats()
    assert summary.done == len(articles)
    assert stats.timeouts > 0
    with sqlite3.connect(tmp_path / LEDGER_NAME) as db:
        rows = db.execute("SELECT status, outcome FROM calls WHERE from_cache = 0").fetchall()
    assert len(rows) == stats.requests
    hung_up = [r for r in rows if r[0] == NO_STATUS]
    assert len(hung_up) == stats.timeouts
    assert {r[1] for r in hung_up} == {"the server closed the connection without answering"}
    assert sum(1 for r in rows if r[0] == 500) == stats.server_errors
    assert KEY not in ledger_text(tmp_path / LEDGER_NAME)


# --- what the outcome says, from the exception chain ------------------------------------------


def _wrapped(kind: type[openai.APIConnectionError], *chain: BaseException) -> BaseException:
    """The SDK's error raised from the first of `chain`, each raised while handling the next."""
    for outer, inner in itertools.pairwise(chain):
        outer.__context__ = inner
    exc = kind(request=httpx2.Request("POST", "http://user:secret@10.0.0.1:8080/v1"))
    if chain:
        exc.__cause__ = chain[0]
    return exc


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        pytest.param(
            lambda: _wrapped(
                openai.APIConnectionError,
                httpx2.ConnectError("[Errno 111] Connection refused"),
                ConnectionRefusedError(111, "Connection refused"),
            ),
            "connection refused",
            id="refused-sync",
        ),
        pytest.param(
            lambda: _wrapped(
                openai.APIConnectionError,
                httpx2.ConnectError("All connection attempts failed"),
                OSError("All connection attempts failed"),
                ConnectionRefusedError(111, "Connect call failed ('10.0.0.1', 8080)"),
            ),
            "connection refused",
            id="refused-async",
        ),
        pytest.param(
            lambda: _wrapped(
                openai.APIConnectionError,
                httpx2.ReadError(""),
                ConnectionResetError(104, "Connection reset by peer"),
            ),
            "connection reset",
            id="reset",
        ),
        pytest.param(
            lambda: _wrapped(openai.APITimeoutError, httpx2.ReadTimeout("timed out")),
            "request timeout after 600 s",
            id="read-timeout",
        ),
        pytest.param(
            lambda: _wrapped(openai.APITimeoutError, httpx2.ConnectTimeout("timed out")),
            "connect timeout after 600 s",
            id="connect-timeout",
        ),
        pytest.param(
            lambda: _wrapped(
                openai.APIConnectionError,
                httpx2.RemoteProtocolError("Server disconnected without sending a response."),
            ),
            "the server closed the connection without answering",
            id="hung-up",
        ),
        pytest.param(
            lambda: _wrapped(
                openai.APIConnectionError,
                httpx2.ConnectError("[Errno -2] Name or service not known"),
                socket.gaierror(-2, "Name or service not known"),
            ),
            "host name not resolved",
            id="unresolved",
        ),
        pytest.param(
            lambda: _wrapped(openai.APIConnectionError, ReplayError("no recorded response")),
            "no recorded response matches (replay)",
            id="replay",
        ),
        pytest.param(
            lambda: _wrapped(
                openai.APIConnectionError, httpx2.ConnectError("user:secret@10.0.0.1")
            ),
            "could not connect",
            id="connect-other",
        ),
        pytest.param(
            lambda: _wrapped(openai.APIConnectionError, httpx2.ProxyError("user:secret")),
            "connection error (ProxyError)",
            id="other",
        ),
    ],
)
def test_an_unanswered_calls_outcome_names_the_fault_and_never_quotes_its_text(
    error: Callable[[], BaseException], outcome: str
) -> None:
    exc = error()
    assert isinstance(exc, openai.APIConnectionError)
    said = unanswered_outcome(exc, timeout=600.0)
    assert said == outcome
    assert "secret" not in said


def test_without_the_timeout_an_outcome_says_only_that_it_timed_out() -> None:
    exc = _wrapped(openai.APITimeoutError, httpx2.ReadTimeout("timed out"))
    assert isinstance(exc, openai.APITimeoutError)
    assert unanswered_outcome(exc) == "request timed out"


# --- the migration --------------------------------------------------------------------------


def test_a_ledger_from_before_outcomes_gains_the_column_and_its_answers_still_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = [m for m in MIGRATIONS if m[0] != "0005_call_outcomes"]
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", tuple(before))
    old = Ledger.open(tmp_path)
    old._db.execute(
        "INSERT INTO calls (article_id, request_hash, status, latency_ms, response, created_at) "
        "VALUES ('a', 'h', 200, 1.0, ?, '2026-01-01')",
        (zlib.compress(b'{"id": "old"}'),),
    )
    old.close()
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", MIGRATIONS)
    upgraded = Ledger.open(tmp_path)
    try:
        assert "0005_call_outcomes" in upgraded.migrations()
        (kept,) = upgraded.calls_for("a")
        assert (kept.status, kept.outcome) == (200, None)
        assert upgraded.cached_response("h") == b'{"id": "old"}'
    finally:
        upgraded.close()
