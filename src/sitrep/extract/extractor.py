"""One article in, typed records out: the extraction pipeline, driven interactively.

    article → request (`RequestBuilder`: prompts/, the draft's schema) → `ChatSender` (the send
    loop: transport retries, call log, cache) → answer → `Conversation` (parse, check and
    complete in code, or re-ask) → records with provenance

The pieces are public so that other senders can drive the same steps: a batch-file sender
builds requests with `RequestBuilder` and hands each answer to a `Conversation`. `extract` and
`aextract` are the same loop; they differ only where one blocks and the other awaits.
"""

from __future__ import annotations

from typing import Any

import httpx2

from sitrep.errors import ConfigurationError, ExtractionError
from sitrep.extract.conversation import Conversation, Reask
from sitrep.extract.prompts import PromptSet
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.model.schemas import schema_version
from sitrep.settings import ModelConfig
from sitrep.wire.calls import CallLog, CallTag, ResponseCache
from sitrep.wire.pacing import Pacer
from sitrep.wire.sender import ChatSender, Reply


class Extractor:
    """Extracts incidents and statistics from articles with one model configuration.

    Build one and reuse it: it holds the HTTP clients and the prepared request. `call_log`
    keeps every answer, error statuses included (a `sitrep.Ledger`, or anything with its
    `log_call`); `cache` answers a request already paid for; `pacer` bounds the async
    requests on the wire.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        api_key: str,
        prompts: PromptSet | None = None,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        call_log: CallLog | None = None,
        cache: ResponseCache | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        if not api_key:
            raise ConfigurationError(
                "an API key is required (any non-empty string for a server that does not check it)"
            )
        self.config = config
        self.requests = RequestBuilder(config, prompts)
        self._sender = ChatSender(
            config,
            api_key=api_key,
            http_client=http_client,
            async_http_client=async_http_client,
            call_log=call_log,
            cache=cache,
            pacer=pacer,
        )

    @property
    def prompts(self) -> PromptSet:
        return self.requests.prompts

    def extract(self, article: Article, *, fresh: bool = False) -> Extraction:
        """Extract one article, blocking. Raises an `ExtractionError` or `ArticleError`.

        `fresh` asks the endpoint even where the cache holds an answer to the same request.
        """
        conversation = self.start(article)
        tag = self._tag(article)
        while True:
            try:
                reply = self._sender.send(conversation.request, tag, fresh=fresh)
            except ExtractionError as exc:
                _charge(exc, conversation)
                raise
            if isinstance(step := _receive(conversation, reply), Extraction):
                return step

    async def aextract(self, article: Article, *, fresh: bool = False) -> Extraction:
        """Extract one article without blocking the event loop."""
        conversation = self.start(article)
        tag = self._tag(article)
        while True:
            try:
                reply = await self._sender.asend(conversation.request, tag, fresh=fresh)
            except ExtractionError as exc:
                _charge(exc, conversation)
                raise
            if isinstance(step := _receive(conversation, reply), Extraction):
                return step

    def start(self, article: Article) -> Conversation:
        """A conversation about `article`, its first request built."""
        return Conversation.for_article(article, self.requests)

    def request_for(self, article: Article) -> dict[str, Any]:
        """The chat completion request's arguments for `article`, as they will be sent."""
        return self.requests.build(article)

    def close(self) -> None:
        self._sender.close()

    async def aclose(self) -> None:
        await self._sender.aclose()

    def _tag(self, article: Article) -> CallTag:
        return CallTag(article.id, self.prompts.version, schema_version())


def _receive(conversation: Conversation, reply: Reply) -> Extraction | Reask:
    conversation.charge(reply.discarded, reply.discarded_ids)  # answers the server stopped early
    return conversation.receive(reply.body, request_id=reply.request_id)


def _charge(exc: ExtractionError, conversation: Conversation) -> None:
    """Make a send's error carry what the conversation's earlier answers cost too."""
    exc.usage = conversation.usage + exc.usage
    exc.request_ids = [*conversation.request_ids, *exc.request_ids]
