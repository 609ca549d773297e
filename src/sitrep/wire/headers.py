"""What an endpoint's response headers say about waiting: the one reader of each header.

`Retry-After` comes in two forms (RFC 9110): a number of seconds, or an HTTP date. OpenAI also
sends `retry-after-ms`, preferred when present because it is exact, and `x-ratelimit-reset-*`
durations such as "6m0s". The retry layer and the rate limiter read them through these
functions alike, so a date-form 429 pauses both for the same time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_UNKNOWN_RESET = 1.0  # seconds assumed when a reset duration is missing or malformed


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asked to wait, from `retry-after-ms` or `Retry-After`, if any.

    `now` is the wall-clock time a date-form value is counted from (the current time if None).
    """
    millis = parse_seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = parse_seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 5322 reads "-0000" and a missing zone as UTC
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def parse_seconds(value: str | None) -> float | None:
    """A finite, non-negative number of seconds, or None for anything else ("nan", "soon")."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return max(number, 0.0) if math.isfinite(number) else None


def parse_count(value: str | None) -> int | None:
    """A whole number such as `x-ratelimit-limit-requests`, or None."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_reset(value: str | None) -> float:
    """OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s") in seconds; 1 s if unreadable."""
    if not value:
        return _UNKNOWN_RESET
    total, number = 0.0, ""
    i = 0
    while i < len(value):
        char = value[i]
        if char.isdigit() or char == ".":
            number += char
            i += 1
            continue
        unit = "ms" if value.startswith("ms", i) else char
        if unit not in _UNITS or not number:
            return _UNKNOWN_RESET
        try:
            total += float(number) * _UNITS[unit]
        except ValueError:  # "1.2.3s"
            return _UNKNOWN_RESET
        number = ""
        i += len(unit)
    try:
        return total + (float(number) if number else 0.0)
    except ValueError:
        return _UNKNOWN_RESET
