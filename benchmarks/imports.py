"""How long importing sitrep takes, each statement in a fresh interpreter.

    python benchmarks/imports.py            # 9 runs of each statement, medians in ms
    python benchmarks/imports.py --runs 21

`import sitrep` loads each public name on first use, so it should cost little; reading records
loads pydantic and the models; the extractor and the batch load the openai SDK, instructor and
the HTTP stack. `python -X importtime -c "import sitrep"` shows the same per module.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

STATEMENTS = (
    "import sitrep",
    "from sitrep import Incident, Extraction",
    "from sitrep import Extractor, run_batch",
)
_TIMED = (
    "import time\n"
    "began = time.perf_counter()\n"
    "{statement}\n"
    "print((time.perf_counter() - began) * 1000)\n"
)


def time_once(statement: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(statement=statement)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args(argv).runs
    for statement in STATEMENTS:
        times = [time_once(statement) for _ in range(runs)]
        print(
            f"{statement:45} median {statistics.median(times):7.1f} ms "
            f"(range {min(times):.1f}-{max(times):.1f}, {runs} runs)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
