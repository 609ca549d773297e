"""The transport retry layer (`sitrep.wire.faults`), one retry path per test.

Faults are real openai SDK exceptions built the way the SDK builds them; the function being
retried is a scripted fake that counts its calls. Sleeping is always replaced: waits are
collected, never slept. The last tests go through `Extractor` with an `httpx2.MockTransport`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2
import openai
import pydantic
import pytest
import tenacity

from sitrep.errors import (
    AuthenticationError,
    BadRequestError,
    EndpointRejectedError,
    ReplayError,
    StoppedEarlyError,
    TransportError,
)
from sitrep.extract.extractor import Extractor
from sitrep.extract.prompts import TOOL_NAME
from sitrep.model.article import Article
from sitrep.model.usage import TokenUsage
from sitrep.settings import ModelConfig, RetryPolicy
from sitrep.wire.faults import async_retrying, is_transient, retry_after, sync_retrying, translate

URL = "https://api.openai.com/v1/chat/completions"
ROOT = Path(__file__).resolve().parent.parent
MORTAR_STRIKE = ROOT / "cassettes" / "authored" / "mortar_strike.json"
SENTINEL = object()
NO_JITTER = RetryPolicy(jitter=0.0)

Fault = Callable[[], BaseException]


# --- SDK exceptions, built as openai's _make_status_error builds them -------------------------

_SDK_CLASSES: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def _request() -> httpx2.Request:
    return httpx2.Request("POST", URL)


def _error_body(message: str, status: int) -> dict[str, Any]:
    return {"message": message, "type": f"error_{status}", "param": None, "code": None}


def status_error(
    status: int,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> openai.APIStatusError:
    """What the SDK raises for this response: the class by status, `body` the inner error."""
    message = message or f"server said {status}"
    inner = _error_body(message, status)
    response = httpx2.Response(
        status,
        headers={"x-request-id": f"req_{status}", **(headers or {})},
        json={"error": inner},
        request=_request(),
    )
    default = openai.InternalServerError if status >= 500 else openai.APIStatusError
    kind = _SDK_CLASSES.get(status, default)
    return kind(f"Error code: {status} - {{'error': {inner}}}", response=response, body=inner)


def rate_limited(**headers: str) -> openai.APIStatusError:
    return status_error(429, "Rate limit reached for gpt-4.1-mini", headers)


def timeout() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=_request())


def connection_error() -> openai.APIConnectionError:
    """A refused connection as httpx2 and the SDK wrap the socket's error."""
    connect = httpx2.ConnectError("[Errno 111] Connection refused")
    connect.__context__ = ConnectionRefusedError(111, "Connection refused")
    exc = openai.APIConnectionError(request=_request())
    exc.__cause__ = connect
    return exc


# --- a scripted "send" and the two ways of driving it ---------------------------------------


class ScriptedSend:
    """Raises the scripted faults in order, then returns SENTINEL. Counts every call."""

    def __init__(self, *faults: BaseException, on_call: Callable[[], None] | None = None) -> None:
        self._faults = list(faults)
        self._on_call = on_call
        self.calls = 0
        self.arguments: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> object:
        self.calls += 1
        self.arguments.append((args, kwargs))
        if self._on_call is not None:
            self._on_call()
        if self._faults:
            raise self._faults.pop(0)
        return SENTINEL

    async def acall(self, *args: Any, **kwargs: Any) -> object:
        return self(*args, **kwargs)


Runner = Callable[[RetryPolicy, ScriptedSend, list[float]], object]


def run_sync(policy: RetryPolicy, send: ScriptedSend, waits: list[float]) -> object:
    return sync_retrying(policy, sleep=waits.append)(send, "payload", model="m")


def run_async(policy: RetryPolicy, send: ScriptedSend, waits: list[float]) -> object:
    """The way the send loop drives it (`ChatSender.asend`): the retrying object called with
    the coroutine function and its arguments."""

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> object:
        return await async_retrying(policy, sleep=sleep)(send.acall, "payload", model="m")

    return asyncio.run(main())


RUNNERS = [pytest.param(run_sync, id="sync"), pytest.param(run_async, id="async")]


