"""Which limit ended an answer whose finish_reason is "length", read from its usage.

"length" says that a limit ended the answer, not which one. The usage tells them apart:

    completion tokens at the output cap                   → cut by the cap         (`CAP`)
    prompt + completion tokens at the context window      → the window filled      (`WINDOW`)
    far below the cap, and the window not reached or
    not known                                             → the server stopped it  (`EARLY`)
    no usage in the answer                                → cut off, limit unnamed (`UNKNOWN`)

A cut and a full window are the request's own doing: sending it again gets the same answer,
so the conversation step fails the article with the reason (`TruncatedOutputError`). An early
stop is the server's fault, like a 5xx: the send loop sends the same request again as a
transport fault, within the retry policy (`sitrep.wire.sender`, `sitrep.wire.faults`), and an
answer that reaches the conversation step stopped early anyway raises `StoppedEarlyError`, a
`TransportError`. Neither ever spends a re-ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sitrep.model.usage import TokenUsage, usage_from_body
from sitrep.settings import ModelConfig

# How close to a limit an answer must come to count as stopped by it: within 5%. A server
# counts its limits in its own tokens, which can differ from the usage it reports by the few
# tokens a chat template adds (a start token, a tool-call wrapper, an end of turn), and a
# window given in round figures is a few percent off the model's (8,000 for 8,192 is 2.3%).
# An early stop is far from both: a wider margin would only call a rare one at 95-100% of a
# limit a cut, whose advice (raise that limit) is harmless; a narrower one would send again,
# up to the retry budget, answers that a limit really did stop.
NEAR_LIMIT = 0.05


class StopKind(Enum):
    CAP = "cap"
    WINDOW = "window"
    EARLY = "early"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LengthStop:
    """Why an answer ended at "length": the kind, and the numbers it was told by."""

    kind: StopKind
    usage: TokenUsage | None
    cap: int
    window: int | None

    def reason(self) -> str:
        """The stop in words, with its numbers and what to change."""
        cap = self.cap
        if self.usage is None:
            return (
                f"the answer was cut off (finish_reason 'length'), and the server sent no usage "
                f"to tell which limit stopped it: the output cap is {cap:,} tokens; raise "
                "max_output_tokens, or send less (the compact prompt profile, shorter articles)"
            )
        prompt, completion = self.usage.prompt_tokens, self.usage.completion_tokens
        total = prompt + completion
        if self.kind is StopKind.CAP:
            return (
                f"the answer was cut off at the output cap: {completion:,} of {cap:,} output "
                "tokens used (finish_reason 'length'); raise max_output_tokens"
            )
        if self.kind is StopKind.WINDOW and self.window is not None:
            past = " sitrep was given" if total > self.window else ""
            return (
                f"the context window filled: the prompt's {prompt:,} tokens and the answer's "
                f"{completion:,} make {total:,}, at the {self.window:,}-token window{past} "
                f"(finish_reason 'length', the output cap of {cap:,} not reached); send less "
                "(the compact prompt profile, shorter articles or chunks), or give the model's "
                "true context window if it is larger"
            )
        return f"the server stopped the answer early: {self.figures()}"

    def figures(self) -> str:
        """The usage beside the limits, in words."""
        if self.usage is None:
            return f"finish_reason 'length', no usage, an output cap of {self.cap:,} tokens"
        completion = self.usage.completion_tokens
        total = self.usage.prompt_tokens + completion
        window = (
            f"far from the {self.window:,}-token context window"
            if self.window is not None
            else "the context window not known"
        )
        return (
            f"finish_reason 'length' after {completion:,} of {self.cap:,} output tokens, "
            f"{total:,} tokens in all, {window}"
        )


def length_stop(usage: TokenUsage | None, config: ModelConfig) -> LengthStop:
    """Which limit ended an answer that stopped at "length", given its usage (None if the
    server sent none)."""
    cap, window = config.max_output_tokens, config.context_tokens
    if usage is None:
        kind = StopKind.UNKNOWN
    elif _reaches(usage.completion_tokens, cap):
        kind = StopKind.CAP
    elif window is not None and _reaches(usage.prompt_tokens + usage.completion_tokens, window):
        kind = StopKind.WINDOW
    else:
        kind = StopKind.EARLY
    return LengthStop(kind, usage, cap, window)


def stopped_early(body: Mapping[str, Any], config: ModelConfig) -> LengthStop | None:
    """The stop of a chat completion's JSON body if its server stopped it early; None for every
    other answer, a malformed one included (the conversation step names what is wrong)."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        return None
    if choices[0].get("finish_reason") != "length":
        return None
    stop = length_stop(usage_from_body(body), config)
    return stop if stop.kind is StopKind.EARLY else None


def _reaches(used: int, limit: int) -> bool:
    return used >= limit * (1 - NEAR_LIMIT)
