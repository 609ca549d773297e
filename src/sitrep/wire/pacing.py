"""Pacing a batch's requests: a bounded number on the wire at once, within rpm and tpm.

The send loop holds a `Pacer` passage for the HTTP exchange alone, not for the article around
it: while one article's answer is parsed and checked, or its retry waits out a backoff, the
next article's request, built in advance, takes its place on the wire at once. An idle
connection is not free either: the connection pool probes every idle socket each time it
assigns a request.

The token estimate a request reserves is its body's size in tokens plus the completion tokens
answers have been using lately (a moving average, starting at `expected_output_tokens`); the
rate limiter corrects it with the usage each answer reports.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from sitrep.model.usage import TokenUsage, estimate_tokens
from sitrep.wire.ratelimit import RateLimiter, Reservation

_AVERAGE_WEIGHT = 0.1  # weight of the latest answer in the moving average of completion tokens


class Pacer:
    def __init__(
        self,
        concurrency: int | None = None,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        expected_output_tokens: int = 1000,
    ) -> None:
        self._slots = asyncio.Semaphore(concurrency) if concurrency else None
        self._limiter = RateLimiter(rpm, tpm)
        self._expected_output = expected_output_tokens

    @property
    def rate_limited(self) -> int:
        """429s observed so far."""
        return self._limiter.rate_limited

    @contextlib.asynccontextmanager
    async def passage(self, body: bytes) -> AsyncIterator[Reservation]:
        """Hold a place on the wire for one request of these bytes."""
        async with self._slots or contextlib.nullcontext():
            # The slot before the limiter: a reservation is stamped when the request goes out.
            yield await self._limiter.acquire(estimate_tokens(body) + self._expected_output)

    def settle(
        self,
        reservation: Reservation,
        status: int,
        headers: Mapping[str, str],
        usage: TokenUsage | None,
    ) -> None:
        """Learn from the answer: the tokens it really used, a 429, the rate-limit headers."""
        if usage is not None:
            # Budget the next requests with what answers really use, not the first guess.
            self._expected_output = round(
                (1 - _AVERAGE_WEIGHT) * self._expected_output
                + _AVERAGE_WEIGHT * usage.completion_tokens
            )
        used = usage.prompt_tokens + usage.completion_tokens if usage is not None else 0
        self._limiter.settle(reservation, used)
        self._limiter.observe(status, headers)
