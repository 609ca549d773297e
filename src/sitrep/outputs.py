"""The batch's output files, written so that a crash never leaves a half or doubled record.

`incidents.jsonl` and `statistics.jsonl` are appended to as articles finish. The ledger keeps
how many bytes of each are committed, moved in the same transaction that marks the article
done; on opening, anything past that (a half-written line, the records of an article whose
commit never happened) is cut off, and that article is extracted again. `failures.jsonl` is
small and rewritten whole from the ledger at the end of every run, through a temporary file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from sitrep.errors import OutputError
from sitrep.ledger import Ledger

INCIDENTS = "incidents.jsonl"
STATISTICS = "statistics.jsonl"
FAILURES = "failures.jsonl"


class AppendOnlyJsonl:
    """One JSON Lines file, cut back to its committed length when opened."""

    def __init__(self, path: Path, committed: int) -> None:
        self.path = path
        with path.open("ab"):
            pass  # exists from here on, even when nothing is ever written
        size = path.stat().st_size
        if size < committed:
            raise OutputError(
                f"{path} has {size:,} bytes but the ledger committed {committed:,}: it was "
                "truncated or replaced; restore it, or use a new output directory"
            )
        if size > committed:
            os.truncate(path, committed)  # a half-written or uncommitted tail
        self._file: IO[bytes] = path.open("ab")
        self.size = committed

    def append(self, records: Iterable[BaseModel]) -> int:
        """Write the records and flush them to the OS; return the new committed candidate size."""
        data = b"".join(r.model_dump_json().encode() + b"\n" for r in records)
        if data:
            self._file.write(data)
            self._file.flush()
            self.size += len(data)
        return self.size

    def close(self) -> None:
        self._file.close()


class Outputs:
    def __init__(self, directory: Path, ledger: Ledger) -> None:
        self.directory = directory
        self.incidents = AppendOnlyJsonl(directory / INCIDENTS, ledger.committed_bytes(INCIDENTS))
        self.statistics = AppendOnlyJsonl(
            directory / STATISTICS, ledger.committed_bytes(STATISTICS)
        )

    def close(self) -> None:
        self.incidents.close()
        self.statistics.close()


def write_failures(directory: Path, ledger: Ledger) -> int:
    """Rewrite failures.jsonl from the ledger; return how many failures it lists."""
    path = directory / FAILURES
    partial = path.with_suffix(".jsonl.partial")
    count = 0
    with partial.open("w", encoding="utf-8") as stream:
        for row in ledger.failures():
            failure = {
                "article_id": row.id,
                "location": row.location,
                "error_kind": row.error_kind,
                "reason": row.error,
                "attempts": row.attempts,
            }
            stream.write(json.dumps(failure, ensure_ascii=False) + "\n")
            count += 1
    os.replace(partial, path)
    return count
