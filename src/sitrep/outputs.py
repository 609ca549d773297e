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
        # Unbuffered, so that bytes that failed to be written are never written later.
        self._file: IO[bytes] = path.open("ab", buffering=0)
        self.size = committed

    def append(self, records: Iterable[BaseModel]) -> int:
        """Hand the records to the OS; return the new committed candidate size.

        A write that fails (a full disk) is cut back off before the error goes on: the bytes
        of the next article must start where the committed ones end.
        """
        data = memoryview(b"".join(r.model_dump_json().encode() + b"\n" for r in records))
        try:
            written = 0
            while written < len(data):  # a raw write may take only part
                written += self._file.write(data[written:]) or 0
        except BaseException:
            self.cut_back(self.size)
            raise
        self.size += len(data)
        return self.size

    def cut_back(self, size: int) -> None:
        """Drop everything past `size`; appending goes on from there."""
        os.truncate(self.path, size)
        self.size = size

    def close(self) -> None:
        self._file.close()


class Outputs:
    def __init__(self, directory: Path, ledger: Ledger) -> None:
        self.directory = directory
        self.incidents = AppendOnlyJsonl(directory / INCIDENTS, ledger.committed_bytes(INCIDENTS))
        self.statistics = AppendOnlyJsonl(
            directory / STATISTICS, ledger.committed_bytes(STATISTICS)
        )

    def sizes(self) -> tuple[int, int]:
        return self.incidents.size, self.statistics.size

    def cut_back(self, sizes: tuple[int, int]) -> None:
        """Drop the records written since `sizes()` was taken, if their commit failed."""
        self.incidents.cut_back(sizes[0])
        self.statistics.cut_back(sizes[1])

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
