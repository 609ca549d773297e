"""Requests- and tokens-per-minute limits, kept on the client side of the wire.

Written here rather than taken from a library: the limiter has to count tokens before a request
is sent and correct the count with the usage that comes back, pause everything when a 429 names a
Retry-After, read OpenAI's `x-ratelimit-*` headers, and back off adaptively; the asyncio limiters
on PyPI (aiolimiter, for one) meter a single quantity with no way to correct or pause it.

The stated limits are a hard ceiling over a sliding window (60 s by default), which never exceeds
a server's sliding-window or token-bucket limit of the same size. Within it, requests are paced
evenly (a GCRA: at most a second's worth of either budget goes out at once), because OpenAI may
enforce a per-minute limit over shorter periods, and a minute's budget sent in one burst would be
refused. On a 429 every request waits out the Retry-After and the pace drops by a twentieth;
each success wins some of it back. Only the pace adapts: cutting the ceiling too would idle the
client until a twentieth of the window had drained, for every stray 429.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sitrep.wire.headers import parse_count, parse_reset, retry_after_seconds

_BACKOFF = 0.95  # share of the pace kept after a 429
_RECOVERY = 0.005  # share won back by each success, up to the full pace
_FLOOR = 0.25  # never slow below this share of the pace the stated limits allow
_DEFAULT_PAUSE = 1.0  # seconds, after a 429 that names no Retry-After
BURST = 1.0  # seconds of either budget that may be sent at once, ahead of the even pace


@dataclass(slots=True, eq=False)
class Reservation:
    """One request's place in the window; `tokens` is corrected once usage is known."""

    at: float
    tokens: int
    in_window: bool = True


class RateLimiter:
    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        *,
        window: float = 60.0,
        burst: float = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rpm, self.tpm, self.window, self.burst = rpm, tpm, window, burst
        self._clock = clock
        self._sent: deque[Reservation] = deque()
        self._tokens = 0  # tokens of the reservations still in the window
        self._share = 1.0
        self._paused_until = 0.0
        # When the pace would next let a request through, were there no burst allowance.
        self._requests_due = self._tokens_due = 0.0
        self._lock = asyncio.Lock()
        self.rate_limited = 0  # 429s observed

    async def acquire(self, tokens: int) -> Reservation:
        """Wait until a request of about `tokens` tokens fits in every limit, then reserve it."""
        async with self._lock:  # first come, first served
            while (wait := self._wait(tokens)) > 0:
                await asyncio.sleep(wait)
            if self.rpm is None and self.tpm is None:
                return Reservation(self._clock(), tokens, in_window=False)  # nothing to count
            now = self._clock()
            reservation = Reservation(now, tokens)
            self._sent.append(reservation)
            self._tokens += tokens
            if self.rpm is not None:
                self._requests_due = max(self._requests_due, now) + self._per_request()
            if self.tpm is not None:
                self._tokens_due = max(self._tokens_due, now) + tokens * self._per_token()
            return reservation

    def settle(self, reservation: Reservation, tokens: int) -> None:
        """Replace the estimate with the tokens the request really used."""
        if reservation.in_window:
            self._tokens += tokens - reservation.tokens
            if self.tpm is not None:
                self._tokens_due += (tokens - reservation.tokens) * self._per_token()
        reservation.tokens = tokens

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from a response: 429s and OpenAI's rate-limit headers."""
        now = self._clock()
        if status == 429:
            self.rate_limited += 1
            self._share = max(self._share * _BACKOFF, _FLOOR)
            seconds = retry_after_seconds(headers)
            self._pause(now + (seconds if seconds is not None else _DEFAULT_PAUSE))
            return
        if status < 400:
            self._share = min(self._share + _RECOVERY, 1.0)
        for kind in ("requests", "tokens"):
            if headers.get(f"x-ratelimit-remaining-{kind}") != "0":
                continue
            # OpenAI's reset is the time until the whole budget is back; with none left, the
            # next unit frees after about reset / limit.
            reset = parse_reset(headers.get(f"x-ratelimit-reset-{kind}"))
            limit = parse_count(headers.get(f"x-ratelimit-limit-{kind}"))
            self._pause(now + (reset / limit if limit else reset))

    @property
    def share(self) -> float:
        """The part of the pace the stated limits allow, after adaptive slow-downs."""
        return self._share

    def _pause(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)

    def _per_request(self) -> float:
        """Seconds between requests at the even pace the rpm allows."""
        assert self.rpm is not None
        return self.window / max(self.rpm * self._share, 1.0)

    def _per_token(self) -> float:
        assert self.tpm is not None
        return self.window / max(self.tpm * self._share, 1.0)

    def _wait(self, tokens: int) -> float:
        now = self._clock()
        while self._sent and self._sent[0].at <= now - self.window:
            expired = self._sent.popleft()
            expired.in_window = False
            self._tokens -= expired.tokens
        waits = [self._paused_until - now]
        if self.rpm is not None:
            waits.append(self._requests_due - self.burst - now)
            if len(self._sent) >= self.rpm:
                waits.append(self._sent[len(self._sent) - self.rpm].at + self.window - now)
        if self.tpm is not None:
            waits.append(self._tokens_due - self.burst - now)
        if self.tpm is not None and self._sent:
            excess = self._tokens + tokens - self.tpm
            for reservation in self._sent:  # the oldest reservations free their tokens first
                if excess <= 0:
                    break
                excess -= reservation.tokens
                waits.append(reservation.at + self.window - now)
        return max(waits)
