"""The call log: every model call the send loop makes, from the plain Python API as from a batch.

An `Extractor` given a `Ledger` logs each call with what it was for (article, model, prompt and
schema versions), its request hash (the hash of the bytes that went on the wire), status, usage,
latency and raw response; given it as a cache too, it answers a request already paid for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

import sitrep.run.ledger
from author_cassettes import Reply, answer, authored, error
from conftest import FAULT_ARTICLE
from sitrep.errors import AuthenticationError
from sitrep.extract.extractor import Extractor
from sitrep.model.article import Article
from sitrep.model.records import Extraction
from sitrep.model.schemas import schema_version
from sitrep.run.ledger import MIGRATIONS, Ledger
from sitrep.settings import ModelConfig
from sitrep.wire.calls import request_hash

CONFIG = ModelConfig(model="gpt-4.1-mini")
PATH = "/v1/chat/completions"
MORTAR = authored("mortar_strike")


class Endpoint:
    """Answers with the scripted replies in turn, keeping the raw bytes of every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.bodies.append(request.content)
        reply = self.replies.pop(0)
        return reply(request, f"log-{len(self.bodies)}")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def article() -> Article:
    return Article.from_file(FAULT_ARTICLE)


def extractor(endpoint: Endpoint, ledger: Ledger, *, cache: bool = False) -> Extractor:
    client = httpx2.Client(transport=httpx2.MockTransport(endpoint))
    return Extractor(
        CONFIG,
        api_key="test-key-never-sent",
        http_client=client,
        call_log=ledger,
        cache=ledger if cache else None,
    )


def test_extract_logs_its_call_with_what_it_was_for_and_the_hash_of_the_bytes_sent(
    ledger: Ledger, article: Article
) -> None:
    endpoint = Endpoint(MORTAR)
    made = extractor(endpoint, ledger)
    result = made.extract(article)
    (call,) = ledger.calls_for(article.id)
    (sent,) = endpoint.bodies
    assert call.request_hash == request_hash("POST", PATH, sent)
    assert (call.status, call.from_cache) == (200, False)
    assert (call.model, call.prompt_version, call.schema_version) == (
        "gpt-4.1-mini",
        made.prompts.version,
        schema_version(),
    )
    assert (call.prompt_tokens, call.completion_tokens) == (
        result.provenance.usage.prompt_tokens,
        result.provenance.usage.completion_tokens,
    )
    assert call.request_id == "req_authored_log-1"
    assert call.response is not None
    assert json.loads(call.response)["id"] == "chatcmpl-authored-log-1"
    assert call.latency_ms >= 0


def test_a_reask_is_a_second_call_with_its_own_hash(ledger: Ledger, article: Article) -> None:
    endpoint = Endpoint(answer('{"incidents": [{"summary": "Mortar'), MORTAR)
    result = extractor(endpoint, ledger).extract(article)
    assert result.provenance.reasks == 1
    calls = ledger.calls_for(article.id)
    assert [c.request_hash for c in calls] == [
        request_hash("POST", PATH, b) for b in endpoint.bodies
    ]
    assert len({c.request_hash for c in calls}) == 2


def test_a_refused_request_is_logged_with_its_status_before_the_error(
    ledger: Ledger, article: Article
) -> None:
    unauthorized = error(401, "invalid_request_error", "invalid_api_key", "Incorrect API key.")
    with pytest.raises(AuthenticationError):
        extractor(Endpoint(unauthorized), ledger).extract(article)
    (call,) = ledger.calls_for(article.id)
    assert (call.status, call.prompt_tokens, call.completion_tokens) == (401, None, None)
    assert call.response is not None
    assert b"Incorrect API key." in call.response


def test_async_extract_logs_the_same_call(ledger: Ledger, article: Article) -> None:
    endpoint = Endpoint(MORTAR)
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint))
    made = Extractor(CONFIG, api_key="k", async_http_client=client, call_log=ledger)

    async def main() -> None:
        await made.aextract(article)
        await made.aclose()

    asyncio.run(main())
    (call,) = ledger.calls_for(article.id)
    assert call.request_hash == request_hash("POST", PATH, endpoint.bodies[0])
    assert call.model == "gpt-4.1-mini"


def test_a_ledger_given_as_cache_answers_the_same_request_without_sending_it(
    ledger: Ledger, article: Article
) -> None:
    endpoint = Endpoint(MORTAR)
    made = extractor(endpoint, ledger, cache=True)
    first = made.extract(article)
    again = made.extract(article)
    assert len(endpoint.bodies) == 1

    def records(result: Extraction) -> list[dict[str, object]]:
        return [i.model_dump(exclude={"provenance"}) for i in result.incidents]

    assert records(again) == records(first)
    paid, cached = ledger.calls_for(article.id)
    assert (paid.from_cache, cached.from_cache) == (False, True)
    assert cached.request_hash == paid.request_hash


def test_fresh_asks_the_endpoint_even_when_the_cache_has_the_answer(
    ledger: Ledger, article: Article
) -> None:
    endpoint = Endpoint(MORTAR, MORTAR)
    made = extractor(endpoint, ledger, cache=True)
    made.extract(article)
    made.extract(article, fresh=True)
    assert len(endpoint.bodies) == 2
    assert [c.from_cache for c in ledger.calls_for(article.id)] == [False, False]


def test_a_ledger_from_before_the_call_versions_gains_them_and_keeps_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, article: Article
) -> None:
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", MIGRATIONS[:3])
    old = Ledger.open(tmp_path)
    old._db.execute(
        "INSERT INTO calls (article_id, request_hash, status, latency_ms, created_at) "
        "VALUES (?, 'h', 200, 1.0, '2026-01-01')",
        (article.id,),
    )
    old.close()
    monkeypatch.setattr(sitrep.run.ledger, "MIGRATIONS", MIGRATIONS)
    upgraded = Ledger.open(tmp_path)
    try:
        assert "0004_call_versions" in upgraded.migrations()
        assert upgraded.migrations() == [name for name, _ in MIGRATIONS]
        endpoint = Endpoint(MORTAR)
        extractor(endpoint, upgraded).extract(article)
        before, logged = upgraded.calls_for(article.id)
    finally:
        upgraded.close()
    assert (before.request_hash, before.model, before.prompt_version) == ("h", None, None)
    assert logged.model == "gpt-4.1-mini"
    assert logged.schema_version == schema_version()


def test_any_success_status_is_an_answer_not_only_200(ledger: Ledger, article: Article) -> None:
    def created(request: httpx2.Request, reply_id: str) -> httpx2.Response:
        answered = MORTAR(request, reply_id)
        return httpx2.Response(201, content=answered.content, headers=answered.headers)

    result = extractor(Endpoint(created), ledger).extract(article)
    assert len(result.incidents) == 1
    (call,) = ledger.calls_for(article.id)
    assert call.status == 201
    assert call.prompt_tokens == result.provenance.usage.prompt_tokens
