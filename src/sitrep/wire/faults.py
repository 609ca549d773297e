"""Transport faults: which failed HTTP calls are tried again, how long to wait, and what a
fault becomes once retrying has not cured it.

Only faults of the road are retried here: 408, 409, 429 (honouring Retry-After), 5xx, timeouts,
connection errors and answers the server stopped early (`StoppedEarlyError`, told by
`sitrep.wire.stops`), with jittered exponential backoff, a maximum number of attempts and a
total deadline (`RetryPolicy`). A request that timed out waiting for its answer is sent again
only where the policy says so (`ModelConfig.resends_timed_out`): a server that is still
computing it would only queue the copy behind the first. One that never connected is always
tried again. A 500 whose body says the request itself is invalid is not retried either
(`refuses_request`). Invalid output is never seen here; it is re-asked by the
conversation step (`sitrep.extract.conversation`), under its own budget. The openai SDK's own
retries are switched off so that this is the only layer. What retrying did not cure is
translated into the most specific `SitrepError` (`translate`); what became of a call that got no
answer at all is put in words for the call log (`unanswered_outcome`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime

import httpx2
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    nap,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from sitrep.errors import (
    AuthenticationError,
    BadRequestError,
    EndpointRejectedError,
    ReplayError,
    SitrepError,
    StoppedEarlyError,
    TransportError,
)
from sitrep.model.usage import TokenUsage
from sitrep.settings import RetryPolicy
from sitrep.wire.headers import retry_after_seconds

logger = logging.getLogger("sitrep")

_TRANSIENT_STATUS = frozenset({408, 409, 429})


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status is a fault of the road, worth trying the request again for."""
    return status in _TRANSIENT_STATUS or status >= 500


def is_transient(exc: BaseException, *, resend_timed_out: bool = True) -> bool:
    """Whether trying the same request again may succeed."""
    if isinstance(exc.__cause__, ReplayError):
        return False  # a missing recording stays missing
    if is_unanswered(exc):
        return resend_timed_out
    # Connect timeouts included; an early stop is the server's fault (`sitrep.wire.stops`).
    if isinstance(exc, openai.APIConnectionError | StoppedEarlyError):
        return True
    if isinstance(exc, openai.APIStatusError):
        if refuses_request(exc):
            return False
        return is_transient_status(exc.status_code)
    return False


def is_unanswered(exc: BaseException) -> bool:
    """Whether `exc` is a timeout after the request was sent: the server may still be at it."""
    return isinstance(exc, openai.APITimeoutError) and not isinstance(
        exc.__cause__, httpx2.ConnectTimeout
    )


# What servers write in a 500 that is about the request, not the server: llama.cpp's server
# answers a response_format it does not take with a 500 and a message like these.
_REFUSAL_MARKERS = (
    "not supported",
    "unsupported",
    "invalid request",
    "validation error",
    "is not allowed",
    "unrecognized",
)


def refuses_request(exc: openai.APIStatusError) -> bool:
    """Whether a 5xx answer says the request itself is wrong, so that sending it again is
    pointless. The message is the server's own; nothing else tells these apart."""
    if exc.status_code < 500:
        return False
    message = _server_message(exc).lower()
    return any(marker in message for marker in _REFUSAL_MARKERS)


# What a cause in the chain of an unanswered call's error says happened: the first match from
# the outside in. `{timeout}` is "timeout after <the request timeout> s", or "timed out".
_NO_ANSWER: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (ReplayError, "no recorded response matches (replay)"),
    (httpx2.ConnectTimeout, "connect {timeout}"),
    ((httpx2.TimeoutException, TimeoutError), "request {timeout}"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (socket.gaierror, "host name not resolved"),
    (httpx2.RemoteProtocolError, "the server closed the connection without answering"),
)


