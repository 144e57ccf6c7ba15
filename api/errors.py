"""The API's error codes and the one boundary where any failure becomes a GraphQL error.

    ApiError (a GraphQLError with ``extensions.code``)
    ├── NotFound            NOT_FOUND             an unknown id; the field is null
    ├── BadUserInput        BAD_USER_INPUT        an argument out of range (e.g. page size)
    ├── Forbidden           FORBIDDEN             the API key's role does not allow this field
    ├── Conflict            CONFLICT              an idempotency key (``eventId``, ``idempotencyKey``) already
    │                                             names other content, or a session belongs to someone else
    └── ServiceUnavailable  SERVICE_UNAVAILABLE   the database cannot be reached (or no connection is free)

A statement the database stopped at its time limit (``CUSTOMER_GRAPH_STATEMENT_TIMEOUT``) answers
``QUERY_TIMEOUT`` on the field that ran it.

Request-level codes (the HTTP layer answers them without executing anything): ``UNAUTHENTICATED``,
``BAD_REQUEST``, ``PAYLOAD_TOO_LARGE``, ``UNSUPPORTED_MEDIA_TYPE``, ``NOT_ACCEPTABLE``,
``METHOD_NOT_ALLOWED``, ``GRAPHQL_PARSE_FAILED``, ``GRAPHQL_VALIDATION_FAILED``; limits:
``QUERY_TOO_DEEP``, ``QUERY_TOO_COMPLEX``, ``TOO_MANY_TOKENS``.

:func:`format_error` is the boundary: it never lets a stack trace, a driver message or Cypher text
out; unexpected failures become ``INTERNAL_SERVER_ERROR`` with a fixed message and are logged.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from graph_model.errors import DatabaseUnavailable, QueryTimedOut

logger = logging.getLogger("api")

NOT_FOUND = "NOT_FOUND"
BAD_USER_INPUT = "BAD_USER_INPUT"
FORBIDDEN = "FORBIDDEN"
CONFLICT = "CONFLICT"
UNAUTHENTICATED = "UNAUTHENTICATED"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
BAD_REQUEST = "BAD_REQUEST"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"

UNAVAILABLE_MESSAGE = "The customer graph database is unavailable; try again shortly."
INTERNAL_MESSAGE = "Internal server error."
TIMEOUT_MESSAGE = "The database stopped this field at its time limit; ask for less (a smaller page) or retry."


class ApiError(GraphQLError):
    """An expected failure with a machine-readable ``extensions.code``."""

    code = INTERNAL_SERVER_ERROR

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class NotFound(ApiError):
    """An id that names nothing in the graph."""

    code = NOT_FOUND


class BadUserInput(ApiError):
    """An argument that is well-typed but not acceptable."""

    code = BAD_USER_INPUT


class Forbidden(ApiError):
    """The caller's role does not allow this."""

    code = FORBIDDEN


class Conflict(ApiError):
    """A retried write whose key already names different content; nothing was written."""

    code = CONFLICT


class ServiceUnavailable(ApiError):
    """The database cannot be reached."""

    code = SERVICE_UNAVAILABLE


def _code_of_request_error(error: GraphQLError) -> str:
    """The code of an error raised before execution (parsing, validation, variable coercion)."""
    if isinstance(error, GraphQLSyntaxError):
        return TOO_MANY_TOKENS if "tokens" in error.message else GRAPHQL_PARSE_FAILED
    if error.message.startswith("Variable "):
        return BAD_USER_INPUT
    return GRAPHQL_VALIDATION_FAILED


def format_error(error: GraphQLError) -> dict[str, Any]:
    """One GraphQL error as the response shows it: message, locations, path and a code, nothing else."""
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, ApiError):
        message, extensions = original.message, dict(original.extensions or {})
    elif isinstance(original, GraphQLError):  # raised on purpose, e.g. by a strawberry permission class
        message = original.message
        extensions = dict(original.extensions or {}) or {"code": BAD_USER_INPUT}
    elif isinstance(original, ValueError) and "integer string conversion" in str(original):
        # graphql converting an Int literal of thousands of digits (Python refuses): an out-of-range Int
        message, extensions = "Int cannot represent non 32-bit signed integer value.", {"code": BAD_USER_INPUT}
    elif isinstance(original, DatabaseUnavailable):
        message, extensions = UNAVAILABLE_MESSAGE, {"code": SERVICE_UNAVAILABLE}
    elif isinstance(original, QueryTimedOut):
        message, extensions = TIMEOUT_MESSAGE, {"code": QUERY_TIMEOUT}
    elif original is not None:
        logger.error("unexpected error in %s", ".".join(map(str, error.path or [])), exc_info=original)
        message, extensions = INTERNAL_MESSAGE, {"code": INTERNAL_SERVER_ERROR}
    elif error.extensions and "code" in error.extensions:
        message, extensions = error.message, dict(error.extensions)
    else:
        message, extensions = error.message, {"code": _code_of_request_error(error)}
    formatted: dict[str, Any] = {"message": message}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = error.path
    formatted["extensions"] = extensions
    return formatted


def request_error(message: str, code: str) -> dict[str, Any]:
    """The body of a request refused before execution: ``{"errors": [{message, extensions.code}]}``."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


#: The code of a plain HTTP refusal outside GraphQL (a path or method the service does not serve)
HTTP_CODES = {404: NOT_FOUND, 405: METHOD_NOT_ALLOWED}


async def http_error(request: Any, exc: Any) -> Any:
    """Starlette's own refusals (an unknown path, a method a route does not take) as ``{"errors": [...]}`` with a
    code, as every other answer of the service (until stop 40 plain text without a code: found by an audit)."""
    from starlette.responses import JSONResponse

    status = getattr(exc, "status_code", 500)
    code = HTTP_CODES.get(status, INTERNAL_SERVER_ERROR if status >= 500 else BAD_REQUEST)
    message = {404: "Nothing is served at this path.", 405: "This path does not take that method."}.get(
        status, INTERNAL_MESSAGE if status >= 500 else "The request cannot be served.")
    return JSONResponse(request_error(message, code), status_code=status, headers=getattr(exc, "headers", None))


#: For ``Starlette(exception_handlers=...)``: the HTTP refusals above
HTTP_ERROR_HANDLERS = {404: http_error, 405: http_error}
