"""The conversation step: one article's exchange with the model, with no I/O of its own.

    Conversation(article, first request) → `request` (send it) → `receive(answer)` →
        the records (`Extraction`), or a `Reask` whose request is to be sent next, or an error

An answer is the JSON body of a chat completion, however it arrived: from the interactive
sender, a cassette, or a line of a batch output file. It is parsed by instructor's handler for
the output mode (`sitrep.extract.instructor_api`) and checked and completed in code
(`sitrep.extract.assemble`). An answer that fails parsing or a check is re-asked: the answer and
its precise problems are appended to the conversation (`sitrep.extract.reask`). Re-asks have
their own small budget (`ModelConfig.reask_budget`) and never see transport faults, which the
sender retries before an answer reaches this step. Refusals, truncated answers (cut by the output
cap or a full context window, told apart by the usage: `sitrep.wire.stops`), answers the server
stopped early and bodies with no choice to read are not re-asked: no re-ask can mend them. Nor
is a re-ask sent that cannot fit the model's context window: the output is invalid, and the
reason says why it stays so. A long article is several conversations, one per chunk
(`RequestBuilder.chunks`), each checked against its own chunk and joined by
`sitrep.extract.combine`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic
from openai.types.chat import ChatCompletion

from sitrep._version import __version__
from sitrep.errors import (
    InvalidOutputError,
    RefusalError,
    StoppedEarlyError,
    TransportError,
    TruncatedOutputError,
)
from sitrep.extract.assemble import DraftRejectedError, assemble
from sitrep.extract.instructor_api import PARSE_ERRORS, AnswerParser
from sitrep.extract.reask import reask_request
from sitrep.extract.request import RequestBuilder, context_overflow
from sitrep.model.article import Article
from sitrep.model.drafts import DraftExtraction
from sitrep.model.records import Extraction, Provenance
from sitrep.model.schemas import schema_version
from sitrep.model.usage import TokenUsage, usage_from_body
from sitrep.settings import ModelConfig
from sitrep.text.chunks import Chunk
from sitrep.wire.stops import StopKind, length_stop


@dataclass(frozen=True, slots=True)
class Reask:
    """The answer was invalid: send `request` next. `problems` says what was wrong."""

    request: dict[str, Any]
    problems: list[str]


class Conversation:
    """One article's exchange with the model, across re-asks, or one chunk's of a long article.

    `request` is always the next request to send. `usage` and `request_ids` count every
    answer received, re-asks included.
    """

    def __init__(
        self,
        article: Article,
        request: dict[str, Any],
        *,
        config: ModelConfig,
        prompt_version: str,
        chunk: Chunk | None = None,
    ) -> None:
        self.article = article
        self.chunk = chunk
        self.request = request
        self.usage = TokenUsage()
        self.request_ids: list[str] = []
        self.reasks = 0
        self._config = config
        self._prompt_version = prompt_version
        self._parser = AnswerParser.for_mode(config.mode)

    @classmethod
    def for_article(
        cls, article: Article, requests: RequestBuilder, chunk: Chunk | None = None
    ) -> Conversation:
        """A conversation about `article` (or one of its `requests.chunks`), its first request
        built by `requests`, whose model configuration and prompt version it then keeps to."""
        return cls(
            article,
            requests.build(article, chunk),
            config=requests.config,
            prompt_version=requests.prompts.version,
            chunk=chunk,
        )

    def spent(self) -> dict[str, Any]:
        """What the answers so far cost, as the keyword arguments of an `ExtractionError`."""
        return {"usage": self.usage, "request_ids": list(self.request_ids)}

    def charge(self, usage: TokenUsage, request_ids: Sequence[str] = ()) -> None:
        """Count answers to `request` that were paid for and not used: those the send loop got
        back stopped early by the server, and sent the request again for."""
        self.usage = self.usage + usage
        self.request_ids.extend(request_ids)

    def receive(
        self, answer: Mapping[str, Any], *, request_id: str | None = None
    ) -> Extraction | Reask:
        """Take the answer to `request`: records if it passes, a `Reask` if not; raises an
        `ExtractionError` when no re-ask can help or the re-ask budget is spent."""
        usage = self._account(answer, request_id or answer.get("id"))
        self._reject_malformed(answer)
        completion = ChatCompletion.model_construct(**answer)
        self._reject_unusable(completion, usage)
        try:
            draft = self._parser.parse(completion, DraftExtraction)
            return assemble(draft, self.article, self._provenance(), self.chunk)
        except (*PARSE_ERRORS, DraftRejectedError) as exc:
            problems = _problems(exc)
            if self.reasks >= self._config.reask_budget:
                raise InvalidOutputError(
                    f"output still invalid after {self.reasks} re-ask(s): {_first_line(exc)}",
                    problems=problems,
                    **self.spent(),
                ) from exc
            reask = reask_request(
                self.request,
                answer["choices"][0].get("message") or {},
                problems,
                style=self._config.reask_as,
            )
            if (overflow := context_overflow(reask, self._config)) is not None:
                raise InvalidOutputError(
                    f"output invalid ({_first_line(exc)}), and the re-ask cannot be sent: "
                    f"{overflow}",
                    problems=problems,
                    **self.spent(),
                ) from exc
            self.reasks += 1
            self.request = reask
            return Reask(self.request, problems)

    def _account(self, answer: Mapping[str, Any], request_id: object) -> TokenUsage | None:
        """Count the answer's usage and id; return its usage, if the server sent any."""
        usage = usage_from_body(answer)
        if usage is not None:
            self.usage = self.usage + usage
        if isinstance(request_id, str) and request_id:
            self.request_ids.append(request_id)
        return usage

    def _reject_malformed(self, answer: Mapping[str, Any]) -> None:
        """A body with no choice to read is the endpoint's fault, not the model's: no re-ask."""
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            shown = json.dumps(answer, ensure_ascii=False)[:200]
            raise TransportError(
                f"the endpoint's answer is not a chat completion with a choice: {shown}",
                **self.spent(),
            )

    def _reject_unusable(self, completion: ChatCompletion, usage: TokenUsage | None) -> None:
        """Answers that no re-ask can mend: refusals, truncation and early stops.

        An answer that used every output token allowed is cut off whatever its finish_reason
        says: some servers report a forced function call as "tool_calls" even when the cap
        stopped it, and re-asking would only send the broken answer back.
        """
        choice = completion.choices[0]
        if choice.message.refusal:
            raise RefusalError(f"the model refused: {choice.message.refusal}", **self.spent())
        if choice.finish_reason == "content_filter":
            raise RefusalError("the endpoint's content filter stopped the answer", **self.spent())
        if choice.finish_reason == "length":
            # Which limit it was, from the usage (`sitrep.wire.stops`). An early stop is the
            # server's fault: the send loop sends the request again before the answer gets
            # here, so one that arrives all the same is reported as the transport fault it is.
            stop = length_stop(usage, self._config)
            fault = StoppedEarlyError if stop.kind is StopKind.EARLY else TruncatedOutputError
            raise fault(stop.reason(), **self.spent())
        cap = self._config.max_output_tokens
        if usage is not None and usage.completion_tokens >= cap:
            raise TruncatedOutputError(
                f"the answer used all {cap} output tokens allowed, so it was cut off (the "
                f"server said finish_reason {choice.finish_reason!r}); raise "
                "ModelConfig.max_output_tokens",
                **self.spent(),
            )

    def _provenance(self) -> Provenance:
        return Provenance(
            article_id=self.article.id,
            model=self._config.model,
            prompt_version=self._prompt_version,
            schema_version=schema_version(),
            request_ids=list(self.request_ids),
            usage=self.usage,
            reasks=self.reasks,
            chunks=self.chunk.count if self.chunk is not None else 1,
            extracted_at=datetime.now(UTC),
            sitrep_version=__version__,
        )


def _problems(exc: Exception) -> list[str]:
    if isinstance(exc, DraftRejectedError):
        return exc.problems
    if isinstance(exc, pydantic.ValidationError):
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return [str(exc)]


def _first_line(exc: Exception) -> str:
    problems = _problems(exc)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more if problems else type(exc).__name__
