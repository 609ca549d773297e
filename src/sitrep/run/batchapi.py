"""The OpenAI Files and Batch endpoints, as the Batch API path calls them.

    upload (purpose=batch) → create (/v1/chat/completions, 24h) → retrieve ... → the output
    and error files' content; cancel; find a batch made from an input file (the list)

Calls go through the openai SDK with its own retries off: transport faults (429, 5xx, timeouts,
resets) are retried by `sitrep.wire.faults` under the model configuration's `RetryPolicy`, as
chat completions are, and what retrying does not cure becomes the most specific `SitrepError`
(an `AuthenticationError` for a refused key). These are the run's errors, not an article's: the
run stops on them and the ledger keeps every step that was taken, for the next run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx2
import openai
from openai.types import Batch

from sitrep.run.batchfiles import CHAT_COMPLETIONS
from sitrep.settings import ModelConfig
from sitrep.wire.faults import async_retrying, translate

# Statuses a batch never leaves.
FINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
# Batches listed while looking for one made from an input file, newest first: a batch is
# looked for only just after its file was uploaded, so it is among the newest if it exists.
_LIST_LIMIT = 1000

Result = TypeVar("Result")


@dataclass(frozen=True, slots=True)
class BatchView:
    """What sitrep reads of a `Batch` object."""

    id: str
    status: str
    input_file_id: str
    output_file_id: str | None
    error_file_id: str | None
    total: int
    completed: int
    failed: int
    errors: tuple[str, ...]  # why a batch `failed` validation, line by line

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def of(cls, batch: Batch) -> BatchView:
        counts = batch.request_counts
        errors = batch.errors.data if batch.errors is not None and batch.errors.data else []
        return cls(
            id=batch.id,
            status=batch.status,
            input_file_id=batch.input_file_id,
            output_file_id=batch.output_file_id or None,
            error_file_id=batch.error_file_id or None,
            total=counts.total if counts else 0,
            completed=counts.completed if counts else 0,
            failed=counts.failed if counts else 0,
            errors=tuple(
                f"line {e.line}: {e.message}" if e.line is not None else str(e.message)
                for e in errors
            ),
        )


class BatchClient:
    """The endpoints of one model configuration's server, with transport retries."""

    def __init__(
        self,
        config: ModelConfig,
        *,
        api_key: str,
        completion_window: Literal["24h"] = "24h",
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._config = config
        self._window = completion_window
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=0,  # transport retries belong to sitrep.wire.faults alone
            http_client=http_client,
        )

    async def upload(self, name: str, content: bytes) -> str:
        """Upload a batch input file; its file id."""
        uploaded = await self._call(
            lambda: self._client.files.create(file=(name, content), purpose="batch")
        )
        return uploaded.id

    async def create(self, input_file_id: str, metadata: dict[str, str]) -> BatchView:
        batch = await self._call(
            lambda: self._client.batches.create(
                input_file_id=input_file_id,
                endpoint=CHAT_COMPLETIONS,
                completion_window=self._window,
                metadata=metadata,
            )
        )
        return BatchView.of(batch)

    async def retrieve(self, batch_id: str) -> BatchView:
        return BatchView.of(await self._call(lambda: self._client.batches.retrieve(batch_id)))

    async def cancel(self, batch_id: str) -> BatchView:
        """Cancel the batch; one that is finalizing or finished by then is left as it is."""

        async def cancel() -> Batch | None:
            try:
                return await self._client.batches.cancel(batch_id)
            except openai.ConflictError:
                return None  # 409: past cancelling, and asking again will not change that

        cancelled = await self._call(cancel)
        return BatchView.of(cancelled) if cancelled is not None else await self.retrieve(batch_id)

    async def find(self, input_file_id: str) -> BatchView | None:
        """The batch made from `input_file_id`, if the server has one: a run stopped between
        creating a batch and writing down its id finds it here instead of creating another."""

        async def look() -> Batch | None:
            seen = 0
            async for batch in self._client.batches.list(limit=100):
                if batch.input_file_id == input_file_id:
                    return batch
                seen += 1
                if seen >= _LIST_LIMIT:
                    break
            return None

        found = await self._call(look)
        return BatchView.of(found) if found is not None else None

    async def content(self, file_id: str) -> bytes:
        """The bytes of an output or error file."""
        response = await self._call(lambda: self._client.files.content(file_id))
        return response.content

    async def close(self) -> None:
        await self._client.close()

    async def _call(self, call: Callable[[], Awaitable[Result]]) -> Result:
        policy = self._config.retry
        try:
            async for attempt in async_retrying(policy):
                with attempt:
                    return await call()
        except openai.OpenAIError as exc:
            raise translate(exc, timeout=self._config.timeout) from exc
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover
