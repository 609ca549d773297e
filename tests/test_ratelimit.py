"""The rate limiter, on a fake clock: sliding-window RPM/TPM, settling, pauses and back-off."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import TypeVar

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitrep.settings import RetryPolicy
from sitrep.wire.faults import sync_retrying
from sitrep.wire.headers import parse_reset
from sitrep.wire.ratelimit import RateLimiter, Reservation

T = TypeVar("T")
WHOLE_WINDOW = 60.0  # a burst allowance of the whole window: no pacing, the window alone binds
_real_sleep = asyncio.sleep


class FakeTime:
    """A clock that only moves when the limiter sleeps (or a test says so)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await _real_sleep(0)  # still let other tasks run


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr("sitrep.wire.ratelimit.asyncio.sleep", fake.sleep)
    return fake


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()

    return asyncio.run(main())


def acquire_at(limiter: RateLimiter, clock: FakeTime, at: float, tokens: int = 1) -> Reservation:
    clock.now = at
    return run(lambda: limiter.acquire(tokens))


def test_fourth_request_under_rpm_3_waits_until_the_first_leaves_the_window(
    clock: FakeTime,
) -> None:
    limiter = RateLimiter(rpm=3, burst=WHOLE_WINDOW, clock=clock)
    times = [acquire_at(limiter, clock, at).at for at in (0.0, 10.0, 20.0)]
    assert clock.waits == []
    fourth = acquire_at(limiter, clock, 30.0)
    assert clock.waits == [30.0]
    assert [*times, fourth.at] == [0.0, 10.0, 20.0, 60.0]


def test_third_request_of_40_tokens_under_tpm_100_waits(clock: FakeTime) -> None:
    limiter = RateLimiter(tpm=100, burst=WHOLE_WINDOW, clock=clock)
    acquire_at(limiter, clock, 0.0, 40)
    acquire_at(limiter, clock, 5.0, 40)
    assert clock.waits == []
    third = acquire_at(limiter, clock, 10.0, 40)
    assert clock.waits == [50.0]
    assert third.at == 60.0


def test_settling_a_reservation_lower_lets_the_next_request_through_at_once(
    clock: FakeTime,
) -> None:
    limiter = RateLimiter(tpm=100, burst=WHOLE_WINDOW, clock=clock)
    first = acquire_at(limiter, clock, 0.0, 40)
    acquire_at(limiter, clock, 5.0, 40)
    limiter.settle(first, 10)
    assert first.tokens == 10
    third = acquire_at(limiter, clock, 10.0, 40)
    assert (clock.waits, third.at) == ([], 10.0)


def test_settling_a_reservation_higher_delays_the_next_request(clock: FakeTime) -> None:
    limiter = RateLimiter(tpm=100, clock=clock)
    first = acquire_at(limiter, clock, 0.0, 40)
    limiter.settle(first, 90)
    second = acquire_at(limiter, clock, 10.0, 40)
    assert (clock.waits, second.at) == ([50.0], 60.0)


def test_settling_a_reservation_that_left_the_window_changes_nothing(clock: FakeTime) -> None:
    limiter = RateLimiter(tpm=100, clock=clock)
    old = acquire_at(limiter, clock, 0.0, 40)
    acquire_at(limiter, clock, 70.0, 60)  # pushes `old` out of the window
    limiter.settle(old, 5)
    acquire_at(limiter, clock, 71.0, 41)
    assert clock.waits == [59.0]  # 60 + 41 > 100 still: the stale settle freed nothing


def test_429_with_retry_after_pauses_the_next_acquire_and_cuts_share_by_a_twentieth(
    clock: FakeTime,
) -> None:
    limiter = RateLimiter(rpm=100, clock=clock)
    clock.now = 100.0
    limiter.observe(429, {"retry-after": "5"})
    assert limiter.share == pytest.approx(0.95)
    assert limiter.rate_limited == 1
    reservation = acquire_at(limiter, clock, 100.0)
    assert (clock.waits, reservation.at) == ([5.0], 105.0)