def unanswered_outcome(exc: openai.APIConnectionError, *, timeout: float | None = None) -> str:
    """What became of a request that got no HTTP answer, in words for the call log: "request
    timeout after 600 s", "connection refused", "connection reset"... `timeout` is the request
    timeout in seconds. Told from the exceptions' types, never their text, which may quote an
    address."""
    timed = f"timeout after {timeout:g} s" if timeout is not None else "timed out"
    causes = list(_causes(exc))
    for cause in causes:
        for kinds, outcome in _NO_ANSWER:
            if isinstance(cause, kinds):
                return outcome.format(timeout=timed)
    if isinstance(exc, openai.APITimeoutError):
        return f"request {timed}"
    if any(isinstance(cause, httpx2.ConnectError) for cause in causes):
        return "could not connect"
    inner = causes[-1]
    return f"connection error ({type(inner).__name__})" if inner is not exc else "connection error"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it was raised from or during, innermost last."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def retry_after(exc: BaseException, now: datetime | None = None) -> float | None:
    """Seconds the server asked to wait before retrying the call that raised `exc`, if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    return retry_after_seconds(exc.response.headers, now)


class wait_for_server(wait_base):  # noqa: N801  (tenacity's naming for wait strategies)
    """Wait as long as the server's Retry-After says; otherwise back off exponentially."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and (exc := outcome.exception()) is not None:
            asked = retry_after(exc)
            if asked is not None:
                return asked
        return float(self._backoff(retry_state))


def _log_retry(retry_state: RetryCallState) -> None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    logger.warning(
        "transport fault on attempt %d (%s); retrying in %.1f s",
        retry_state.attempt_number,
        _describe(exc),
        wait,
    )


def _stop(policy: RetryPolicy) -> stop_base:
    return stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.deadline)


def sync_retrying(
    policy: RetryPolicy,
    sleep: Callable[[float], None] = nap.sleep,
    *,
    resend_timed_out: bool = True,
) -> Retrying:
    """`sleep` is tenacity's, which looks up `time.sleep` at call time (tests patch that)."""
    return Retrying(
        sleep=sleep,
        retry=_retry_if_transient(resend_timed_out),
        wait=wait_for_server(policy),
        stop=_stop(policy),
        before_sleep=_log_retry,
        reraise=True,
    )


def async_retrying(
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    *,
    resend_timed_out: bool = True,
) -> AsyncRetrying:
    """With no `sleep`, `asyncio.sleep` is looked up at call time (tests patch that)."""
    return AsyncRetrying(
        sleep=sleep or _async_sleep,
        retry=_retry_if_transient(resend_timed_out),
        wait=wait_for_server(policy),
        stop=_stop(policy),
        before_sleep=_log_retry,
        reraise=True,
    )


def _retry_if_transient(resend_timed_out: bool) -> retry_if_exception:
    return retry_if_exception(lambda exc: is_transient(exc, resend_timed_out=resend_timed_out))


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def translate(
    exc: openai.OpenAIError,
    *,
    usage: TokenUsage | None = None,
    request_ids: Sequence[str] = (),
    timeout: float | None = None,
    resend_timed_out: bool = True,
) -> SitrepError:
    """The sitrep error for an SDK error that retrying did not (or could not) cure.

    `usage` and `request_ids` are what was spent before it, if the caller knows; `timeout` is
    the request timeout in seconds, for the message.
    """
    if isinstance(exc.__cause__, ReplayError):
        return exc.__cause__  # the SDK reports a transport's own error as a connection error
    if is_unanswered(exc) and not resend_timed_out:
        waited = f"within {timeout:g} s" if timeout is not None else "before the timeout"
        return TransportError(
            f"no answer {waited}; the request was not sent again, because the server may "
            "still be computing it and a copy would queue behind it: raise the request "
            "timeout (--timeout) for a slow server",
            usage=usage,
            request_ids=request_ids,
        )
    if isinstance(exc, openai.APIStatusError) and not is_transient(exc):
        status = exc.status_code
        kind: type[EndpointRejectedError] = EndpointRejectedError
        what = f"the endpoint answered {status}"
        if status in (401, 403):
            kind, what = AuthenticationError, f"the endpoint refused the credentials ({status})"
        elif status in (400, 404, 422) or refuses_request(exc):
            kind, what = BadRequestError, f"the endpoint rejected the request ({status})"
        message = _server_message(exc)
        if "response_format" in message:
            message += "; this server does not take the output mode asked for: try another --mode"
        return kind(
            f"{what}: {message}",
            status_code=status,
            usage=usage,
            request_ids=request_ids,
        )
    return TransportError(
        f"gave up after transport faults; last: {_describe(exc, timeout)}",
        usage=usage,
        request_ids=request_ids,
    )


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str):
            return message
    return exc.message


def _describe(exc: BaseException | None, timeout: float | None = None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_server_message(exc)}"
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return unanswered_outcome(exc, timeout=timeout)
    if isinstance(exc, StoppedEarlyError):
        return str(exc)
    return repr(exc)
