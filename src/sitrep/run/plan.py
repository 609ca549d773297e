"""The dry run: what a batch would send and cost, counted without sending anything.

Requests are built exactly as the run would build them (`RequestBuilder`), with no client and
no key: one per article, or one per chunk of an article too long for one request. Prompt tokens
are counted with the model's tokenizer when tiktoken can load it, else estimated
(`sitrep.run.budget.token_counter`).

The cost is given twice: as if nothing were cached, and with prompt caching, where every
request after the first has its static prefix (everything before the article: the schema, the
system message, the user message up to the article's date) served from the cache, by OpenAI's
rule (`sitrep.model.usage.cacheable_tokens`: 1,024 tokens at least, in 128-token increments).
That is an estimate: a cache entry lasts minutes, and a server that has none caches nothing.

Both are given again at Batch API prices (`Price.for_batch`: every rate at its batch share,
half at OpenAI), from the same tokens: what the run costs sent as batch files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sitrep.errors import ArticleError, ContextOverflowError
from sitrep.extract.request import RequestBuilder
from sitrep.model.article import Article
from sitrep.model.usage import cacheable_tokens
from sitrep.run.budget import price_for, token_counter
from sitrep.run.ledger import LEDGER_NAME, ArticleStatus, Ledger
from sitrep.run.readers import InputItem, most_first
from sitrep.settings import BatchOptions, ModelConfig

# Chat formatting adds a few tokens per message around the contents counted.
_MESSAGE_OVERHEAD = 8


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a run would send, counted without sending anything."""

    articles: int  # would be extracted
    unreadable: int  # would fail before any request
    over_context: int  # among the unreadable: requests too long for the model's context window
    already_done: int  # finished in an earlier run into the same directory
    requests: int  # one per article, or per chunk of a long one (re-asks cannot be foreseen)
    chunked: int  # among the articles: those too long for one request, sent in chunks
    prompt_tokens: int
    completion_tokens: int  # expected: `expected_output_tokens` per request
    cost: float | None  # None when the model has no price
    exact_tokens: bool
    # Of prompt_tokens, those the prompt cache would serve: the static prefix of every request
    # after the first (`cacheable_tokens`), and the cost with them at the cached rate.
    cacheable_tokens: int = 0
    cost_cached: float | None = None  # counted with the model's tokenizer, not estimated
    # The same two at Batch API prices (None without a price).
    cost_batch: float | None = None
    cost_batch_cached: float | None = None
    not_read: Mapping[str, int] = field(default_factory=dict)  # by kind, most first


def plan_batch(
    inputs: Iterable[InputItem | Article],
    config: ModelConfig,
    *,
    out_dir: Path | None = None,
    options: BatchOptions | None = None,
) -> BatchPlan:
    """Count the articles, tokens and cost a run would take, sending nothing."""
    options = options or BatchOptions()
    count, exact = token_counter(config.model)
    builder = RequestBuilder(config)
    fixed = count(json.dumps(builder.static)) + count(builder.system)
    prefix = cacheable_tokens(fixed + count(builder.user_prefix) + _MESSAGE_OVERHEAD)
    ledger = Ledger(out_dir / LEDGER_NAME) if out_dir and (out_dir / LEDGER_NAME).exists() else None
    articles = unreadable = over_context = done = prompt = requests = chunked = 0
    not_read: Counter[str] = Counter()
    try:
        for raw in inputs:
            item = raw if isinstance(raw, InputItem) else InputItem.from_article(raw)
            if item.skipped is not None:
                not_read[item.skipped] += 1
                continue
            row = ledger.get(item.id) if ledger else None
            if row is not None and row.status is ArticleStatus.DONE:
                done += 1
            elif item.article is None:
                unreadable += 1
            else:
                try:
                    users = _user_messages(builder, item.article)
                except ArticleError as exc:
                    unreadable += 1
                    over_context += isinstance(exc, ContextOverflowError)
                    continue
                articles += 1
                requests += len(users)
                chunked += len(users) > 1
                prompt += sum(fixed + count(user) + _MESSAGE_OVERHEAD for user in users)
    finally:
        if ledger is not None:
            ledger.close()
    # No answer runs past the cap, whatever is expected of it.
    completion = requests * min(options.expected_output_tokens, config.max_output_tokens)
    price = price_for(config.model, options.prices)
    # The first request writes the prefix to the cache; every one after reads it there.
    cached = prefix * max(requests - 1, 0)
    batch = price.for_batch() if price else None
    return BatchPlan(
        articles=articles,
        unreadable=unreadable,
        over_context=over_context,
        already_done=done,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=price.cost(prompt, completion) if price else None,
        exact_tokens=exact,
        cacheable_tokens=cached,
        cost_cached=price.cost(prompt, completion, cached) if price else None,
        cost_batch=batch.cost(prompt, completion) if batch else None,
        cost_batch_cached=batch.cost(prompt, completion, cached) if batch else None,
        requests=requests,
        chunked=chunked,
        not_read=most_first(not_read),
    )


def _user_messages(requests: RequestBuilder, article: Article) -> list[str]:
    """The user message of each request the run would send first for `article`."""
    chunks = requests.chunks(article)
    if len(chunks) == 1:
        return [requests.build(article)["messages"][-1]["content"]]
    return [requests.build(article, chunk)["messages"][-1]["content"] for chunk in chunks]