def test_date_form_retry_after_pauses_the_limiter_and_the_retry_layer_alike(
    clock: FakeTime,
) -> None:
    """RFC 9110's other form, an HTTP date 30 s ahead: both layers wait until that date."""
    asked = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    response = httpx2.Response(
        429,
        headers={"retry-after": format_datetime(asked, usegmt=True)},
        request=httpx2.Request("POST", "https://api.openai.com/v1/chat/completions"),
    )
    faults = [openai.RateLimitError("Rate limit reached", response=response, body=None)]

    def send() -> str:
        if faults:
            raise faults.pop()
        return "answered"

    retry_waits: list[float] = []
    assert sync_retrying(RetryPolicy(jitter=0.0), sleep=retry_waits.append)(send) == "answered"
    limiter = RateLimiter(clock=clock)
    limiter.observe(429, response.headers)
    acquire_at(limiter, clock, 0.0)
    (retry_wait,) = retry_waits
    (limiter_wait,) = clock.waits
    assert 28.0 <= retry_wait <= 30.0
    assert limiter_wait == pytest.approx(retry_wait, abs=1.0)


def test_429_without_retry_after_pauses_one_second(clock: FakeTime) -> None:
    limiter = RateLimiter(clock=clock)
    limiter.observe(429, {})
    acquire_at(limiter, clock, 0.0)
    assert clock.waits == [1.0]


def test_retry_after_ms_is_preferred_to_retry_after(clock: FakeTime) -> None:
    limiter = RateLimiter(clock=clock)
    limiter.observe(429, {"retry-after-ms": "1500", "retry-after": "30"})
    acquire_at(limiter, clock, 0.0)
    assert clock.waits == [1.5]


def test_repeated_429s_never_take_share_below_the_floor(clock: FakeTime) -> None:
    limiter = RateLimiter(rpm=100, clock=clock)
    shares = []
    for _ in range(30):
        limiter.observe(429, {"retry-after": "0"})
        shares.append(limiter.share)
    assert min(shares) == 0.25
    assert shares[-1] == 0.25
    assert shares == sorted(shares, reverse=True)
    assert limiter.rate_limited == 30


def test_successes_win_share_back_gradually_up_to_the_full_limit(clock: FakeTime) -> None:
    limiter = RateLimiter(rpm=100, clock=clock)
    limiter.observe(429, {"retry-after": "0"})
    limiter.observe(200, {})
    assert limiter.share == pytest.approx(0.955)
    for _ in range(200):
        limiter.observe(200, {})
    assert limiter.share == 1.0
    limiter.observe(500, {})  # an error is not a success
    assert limiter.share == 1.0


def test_a_429_slows_the_pace_but_leaves_the_window_ceiling_at_the_stated_limit(
    clock: FakeTime,
) -> None:
    limiter = RateLimiter(rpm=10, burst=WHOLE_WINDOW, clock=clock)
    limiter.observe(429, {"retry-after": "0"})
    for at in range(10):
        acquire_at(limiter, clock, float(at))
    assert clock.waits == []
    eleventh = acquire_at(limiter, clock, 10.0)
    assert (clock.waits, eleventh.at) == ([50.0], 60.0)


def test_remaining_requests_zero_pauses_until_the_stated_reset(clock: FakeTime) -> None:
    limiter = RateLimiter(clock=clock)
    clock.now = 10.0
    limiter.observe(
        200, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s"}
    )
    reservation = acquire_at(limiter, clock, 10.0)
    assert (clock.waits, reservation.at) == ([1.5], 11.5)


def test_remaining_tokens_zero_pauses_until_the_stated_reset(clock: FakeTime) -> None:
    limiter = RateLimiter(clock=clock)
    limiter.observe(
        200,
        {
            "x-ratelimit-remaining-requests": "5",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": "6m0s",
        },
    )
    acquire_at(limiter, clock, 0.0)
    assert clock.waits == [360.0]


def acquire_many(limiter: RateLimiter, count: int, tokens: int = 1) -> list[float]:
    async def many() -> list[float]:
        return [(await limiter.acquire(tokens)).at for _ in range(count)]

    return run(many)


def test_requests_go_out_at_an_even_pace_after_a_one_second_burst(clock: FakeTime) -> None:
    limiter = RateLimiter(rpm=120, clock=clock)  # one every 0.5 s
    assert acquire_many(limiter, 7) == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0]


def test_tokens_go_out_at_an_even_pace_after_a_one_second_burst(clock: FakeTime) -> None:
    limiter = RateLimiter(tpm=6000, clock=clock)  # 100 tokens a second
    assert acquire_many(limiter, 6, tokens=50) == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]


