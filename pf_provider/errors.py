"""One exception hierarchy under :class:`ProbableFuturesError`.

Messages name what to fix and never carry a client secret or a token: they end up in
orchestrator logs and UIs that many people can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ProbableFuturesError(Exception):
    """Base class of every error pf-provider raises."""

    def __reduce__(self) -> Any:
        # Pickled as its message and attributes, not by calling __init__ again: orchestrators
        # pickle errors across processes, and some __init__s take other arguments than ``args``.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[ProbableFuturesError], args: tuple[Any, ...], state: dict[str, Any]) -> ProbableFuturesError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidInputError(ProbableFuturesError, ValueError):
    """The caller's input is wrong; raised before any request is sent."""


class ConfigurationError(InvalidInputError):
    """The client or connection is configured in a way that cannot work (URL, timeouts)."""


class AuthenticationError(ProbableFuturesError):
    """The credentials were refused or no usable token could be obtained."""

    def __init__(self, message: str, *, client_id: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.client_id = client_id
        self.status_code = status_code


class PermissionDeniedError(AuthenticationError):
    """The token is valid but lacks the scope the call needs (HTTP 403)."""


class RateLimitError(ProbableFuturesError):
    """The API's rate limit was hit and the retry budget ran out."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TransportError(ProbableFuturesError):
    """The request did not complete: connection failure, timeout, or a 5xx after retries."""

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class InvalidResponseError(ProbableFuturesError):
    """The server answered something that is not what the API documents."""


@dataclass(frozen=True)
class GraphQLErrorDetail:
    """One entry of a GraphQL ``errors`` member."""

    message: str
    path: tuple[str | int, ...] | None = None
    code: str | None = None
    locations: tuple[tuple[int, int], ...] | None = None

    @classmethod
    def from_json(cls, raw: Any) -> GraphQLErrorDetail:
        if not isinstance(raw, dict):
            return cls(message=str(raw))
        extensions = raw.get("extensions")
        code = None
        if isinstance(extensions, dict):
            exception = extensions.get("exception")
            if isinstance(exception, dict) and exception.get("code") is not None:
                code = str(exception["code"])
            elif extensions.get("code") is not None:
                code = str(extensions["code"])
        path = raw.get("path")
        locations = raw.get("locations")
        return cls(
            message=str(raw.get("message", "")),
            path=tuple(path) if isinstance(path, list) else None,
            code=code,
            locations=(
                tuple(loc for loc in map(_line_column, locations) if loc is not None)
                if isinstance(locations, list)
                else None
            ),
        )

    def __str__(self) -> str:
        text = self.message
        if self.path:
            text += f" (path: {'.'.join(str(p) for p in self.path)})"
        if self.code:
            text += f" [code: {self.code}]"
        return text


def _line_column(raw: Any) -> tuple[int, int] | None:
    """One error location, or None when the server sent something else there."""
    if not isinstance(raw, dict):
        return None
    try:
        return int(raw.get("line", 0)), int(raw.get("column", 0))
    except (TypeError, ValueError, OverflowError):
        return None


class GraphQLError(ProbableFuturesError):
    """The server answered with a GraphQL ``errors`` member.

    ``errors`` holds every entry; ``data`` holds whatever partial data came with them,
    so nothing the server did return is lost.
    """

    def __init__(self, errors: list[GraphQLErrorDetail], *, data: Any = None, index: int | None = None):
        self.errors = errors
        self.data = data
        self.index = index
        prefix = f"operation {index}: " if index is not None else ""
        super().__init__(prefix + "; ".join(str(e) for e in errors) if errors else prefix + "GraphQL error")

    @property
    def messages(self) -> list[str]:
        return [e.message for e in self.errors]

    @property
    def codes(self) -> list[str | None]:
        return [e.code for e in self.errors]


class BatchError(GraphQLError):
    """Some operations of a batch failed.

    ``results`` has one entry per operation, in order: the ``data`` of each operation that
    succeeded and ``None`` for each that failed; ``failures`` maps each failed index to its
    :class:`GraphQLError`.
    """

    def __init__(self, results: list[Any], failures: dict[int, GraphQLError]):
        self.results = results
        self.failures = failures
        details = [detail for failure in failures.values() for detail in failure.errors]
        super().__init__(details)
        indexes = ", ".join(str(i) for i in sorted(failures))
        first = failures[min(failures)]
        self.args = (
            f"{len(failures)} of {len(results)} batched operations failed (indexes {indexes}); first: {first}",
        )