class FakeClock:
    """tenacity's `time.monotonic`, advanced only by the waits (and by slow requests)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(tenacity, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


def backoff_bounds(policy: RetryPolicy, retries: int) -> list[tuple[float, float]]:
    """[low, high] of each backoff wait: initial_wait * 2**n plus up to `jitter`, capped."""
    bounds = []
    for n in range(retries):
        base = policy.initial_wait * 2**n
        bounds.append((min(base, policy.max_wait), min(base + policy.jitter, policy.max_wait)))
    return bounds


def assert_backoff(waits: list[float], policy: RetryPolicy) -> None:
    bounds = backoff_bounds(policy, len(waits))
    for n, (wait, (low, high)) in enumerate(zip(waits, bounds, strict=True)):
        assert low <= wait <= high, f"wait {n} was {wait}, outside [{low}, {high}]"
    assert waits == sorted(waits)


# --- Retry-After ----------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_rate_limit_waits_exactly_the_retry_after_seconds_then_succeeds(run: Runner) -> None:
    send, waits = ScriptedSend(rate_limited(**{"retry-after": "7"})), list[float]()
    assert run(RetryPolicy(), send, waits) is SENTINEL
    assert send.calls == 2
    assert waits == [7.0]


@pytest.mark.parametrize("run", RUNNERS)
def test_retry_after_ms_is_read_in_milliseconds_and_preferred_to_retry_after(
    run: Runner,
) -> None:
    fault = rate_limited(**{"retry-after-ms": "1500", "retry-after": "9"})
    send, waits = ScriptedSend(fault), list[float]()
    assert run(RetryPolicy(), send, waits) is SENTINEL
    assert send.calls == 2
    assert waits == [1.5]


def test_retry_after_on_a_server_error_is_honoured_too() -> None:
    send, waits = ScriptedSend(status_error(503, headers={"retry-after": "3"})), list[float]()
    assert run_sync(RetryPolicy(), send, waits) is SENTINEL
    assert waits == [3.0]


def test_retry_after_longer_than_max_wait_is_still_honoured() -> None:
    send, waits = ScriptedSend(rate_limited(**{"retry-after": "90"})), list[float]()
    assert run_sync(RetryPolicy(max_wait=10.0), send, waits) is SENTINEL
    assert waits == [90.0]


def test_http_date_retry_after_is_the_seconds_until_that_date() -> None:
    fault = rate_limited(**{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert retry_after(fault, now=now) == 30.0


def test_http_date_retry_after_in_the_past_means_no_wait() -> None:
    fault = rate_limited(**{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after(fault, now=datetime(2015, 10, 21, 8, 0, tzinfo=UTC)) == 0.0
    send, waits = ScriptedSend(fault), list[float]()
    assert run_sync(RetryPolicy(), send, waits) is SENTINEL
    assert waits == [0.0]


def test_negative_retry_after_is_clamped_to_zero() -> None:
    assert retry_after(rate_limited(**{"retry-after": "-5"})) == 0.0


def test_no_retry_after_and_non_status_errors_give_none() -> None:
    assert retry_after(rate_limited()) is None
    assert retry_after(timeout()) is None
    assert retry_after(ValueError("not an SDK error")) is None


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "7 seconds",
        "nan",
        "inf",
    ],
)
def test_garbage_retry_after_falls_back_to_backoff(value: str) -> None:
    fault = rate_limited(**{"retry-after": value})
    send, waits = ScriptedSend(fault), list[float]()
    assert run_sync(NO_JITTER, send, waits) is SENTINEL
    assert send.calls == 2
    assert waits == [NO_JITTER.initial_wait]


def test_garbage_retry_after_ms_falls_back_to_retry_after() -> None:
    assert retry_after(rate_limited(**{"retry-after-ms": "abc", "retry-after": "3"})) == 3.0
    assert retry_after(rate_limited(**{"retry-after-ms": "nan", "retry-after": "3"})) == 3.0


@pytest.mark.parametrize(
    "value", ["Wed, 21 Oct 2015 07:28:00 -0000", "Wed, 21 Oct 2015 07:28:00"], ids=["-0000", "none"]
)
def test_http_date_retry_after_without_a_zone_does_not_break_the_retry(value: str) -> None:
    fault = rate_limited(**{"retry-after": value})
    send, waits = ScriptedSend(fault), list[float]()
    assert run_sync(RetryPolicy(), send, waits) is SENTINEL
    assert send.calls == 2
    (wait,) = waits
    assert math.isfinite(wait)
    assert wait >= 0.0
    assert retry_after(fault, now=datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)) in (30.0, None)


# --- transient faults: exponential backoff ----------------------------------------------------

TRANSIENT: list[Any] = [
    pytest.param(lambda: status_error(500), id="500"),
    pytest.param(lambda: status_error(502), id="502"),
    pytest.param(lambda: status_error(503), id="503"),
    pytest.param(lambda: status_error(408), id="408"),
    pytest.param(lambda: status_error(409), id="409"),
    pytest.param(rate_limited, id="429-without-retry-after"),
    pytest.param(timeout, id="timeout"),
    pytest.param(connection_error, id="connection"),
]


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_is_retried_with_growing_jittered_backoff(
    run: Runner, fault: Fault
) -> None:
    policy = RetryPolicy()
    send, waits = ScriptedSend(fault(), fault(), fault()), list[float]()
    assert run(policy, send, waits) is SENTINEL
    assert send.calls == 4
    assert len(waits) == 3
    assert_backoff(waits, policy)  # [1, 2], [2, 3], [4, 5]


def test_backoff_over_many_failures_stays_within_bounds_and_under_max_wait() -> None:
    policy = RetryPolicy(max_attempts=8, max_wait=10.0)
    send, waits = ScriptedSend(*(status_error(503) for _ in range(7))), list[float]()
    assert run_sync(policy, send, waits) is SENTINEL
    assert send.calls == 8
    assert len(waits) == 7
    assert_backoff(waits, policy)
    assert waits[4:] == [10.0, 10.0, 10.0]  # 16 s and more, jitter included, capped at 10


def test_backoff_without_jitter_doubles_exactly_up_to_max_wait() -> None:
    policy = RetryPolicy(max_attempts=8, max_wait=10.0, jitter=0.0)
    send, waits = ScriptedSend(*(timeout() for _ in range(7))), list[float]()
    assert run_sync(policy, send, waits) is SENTINEL
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_backoff_with_jitter_at_its_largest_adds_exactly_the_jitter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # tenacity.wait draws its jitter from random.uniform(0, jitter).
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    policy = RetryPolicy(max_attempts=6, max_wait=10.0, jitter=1.0)
    send, waits = ScriptedSend(*(connection_error() for _ in range(5))), list[float]()
    assert run_sync(policy, send, waits) is SENTINEL
    assert waits == [2.0, 3.0, 5.0, 9.0, 10.0]


# tenacity 9.2 deprecates `initial` in favour of `multiplier` (see the report on transport.py:97).
def test_backoff_starts_at_the_policys_initial_wait() -> None:
    policy = RetryPolicy(initial_wait=0.5, jitter=0.0)
    send, waits = (
        ScriptedSend(status_error(502), status_error(502), status_error(502)),
        list[float](),
    )
    assert run_sync(policy, send, waits) is SENTINEL
    assert waits == [0.5, 1.0, 2.0]


def test_each_retry_is_logged_with_the_fault_and_the_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    send, waits = ScriptedSend(rate_limited(**{"retry-after": "7"})), list[float]()
    with caplog.at_level(logging.WARNING, logger="sitrep"):
        run_sync(RetryPolicy(), send, waits)
    (record,) = caplog.records
    assert record.getMessage() == (
        "transport fault on attempt 1 (HTTP 429: Rate limit reached for gpt-4.1-mini); "
        "retrying in 7.0 s"
    )


def test_the_retried_call_gets_the_same_arguments_every_time() -> None:
    send, waits = ScriptedSend(timeout(), timeout()), list[float]()
    run_sync(RetryPolicy(), send, waits)
    assert send.arguments == [(("payload",), {"model": "m"})] * 3


# --- giving up: max_attempts ----------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize(
    ("last", "named"),
    [
        pytest.param(lambda: status_error(502, "Bad gateway"), "HTTP 502: Bad gateway", id="502"),
        pytest.param(
            lambda: rate_limited(**{"retry-after": "1"}),
            "HTTP 429: Rate limit reached for gpt-4.1-mini",
            id="429",
        ),
        pytest.param(timeout, "request timed out", id="timeout"),
        pytest.param(
            connection_error,
            "connection refused",
            id="connection",
        ),
    ],
)
def test_exhausting_max_attempts_reraises_the_last_fault_and_translates_to_transport_error(
    run: Runner, last: Fault, named: str
) -> None:
    policy = RetryPolicy(max_attempts=3)
    final = last()
    send, waits = ScriptedSend(status_error(503), timeout(), final), list[float]()
    with pytest.raises(openai.OpenAIError) as info:
        run(policy, send, waits)
    assert info.value is final  # reraise=True: the fault itself, not a tenacity RetryError
    assert send.calls == 3
    assert len(waits) == 2
    error = translate(info.value, usage=TokenUsage(), request_ids=[])
    assert type(error) is TransportError
    assert str(error) == f"gave up after transport faults; last: {named}"


def test_max_attempts_of_one_means_no_retry() -> None:
    send, waits = ScriptedSend(status_error(503)), list[float]()
    with pytest.raises(openai.InternalServerError):
        run_sync(RetryPolicy(max_attempts=1), send, waits)
    assert send.calls == 1
    assert waits == []


# --- giving up: the deadline ----------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
def test_retry_after_beyond_the_deadline_is_not_waited_for(run: Runner) -> None:
    fault = rate_limited(**{"retry-after": "120"})
    send, waits = ScriptedSend(fault), list[float]()
    with pytest.raises(openai.RateLimitError) as info:
        run(RetryPolicy(deadline=60.0), send, waits)
    assert info.value is fault
    assert send.calls == 1
    assert waits == []  # stop_before_delay counts the upcoming sleep


def test_retry_after_ending_exactly_at_the_deadline_is_not_waited_for(clock: FakeClock) -> None:
    send = ScriptedSend(rate_limited(**{"retry-after": "60"}))
    with pytest.raises(openai.RateLimitError):
        sync_retrying(RetryPolicy(deadline=60.0), sleep=clock.sleep)(send)
    assert send.calls == 1
    assert clock.waits == []


def test_retry_after_ending_just_before_the_deadline_is_waited_for(clock: FakeClock) -> None:
    send = ScriptedSend(rate_limited(**{"retry-after": "59"}))
    assert sync_retrying(RetryPolicy(deadline=60.0), sleep=clock.sleep)(send) is SENTINEL
    assert send.calls == 2
    assert clock.waits == [59.0]


def test_deadline_counts_the_time_already_spent_waiting(clock: FakeClock) -> None:
    # Waits 1, 2, 4 bring the clock to 7 s; the next wait (8 s) would end at 15 > 10.
    policy = RetryPolicy(max_attempts=10, jitter=0.0, deadline=10.0)
    send = ScriptedSend(*(status_error(503) for _ in range(9)))
    with pytest.raises(openai.InternalServerError):
        sync_retrying(policy, sleep=clock.sleep)(send)
    assert send.calls == 4
    assert clock.waits == [1.0, 2.0, 4.0]


def test_deadline_counts_the_time_spent_in_slow_requests(clock: FakeClock) -> None:
    # Each attempt times out after 25 s: 25 + 1, 51 + 2, then 78 + 4 is past the 60 s deadline.
    def slow() -> None:
        clock.now += 25.0

    policy = RetryPolicy(max_attempts=10, jitter=0.0, deadline=60.0)
    send = ScriptedSend(*(timeout() for _ in range(9)), on_call=slow)
    with pytest.raises(openai.APITimeoutError):
        sync_retrying(policy, sleep=clock.sleep)(send)
    assert send.calls == 3
    assert clock.waits == [1.0, 2.0]


def test_async_deadline_counts_the_time_already_spent_waiting(clock: FakeClock) -> None:
    policy = RetryPolicy(max_attempts=10, jitter=0.0, deadline=10.0)
    send = ScriptedSend(*(status_error(503) for _ in range(9)))

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)

    async def main() -> object:
        return await async_retrying(policy, sleep=sleep)(send.acall)

    with pytest.raises(openai.InternalServerError):
        asyncio.run(main())
    assert send.calls == 4
    assert clock.waits == [1.0, 2.0, 4.0]


# --- faults that are not retried --------------------------------------------------------------


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize(
    ("status", "sdk_class", "sitrep_class", "what"),
    [
        (401, openai.AuthenticationError, AuthenticationError, "refused the credentials (401)"),
        (403, openai.PermissionDeniedError, AuthenticationError, "refused the credentials (403)"),
        (400, openai.BadRequestError, BadRequestError, "rejected the request (400)"),
        (404, openai.NotFoundError, BadRequestError, "rejected the request (404)"),
        (422, openai.UnprocessableEntityError, BadRequestError, "rejected the request (422)"),
        (418, openai.APIStatusError, EndpointRejectedError, "answered 418"),
    ],
)
def test_rejection_is_not_retried_and_translates_with_the_servers_message(
    run: Runner,
    status: int,
    sdk_class: type[openai.APIStatusError],
    sitrep_class: type[EndpointRejectedError],
    what: str,
) -> None:
    fault = status_error(status, f"The server's own words for {status}.")
    assert type(fault) is sdk_class
    send, waits = ScriptedSend(fault), list[float]()
    with pytest.raises(sdk_class) as info:
        run(RetryPolicy(), send, waits)
    assert info.value is fault
    assert send.calls == 1
    assert waits == []
    error = translate(info.value, usage=TokenUsage(), request_ids=[])
    assert type(error) is sitrep_class
    assert isinstance(error, EndpointRejectedError)
    assert error.status_code == status
    assert str(error) == f"the endpoint {what}: The server's own words for {status}."


def test_translate_falls_back_to_the_sdk_message_when_the_body_has_none() -> None:
    response = httpx2.Response(400, text="<html>bad</html>", request=_request())
    fault = openai.BadRequestError("<html>bad</html>", response=response, body="<html>bad</html>")
    error = translate(fault, usage=TokenUsage(), request_ids=[])
    assert str(error) == "the endpoint rejected the request (400): <html>bad</html>"


def _invalid_output() -> pydantic.ValidationError:
    """What the re-ask layer handles: invalid output, never a transport fault."""
    try:
        pydantic.TypeAdapter(int).validate_python("three")
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("'three' validated as an int")


@pytest.mark.parametrize("run", RUNNERS)
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda: ValueError("not a transport fault"), id="ValueError"),
        pytest.param(_invalid_output, id="ValidationError"),
    ],
)
def test_non_sdk_exception_is_never_retried_and_propagates_unchanged(
    run: Runner, fault: Fault
) -> None:
    exc = fault()
    send, waits = ScriptedSend(exc, status_error(503)), list[float]()
    with pytest.raises(type(exc)) as info:
        run(RetryPolicy(), send, waits)
    assert info.value is exc
    assert send.calls == 1
    assert waits == []


def test_connection_error_caused_by_a_missing_recording_is_not_retried() -> None:
    fault = openai.APIConnectionError(request=_request())
    missing = ReplayError("no recorded response matches POST /v1/chat/completions")
    fault.__cause__ = missing
    send, waits = ScriptedSend(fault), list[float]()
    with pytest.raises(openai.APIConnectionError):
        run_sync(RetryPolicy(), send, waits)
    assert send.calls == 1
    assert waits == []
    assert translate(fault, usage=TokenUsage(), request_ids=[]) is missing


# --- is_transient ---------------------------------------------------------------------------


def _replay_miss() -> openai.APIConnectionError:
    exc = openai.APIConnectionError(request=_request())
    exc.__cause__ = ReplayError("no recording")
    return exc


def _generic_503() -> openai.APIStatusError:
    response = httpx2.Response(503, request=_request())
    return openai.APIStatusError("Error code: 503", response=response, body=None)


def _validation_error() -> openai.APIResponseValidationError:
    response = httpx2.Response(200, json={}, request=_request())
    return openai.APIResponseValidationError(response, body={})


@pytest.mark.parametrize(
    ("fault", "transient"),
    [
        pytest.param(lambda: status_error(408), True, id="408"),
        pytest.param(lambda: status_error(409), True, id="409-ConflictError"),
        pytest.param(rate_limited, True, id="429-RateLimitError"),
        pytest.param(lambda: status_error(500), True, id="500-InternalServerError"),
        pytest.param(lambda: status_error(502), True, id="502"),
        pytest.param(_generic_503, True, id="503-APIStatusError"),
        pytest.param(lambda: status_error(504), True, id="504"),
        pytest.param(lambda: status_error(529), True, id="529"),
        pytest.param(timeout, True, id="APITimeoutError"),
        pytest.param(connection_error, True, id="APIConnectionError"),
        pytest.param(
            lambda: StoppedEarlyError("the server stopped the answer early"),
            True,
            id="StoppedEarlyError",
        ),
        pytest.param(lambda: status_error(400), False, id="400"),
        pytest.param(lambda: status_error(401), False, id="401"),
        pytest.param(lambda: status_error(403), False, id="403"),
        pytest.param(lambda: status_error(404), False, id="404"),
        pytest.param(lambda: status_error(418), False, id="418"),
        pytest.param(lambda: status_error(422), False, id="422"),
        pytest.param(_replay_miss, False, id="connection-error-from-ReplayError"),
        pytest.param(_validation_error, False, id="APIResponseValidationError"),
        pytest.param(lambda: openai.OpenAIError("plain"), False, id="OpenAIError"),
        pytest.param(lambda: ValueError("x"), False, id="ValueError"),
        pytest.param(lambda: TimeoutError("x"), False, id="builtin-TimeoutError"),
    ],
)
def test_is_transient(fault: Fault, transient: bool) -> None:
    assert is_transient(fault()) is transient


# --- sync and async agree -------------------------------------------------------------------


def test_async_retrying_makes_the_same_calls_and_waits_as_sync() -> None:
    def script() -> ScriptedSend:
        return ScriptedSend(
            status_error(503), rate_limited(**{"retry-after": "7"}), timeout(), connection_error()
        )

    sync_send, sync_waits = script(), list[float]()
    async_send, async_waits = script(), list[float]()
    assert run_sync(NO_JITTER, sync_send, sync_waits) is SENTINEL
    assert run_async(NO_JITTER, async_send, async_waits) is SENTINEL
    assert sync_send.calls == async_send.calls == 5
    assert sync_waits == async_waits == [1.0, 7.0, 4.0, 8.0]


def test_async_retrying_sleeps_through_asyncio_sleep_by_default(no_sleep: list[float]) -> None:
    send = ScriptedSend(rate_limited(**{"retry-after": "7"}), status_error(503))

    async def main() -> object:
        return await async_retrying(NO_JITTER)(send.acall)

    assert asyncio.run(main()) is SENTINEL
    assert no_sleep == [7.0, 2.0]


def test_sync_retrying_sleeps_through_time_sleep_by_default(no_sleep: list[float]) -> None:
    send = ScriptedSend(rate_limited(**{"retry-after": "7"}), status_error(503))
    assert sync_retrying(NO_JITTER)(send) is SENTINEL
    assert no_sleep == [7.0, 2.0]


# --- translate carries what was spent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param(lambda: status_error(503), TransportError, id="transport"),
        pytest.param(lambda: status_error(401), AuthenticationError, id="rejected"),
    ],
)
def test_translate_carries_usage_and_request_ids(
    fault: Fault, kind: type[TransportError | AuthenticationError]
) -> None:
    exc = fault()
    assert isinstance(exc, openai.OpenAIError)
    usage = TokenUsage(prompt_tokens=120, completion_tokens=30, total_tokens=150)
    ids = ["req_first", "req_second"]
    error = translate(exc, usage=usage, request_ids=ids)
    assert type(error) is kind
    assert isinstance(error, TransportError | AuthenticationError)
    assert error.usage == usage
    assert error.request_ids == ids
    assert error.request_ids is not ids


# --- end to end through Extractor -------------------------------------------------------------

USAGE = {"prompt_tokens": 812, "completion_tokens": 301, "total_tokens": 1113}


def _completion_body() -> dict[str, Any]:
    arguments = json.dumps(json.loads(MORTAR_STRIKE.read_text("utf-8")), ensure_ascii=False)
    call = {
        "id": "call_transport_ok",
        "type": "function",
        "function": {"name": TOOL_NAME, "arguments": arguments},
    }
    message = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "annotations": [],
        "tool_calls": [call],
    }
    return {
        "id": "chatcmpl-transport-ok",
        "object": "chat.completion",
        "created": 1_735_689_600,
        "model": "gpt-4.1-mini-2025-04-14",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": USAGE,
        "service_tier": "default",
        "system_fingerprint": None,
    }


class Server:
    """Answers with the scripted responses in order and keeps every request it was sent."""

    def __init__(self, *responses: httpx2.Response) -> None:
        self._responses = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self._responses.pop(0)


def _server_error(status: int) -> httpx2.Response:
    return httpx2.Response(status, json={"error": _error_body("The server is overloaded.", status)})


def _ok() -> httpx2.Response:
    return httpx2.Response(200, json=_completion_body(), headers={"x-request-id": "req_ok"})


def _check_answer_and_calls(server: Server, result: Any, waits: list[float]) -> None:
    assert len(server.requests) == 3  # the SDK's own retries are off: each call is ours
    assert {r.headers["x-stainless-retry-count"] for r in server.requests} == {"0"}
    assert len({r.content for r in server.requests}) == 1  # the same request, resent
    sent = server.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer test-key-never-sent"
    body = json.loads(sent.content)
    assert body["model"] == "gpt-4.1-mini"
    assert body["tool_choice"] == {"type": "function", "function": {"name": TOOL_NAME}}
    assert [m["role"] for m in body["messages"]][-1] == "user"
    assert len(waits) == 2
    assert_backoff(waits, RetryPolicy())
    (incident,) = result.incidents
    assert (incident.munitions.launched, incident.munitions.impacted) == (3, 2)
    assert result.provenance.usage == TokenUsage(**USAGE)  # the failures carried no usage
    assert result.provenance.request_ids == ["req_ok"]
    assert result.provenance.reasks == 0


def test_extractor_retries_503_twice_then_succeeds(
    fault_article: Article, no_sleep: list[float]
) -> None:
    server = Server(_server_error(503), _server_error(503), _ok())
    http_client = httpx2.Client(transport=httpx2.MockTransport(server))
    extractor = Extractor(
        ModelConfig(model="gpt-4.1-mini"), api_key="test-key-never-sent", http_client=http_client
    )
    try:
        result = extractor.extract(fault_article)
    finally:
        extractor.close()
    _check_answer_and_calls(server, result, no_sleep)


def test_async_extractor_retries_503_twice_then_succeeds(
    fault_article: Article, no_sleep: list[float]
) -> None:
    server = Server(_server_error(503), _server_error(503), _ok())

    async def main() -> Any:
        http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(server))
        extractor = Extractor(
            ModelConfig(model="gpt-4.1-mini"),
            api_key="test-key-never-sent",
            async_http_client=http_client,
        )
        try:
            return await extractor.aextract(fault_article)
        finally:
            await extractor.aclose()

    result = asyncio.run(main())
    _check_answer_and_calls(server, result, no_sleep)


def test_extractor_gives_up_with_transport_error_after_max_attempts(
    fault_article: Article, no_sleep: list[float]
) -> None:
    server = Server(*(_server_error(502) for _ in range(3)))
    http_client = httpx2.Client(transport=httpx2.MockTransport(server))
    config = ModelConfig(model="gpt-4.1-mini", retry=RetryPolicy(max_attempts=3))
    extractor = Extractor(config, api_key="test-key-never-sent", http_client=http_client)
    try:
        with pytest.raises(TransportError) as info:
            extractor.extract(fault_article)
    finally:
        extractor.close()
    assert len(server.requests) == 3
    assert len(no_sleep) == 2
    assert str(info.value) == (
        "gave up after transport faults; last: HTTP 502: The server is overloaded."
    )
    assert info.value.usage == TokenUsage()
    assert info.value.request_ids == []
    assert isinstance(info.value.__cause__, openai.InternalServerError)


def test_extractor_401_raises_authentication_error_after_one_call(
    fault_article: Article, no_sleep: list[float]
) -> None:
    message = "Incorrect API key provided: test-key***sent."
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    server = Server(httpx2.Response(401, json=body, headers={"x-request-id": "req_401"}))
    http_client = httpx2.Client(transport=httpx2.MockTransport(server))
    extractor = Extractor(
        ModelConfig(model="gpt-4.1-mini"), api_key="test-key-never-sent", http_client=http_client
    )
    try:
        with pytest.raises(AuthenticationError) as info:
            extractor.extract(fault_article)
    finally:
        extractor.close()
    assert len(server.requests) == 1
    assert no_sleep == []
    error = info.value
    assert error.status_code == 401
    assert str(error) == f"the endpoint refused the credentials (401): {message}"
    assert error.usage == TokenUsage()
    assert isinstance(error.__cause__, openai.AuthenticationError)