def test_settling_a_reservation_lower_brings_the_token_pace_forward(clock: FakeTime) -> None:
    limiter = RateLimiter(tpm=6000, clock=clock)
    first = acquire_at(limiter, clock, 0.0, 300)  # 3 s of the pace, as estimated
    limiter.settle(first, 50)  # 0.5 s, as used
    second = acquire_at(limiter, clock, 0.0, 50)
    assert (clock.waits, second.at) == ([], 0.0)


def test_a_429_slows_the_pace_by_the_cut_in_share(clock: FakeTime) -> None:
    limiter = RateLimiter(rpm=120, clock=clock)
    limiter.observe(429, {"retry-after": "0"})
    times = acquire_many(limiter, 5)
    assert times[-1] - times[-2] == pytest.approx(0.5 / 0.95)


def test_pacing_still_uses_the_whole_budget_over_three_minutes(clock: FakeTime) -> None:
    limiter = RateLimiter(rpm=1000, tpm=60_000, clock=clock)
    times = acquire_many(limiter, 2100, tokens=90)  # tokens bind: 666 requests a minute
    sent = [t for t in times if t < 180.0]
    assert len(sent) >= 0.99 * 3 * 666, len(sent)
    assert all(sum(start <= t < start + 60 for t in times) <= 666 for start in times[::50])


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("1s", 1.0),
        ("5m30s", 330.0),
        ("2", 2.0),
        ("garbage", 1.0),
        ("-1s", 1.0),
        ("s", 1.0),
        ("", 1.0),
        (None, 1.0),
    ],
)
def test_duration_parses_openai_reset_durations(value: str | None, seconds: float) -> None:
    assert parse_reset(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["1.2.3s", ".s", "."])
def test_duration_of_malformed_numbers_falls_back_to_one_second(value: str) -> None:
    assert parse_reset(value) == 1.0


def test_a_limiter_without_limits_never_waits(clock: FakeTime) -> None:
    limiter = RateLimiter(clock=clock)

    async def many() -> list[Reservation]:
        return [await limiter.acquire(1_000_000) for _ in range(500)]

    reservations = run(many)
    assert clock.waits == []
    assert len(reservations) == 500
    assert {r.at for r in reservations} == {0.0}


def test_waiting_requests_are_served_in_arrival_order(clock: FakeTime) -> None:
    limiter = RateLimiter(tpm=100, burst=WHOLE_WINDOW, clock=clock)
    served: list[str] = []

    async def request(name: str, tokens: int) -> Reservation:
        reservation = await limiter.acquire(tokens)
        served.append(name)
        return reservation

    async def contend() -> list[Reservation]:
        await limiter.acquire(60)
        # "small" would fit at once, but arrived after "big", which must wait for the window.
        return list(
            await asyncio.gather(request("big", 60), request("small", 10), request("last", 20))
        )

    big, small, last = run(contend)
    assert served == ["big", "small", "last"]
    assert (big.at, small.at, last.at) == (60.0, 60.0, 60.0)
    assert clock.waits == [60.0]


def windows(reservations: list[Reservation], window: float) -> Iterator[list[Reservation]]:
    """Every window [t, t + window) that starts at a reservation: the fullest ones among all."""
    for start in reservations:
        yield [r for r in reservations if start.at <= r.at < start.at + window]


@settings(max_examples=60, deadline=None)
@given(
    rpm=st.integers(1, 6),
    tpm=st.integers(50, 400),
    steps=st.lists(
        st.tuples(st.integers(1, 400), st.floats(0, 45, allow_nan=False)),
        min_size=1,
        max_size=25,
    ),
)
def test_no_window_ever_holds_more_than_rpm_requests_or_tpm_tokens(
    rpm: int, tpm: int, steps: list[tuple[int, float]]
) -> None:
    fake = FakeTime(1000.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sitrep.wire.ratelimit.asyncio.sleep", fake.sleep)
        limiter = RateLimiter(rpm=rpm, tpm=tpm, clock=fake)

        async def drive() -> list[Reservation]:
            sent = []
            for tokens, gap in steps:
                fake.now += gap
                sent.append(await limiter.acquire(min(tokens, tpm)))
            return sent

        reservations = run(drive)
    assert [r.at for r in reservations] == sorted(r.at for r in reservations)
    for held in windows(reservations, 60.0):
        assert len(held) <= rpm
        assert sum(r.tokens for r in held) <= tpm
