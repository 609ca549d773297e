"""Exceptions raised by sitrep. Every one derives from `SitrepError`.

    SitrepError
    ├── ConfigurationError        settings that cannot work (unknown mode, missing key)
    ├── ArticleError              an article that cannot be processed: empty, binary, text in
    │   │                         no encoding sitrep can tell, too long, or with an
    │   │                         unreadable publication date
    │   └── ContextOverflowError  its request cannot fit the model's context window
    ├── ReplayError               no recorded response matches a request (replay mode)
    ├── OutputError               a batch's output files disagree with its ledger, or another
    │                             run is writing to them
    ├── EvaluationError           a gold set or run directory that cannot be scored: unreadable,
    │                             not JSON, a record the record models reject, a duplicate article
    ├── MergeError                a run's incidents or events that cannot be merged: unreadable,
    │                             not records, an unknown event id
    └── ExtractionError           a model call did not yield records
        ├── EndpointRejectedError the endpoint refused the request; retrying cannot help
        │   ├── AuthenticationError   401 or 403: the key is missing, wrong or not allowed
        │   └── BadRequestError       400, 404, 422: the request or model name is wrong
        ├── TransportError        429s, 5xx, timeouts or resets outlasted the retry budget,
        │   │                     a timed-out request was not sent again, or the endpoint's
        │   │                     answer was not a chat completion
        │   └── StoppedEarlyError the server ended answers at "length" far below the output
        │                         cap and the context window, every time it was asked
        ├── RefusalError          the model declined to answer
        ├── TruncatedOutputError  the answer was cut off: by the output cap (finish_reason
        │                         "length" at the cap, or every allowed output token used),
        │                         by a full context window, or at a limit its usage leaves
        │                         unnamed
        └── InvalidOutputError    the output was still invalid once the re-ask budget was spent

Errors from the openai SDK are wrapped at the boundary (`raise ... from exc`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sitrep.model.usage import TokenUsage


class SitrepError(Exception):
    """Base class of every sitrep error."""


class ConfigurationError(SitrepError):
    pass


class ArticleError(SitrepError):
    pass


class ContextOverflowError(ArticleError):
    pass


class ReplayError(SitrepError):
    pass


class OutputError(SitrepError):
    pass


class EvaluationError(SitrepError):
    """Gold or a run that cannot be scored. `problems` holds one message per fault found,
    each naming its file, line and the path of the value inside the record."""

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class MergeError(SitrepError):
    pass


class ExtractionError(SitrepError):
    """A model call failed. Carries what was spent before it did."""

    def __init__(
        self,
        message: str,
        *,
        usage: TokenUsage | None = None,
        request_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.usage = usage or TokenUsage()
        self.request_ids = list(request_ids)


class EndpointRejectedError(ExtractionError):
    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        usage: TokenUsage | None = None,
        request_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message, usage=usage, request_ids=request_ids)
        self.status_code = status_code


class AuthenticationError(EndpointRejectedError):
    pass


class BadRequestError(EndpointRejectedError):
    pass


class TransportError(ExtractionError):
    pass


class StoppedEarlyError(TransportError):
    """The server ended an answer at "length" though neither the output cap nor the context
    window was near: a server fault, sent again like a 5xx (`sitrep.wire.stops`)."""


class RefusalError(ExtractionError):
    pass


class TruncatedOutputError(ExtractionError):
    pass


class InvalidOutputError(ExtractionError):
    """The re-ask budget is spent. `problems` holds the last attempt's validation messages."""

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[str],
        usage: TokenUsage | None = None,
        request_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message, usage=usage, request_ids=request_ids)
        self.problems = list(problems)
