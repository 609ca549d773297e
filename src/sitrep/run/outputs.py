"""The batch's output files, written so that a crash never leaves a half or doubled record.

`incidents.jsonl`, `statistics.jsonl` and `articles.jsonl` (each extracted article: id, text,
publication date, source, url and title, so that later stages can show and check evidence
without the archive) are appended to as articles finish. The ledger keeps how many bytes of
each are committed, moved in the same transaction that marks the article done; on opening,
anything past that (a half-written line, the records of an article whose commit never
happened) is cut off, and that article is extracted again. `failures.jsonl` is small and
rewritten whole from the ledger at the end of every run, through a temporary file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from sitrep.errors import OutputError
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.run.ledger import Ledger

INCIDENTS = "incidents.jsonl"
STATISTICS = "statistics.jsonl"
ARTICLES = "articles.jsonl"
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
    """The appended outputs of one directory, each cut back to what the ledger committed."""

    def __init__(self, directory: Path, ledger: Ledger) -> None:
        self.directory = directory
        self.files = {
            name: AppendOnlyJsonl(directory / name, ledger.committed_bytes(name))
            for name in (INCIDENTS, STATISTICS, ARTICLES)
        }

    def append(self, article: Article, extraction: Extraction) -> dict[str, int]:
        """Append one article's records and text; return each file's new committed candidate.

        On a failed write, what was appended for this article is cut back off.
        """
        sizes = self.sizes()
        try:
            return {
                INCIDENTS: self.files[INCIDENTS].append(extraction.incidents),
                STATISTICS: self.files[STATISTICS].append(extraction.statistics),
                ARTICLES: self.files[ARTICLES].append([article]),
            }
        except BaseException:
            self.cut_back(sizes)
            raise

    def sizes(self) -> dict[str, int]:
        return {name: file.size for name, file in self.files.items()}

    def cut_back(self, sizes: Mapping[str, int]) -> None:
        """Drop what was written since `sizes()` was taken, if its commit failed."""
        for name, size in sizes.items():
            self.files[name].cut_back(size)

    def close(self) -> None:
        for file in self.files.values():
            file.close()


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


def read_objects(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of an output file, in order; nothing when it does not exist. A line
    that is not a JSON object is an `OutputError` naming the file and the line."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise OutputError(f"{path} line {number} is not JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise OutputError(f"{path} line {number} is not a JSON object")
            yield value
