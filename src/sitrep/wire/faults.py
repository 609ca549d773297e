"""Transport faults: which failed HTTP calls are tried again, how long to wait, and what a
fault becomes once retrying has not cured it.

Only faults of the road are retried here: 408, 409, 429 (honouring Retry-After), 5xx, timeouts
and connection errors, with jittered exponential backoff, a maximum number of attempts and a
total deadline (`RetryPolicy`). Invalid output is never seen here; it is re-asked by the
conversation step (`sitrep.extract.conversation`), under its own budget. The openai SDK's own
retries are switched off so that this is the only layer. What retrying did not cure is
translated into the most specific `SitrepError` (`translate`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

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
    TransportError,
)
from sitrep.model.usage import TokenUsage
from sitrep.settings import RetryPolicy
from sitrep.wire.headers import retry_after_seconds

logger = logging.getLogger("sitrep")

_TRANSIENT_STATUS = frozenset({408, 409, 429})


def is_transient(exc: BaseException) -> bool:
    """Whether trying the same request again may succeed."""
    if isinstance(exc.__cause__, ReplayError):
        return False  # a missing recording stays missing
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _TRANSIENT_STATUS or exc.status_code >= 500
    return False


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


def sync_retrying(policy: RetryPolicy, sleep: Callable[[float], None] = nap.sleep) -> Retrying:
    """`sleep` is tenacity's, which looks up `time.sleep` at call time (tests patch that)."""
    return Retrying(
        sleep=sleep,
        retry=retry_if_exception(is_transient),
        wait=wait_for_server(policy),
        stop=_stop(policy),
        before_sleep=_log_retry,
        reraise=True,
    )


def async_retrying(
    policy: RetryPolicy, sleep: Callable[[float], Awaitable[None]] | None = None
) -> AsyncRetrying:
    """With no `sleep`, `asyncio.sleep` is looked up at call time (tests patch that)."""
    return AsyncRetrying(
        sleep=sleep or _async_sleep,
        retry=retry_if_exception(is_transient),
        wait=wait_for_server(policy),
        stop=_stop(policy),
        before_sleep=_log_retry,
        reraise=True,
    )


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def translate(
    exc: openai.OpenAIError,
    *,
    usage: TokenUsage | None = None,
    request_ids: Sequence[str] = (),
) -> SitrepError:
    """The sitrep error for an SDK error that retrying did not (or could not) cure.

    `usage` and `request_ids` are what was spent before it, if the caller knows.
    """
    if isinstance(exc.__cause__, ReplayError):
        return exc.__cause__  # the SDK reports a transport's own error as a connection error
    if isinstance(exc, openai.APIStatusError) and not is_transient(exc):
        status = exc.status_code
        kind: type[EndpointRejectedError] = EndpointRejectedError
        what = f"the endpoint answered {status}"
        if status in (401, 403):
            kind, what = AuthenticationError, f"the endpoint refused the credentials ({status})"
        elif status in (400, 404, 422):
            kind, what = BadRequestError, f"the endpoint rejected the request ({status})"
        return kind(
            f"{what}: {_server_message(exc)}",
            status_code=status,
            usage=usage,
            request_ids=request_ids,
        )
    return TransportError(
        f"gave up after transport faults; last: {_describe(exc)}",
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


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_server_message(exc)}"
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc}"
    return repr(exc)
