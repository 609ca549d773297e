"""A small statistical CPU profiler: where the client process spends its CPU time.

py-spy is not installed here and cProfile's per-call overhead distorts a workload made of many
small calls, so this samples instead: SIGPROF fires every `interval` seconds of process CPU time
(ITIMER_PROF counts CPU, not waiting), and the handler records the Python stack it interrupted.
Time spent in C (sqlite, zlib, pydantic-core, the socket calls) is charged to the Python
function that called it, which is the attribution wanted here. Only the main thread is sampled;
the clients under test run everything on it.
"""

from __future__ import annotations

import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from types import FrameType
from typing import Any


def _package(filename: str) -> str:
    """The top-level package a file belongs to ("sitrep", "openai", "asyncio", ...)."""
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in filename:
            rest = filename.rsplit(marker, 1)[1]
            head = rest.split("/", 1)[0]
            return head.removesuffix(".py")
    return filename.rsplit("/", 1)[-1].removesuffix(".py")


def _name(frame: FrameType) -> str:
    code = frame.f_code
    return f"{_package(code.co_filename)}:{code.co_qualname}"


@dataclass
class Sampler:
    interval: float = 0.002  # seconds of CPU time between samples
    samples: int = 0
    own: Counter[str] = field(default_factory=Counter)  # the function running (leaf)
    inclusive: Counter[str] = field(default_factory=Counter)  # anywhere on the stack
    own_package: Counter[str] = field(default_factory=Counter)

    def _record(self, _signum: int, frame: FrameType | None) -> None:
        if frame is None:
            return
        self.samples += 1
        self.own[_name(frame)] += 1
        self.own_package[_package(frame.f_code.co_filename)] += 1
        seen: set[str] = set()
        current: FrameType | None = frame
        while current is not None:
            seen.add(_name(current))
            current = current.f_back
        self.inclusive.update(seen)

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._record)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)

    def report(self, top: int = 40) -> dict[str, Any]:
        """Shares of the sampled CPU time (0 to 1), the largest first."""
        total = max(self.samples, 1)

        def shares(counter: Counter[str]) -> list[tuple[str, float]]:
            return [(name, round(n / total, 4)) for name, n in counter.most_common(top)]

        return {
            "samples": self.samples,
            "interval_s": self.interval,
            "python": sys.version.split()[0],
            "own_by_package": shares(self.own_package),
            "own_by_function": shares(self.own),
            "inclusive_by_function": shares(self.inclusive),
            "inclusive_sitrep": [
                (name, round(n / total, 4))
                for name, n in self.inclusive.most_common()
                if name.startswith("sitrep:")
            ][:top],
        }
