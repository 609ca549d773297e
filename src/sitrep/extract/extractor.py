"""One article in, typed records out: the extraction pipeline, driven interactively.

    article → request (`RequestBuilder`: prompts/, the draft's schema) → `ChatSender` (the send
    loop: transport retries, call log, cache) → answer → `Conversation` (parse, check and
    complete in code, or re-ask) → records with provenance

The pieces are public so that other senders can drive the same steps: a batch-file sender
builds requests with `RequestBuilder` and hands each answer to a `Conversation`. `extract` and
`aextract` are the same loop; they differ only where one blocks and the other awaits.

An article longer than one request can carry is read in overlapping chunks
(`RequestBuilder.chunks`): every chunk's request is built before any is sent, so a chunk that
cannot be sent fails the article before it costs anything; then the chunks are extracted one
after another, each its own `Conversation`, and their records joined
(`sitrep.extract.combine`). In sequence rather than all at once: a chunk that fails fails the
article, and the chunks after it are then never paid for, where chunks in flight would be
abandoned unaccounted; one article keeps at most one request on the wire, as the batch's
article slots assume; and `extract` and `aextract` send the same requests in the same order. A
failing chunk fails the article with the chunk named ("chunk 3 of 5 (characters
80,000-120,000): ..."), the usage and request ids of the chunks before it included.
"""

from __future__ import annotations

from typing import Any

import httpx2

from sitrep.errors import ConfigurationError, ExtractionError, SitrepError
from sitrep.extract.combine import combine_chunks
from sitrep.extract.conversation import Conversation, Reask
from sitrep.extract.prompts import PromptSet
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.model.schemas import schema_version
from sitrep.settings import ModelConfig
from sitrep.text.chunks import Chunk
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
        tag = self._tag(article)
        conversations = self.conversations(article)
        parts: list[tuple[Chunk, Extraction]] = []
        for conversation in conversations:
            try:
                parts.append((chunk_of(conversation), self._converse(conversation, tag, fresh)))
            except SitrepError as exc:
                name_failed_chunk(exc, conversation, parts)
                raise
        return join_chunks(article, parts)

    async def aextract(self, article: Article, *, fresh: bool = False) -> Extraction:
        """Extract one article without blocking the event loop."""
        tag = self._tag(article)
        conversations = self.conversations(article)
        parts: list[tuple[Chunk, Extraction]] = []
        for conversation in conversations:
            try:
                extraction = await self._aconverse(conversation, tag, fresh)
            except SitrepError as exc:
                name_failed_chunk(exc, conversation, parts)
                raise
            parts.append((chunk_of(conversation), extraction))
        return join_chunks(article, parts)

    def _converse(self, conversation: Conversation, tag: CallTag, fresh: bool) -> Extraction:
        while True:
            try:
                reply = self._sender.send(conversation.request, tag, fresh=fresh)
            except ExtractionError as exc:
                _charge(exc, conversation)
                raise
            if isinstance(step := _receive(conversation, reply), Extraction):
                return step

    async def _aconverse(self, conversation: Conversation, tag: CallTag, fresh: bool) -> Extraction:
        while True:
            try:
                reply = await self._sender.asend(conversation.request, tag, fresh=fresh)
            except ExtractionError as exc:
                _charge(exc, conversation)
                raise
            if isinstance(step := _receive(conversation, reply), Extraction):
                return step

    async def astep(self, conversation: Conversation, *, fresh: bool = False) -> Extraction | Reask:
        """Send `conversation.request` once and hand the answer to the conversation: for a
        sender that takes only some requests here (the Batch API path's re-asks)."""
        try:
            reply = await self._sender.asend(
                conversation.request, self._tag(conversation.article), fresh=fresh
            )
        except ExtractionError as exc:
            _charge(exc, conversation)
            raise
        return _receive(conversation, reply)

    def start(self, article: Article) -> Conversation:
        """A conversation about `article`, its first request built: the whole article's, or
        the first chunk's of one too long for one request (see `conversations`)."""
        return self.conversations(article)[0]

    def chunks(self, article: Article) -> list[Chunk]:
        """How `article` is sent: one chunk when one request can carry it (RequestBuilder)."""
        return self.requests.chunks(article)

    def conversations(self, article: Article) -> list[Conversation]:
        """One conversation per chunk of `article`, every first request built: one, the same as
        ever, for an article that fits one request. Raises `ArticleError` if any cannot be
        sent, naming the chunk."""
        chunks = self.requests.chunks(article)
        if len(chunks) == 1:
            return [Conversation.for_article(article, self.requests)]
        conversations = []
        for chunk in chunks:
            try:
                conversations.append(Conversation.for_article(article, self.requests, chunk))
            except SitrepError as exc:
                _relabel(exc, chunk)
                raise
        return conversations

    def request_for(self, article: Article) -> dict[str, Any]:
        """The chat completion request's arguments for `article` read whole, as they will be
        sent when it fits one request; a longer one is sent as `conversations` build it."""
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


def chunk_of(conversation: Conversation) -> Chunk:
    """The chunk a conversation read: the whole text when the article was not split."""
    if conversation.chunk is not None:
        return conversation.chunk
    return Chunk(1, 1, 0, len(conversation.article.text))


def join_chunks(article: Article, parts: list[tuple[Chunk, Extraction]]) -> Extraction:
    """The article's extraction from its chunks' (`combine_chunks`), or its one request's."""
    if len(parts) == 1:
        return parts[0][1]  # an article read whole, its records as the answer gave them
    return combine_chunks(article.id, parts)


def name_failed_chunk(
    exc: SitrepError, conversation: Conversation, done: list[tuple[Chunk, Extraction]]
) -> None:
    """Make a chunk's error the article's: the chunk named, the chunks before it charged."""
    if conversation.chunk is None:
        return  # the article was read whole
    if isinstance(exc, ExtractionError):
        for _, extraction in reversed(done):
            exc.usage = extraction.provenance.usage + exc.usage
            exc.request_ids = [*extraction.provenance.request_ids, *exc.request_ids]
    _relabel(exc, conversation.chunk)


def _relabel(exc: SitrepError, chunk: Chunk) -> None:
    """Name `chunk` in the error's message; its type and details stay as they are."""
    exc.args = (f"{chunk.label}: {exc}", *exc.args[1:])
