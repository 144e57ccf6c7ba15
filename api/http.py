"""GraphQL over HTTP: the ``/graphql`` endpoint as the GraphQL-over-HTTP specification describes it.

- ``POST`` with ``Content-Type: application/json`` (any other type: 415); ``GET`` for queries only
  (a mutation over GET: 405); other methods: 405.
- ``Accept: application/graphql-response+json`` gets that media type, and a request that cannot be
  parsed or validated gets 400; ``application/json`` (or no Accept, or ``*/*``) gets ``application/json``
  and 200 for every well-formed request, as before the specification; anything else: 406.
- Malformed requests (invalid JSON or UTF-8, nesting too deep, a body over the limit, a body that is not
  a GraphQL request) get a 4xx with a GraphQL error body, never a 500.
- No key or an unknown key: 401 with ``UNAUTHENTICATED``; so is a customer token (``Authorization: Bearer
  <jwt>``, :mod:`api.tokens`) that is expired, badly signed or otherwise not acceptable.
- An admin's read of personal fields is audited once per request, after execution; when that audit entry
  cannot be written the answer is not sent (503 ``SERVICE_UNAVAILABLE``).

Strawberry's own ASGI view answers validation failures with 200 and malformed requests with plain
text, so this module drives ``schema.execute`` itself (with strawberry's caches and limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from api.auth import DEV_KEYS, Role, authenticate, key_from_headers
from api.bodies import BodyTooLarge, ClientGone, read_body
from api.config import ApiConfig
from api.context import RequestContext
from api.db import Database
from api.documents import operation_count
from api.errors import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    SERVICE_UNAVAILABLE,
    UNAUTHENTICATED,
    UNAVAILABLE_MESSAGE,
    format_error,
    request_error,
)
from api.graphiql import graphiql_html
from api.tokens import CustomerTokens, InvalidToken, TokenKeysUnavailable, bearer_token
from graph_model.errors import CustomerGraphError

if TYPE_CHECKING:
    from api.collection.writer import Collector

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
MAX_JSON_DEPTH = 32


class RequestRefused(Exception):
    """A request answered before execution, with a status, a code and a message."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header (None: nothing acceptable).

    The highest quality wins; on a tie ``application/graphql-response+json`` is preferred; wildcards and a
    missing header get ``application/json``, which every legacy client understands.
    """
    if not accept or not accept.strip():
        return JSON
    preference = {GRAPHQL_RESPONSE: 2, JSON: 1, "application/*": 0, "*/*": 0}
    offered: list[tuple[float, int, str]] = []
    for part in accept.split(","):
        media, *params = (piece.strip().lower() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and media in preference:
            offered.append((quality, preference[media], GRAPHQL_RESPONSE if media == GRAPHQL_RESPONSE else JSON))
    return max(offered)[2] if offered else None


def _json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True


def _graphql_params(data: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    """(query, variables, operationName) of a decoded request body or query string."""
    if not isinstance(data, dict):
        raise RequestRefused(400, BAD_REQUEST, "The request body must be a JSON object (batches are not supported).")
    if not _json_depth_ok(data):
        raise RequestRefused(400, BAD_REQUEST, f"The request nests deeper than {MAX_JSON_DEPTH} levels.")
    query, variables, operation = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise RequestRefused(400, BAD_REQUEST, "The request needs a `query` string.")
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, BAD_REQUEST, "`variables` must be an object.")
    if operation is not None and not isinstance(operation, str):
        raise RequestRefused(400, BAD_REQUEST, "`operationName` must be a string.")
    if data.get("extensions") is not None and not isinstance(data.get("extensions"), dict):
        raise RequestRefused(400, BAD_REQUEST, "`extensions` must be an object.")
    return query, variables, operation


def _loads(raw: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestRefused(400, BAD_REQUEST, f"{what} is not valid UTF-8 JSON (or nests too deeply).") from None


async def _read_body(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except BodyTooLarge:
        raise RequestRefused(413, "PAYLOAD_TOO_LARGE", f"The request body is limited to {limit} bytes.") from None
    except ClientGone:  # nobody to answer; not an error of the service (no traceback in the log)
        raise RequestRefused(400, BAD_REQUEST, "The client closed the connection before the whole body.") from None


async def _request_params(request: Request, limit: int) -> tuple[str, dict[str, Any] | None, str | None]:
    if request.method == "GET":
        params = request.query_params
        variables = _loads(params["variables"], "`variables`") if params.get("variables") else None
        return _graphql_params({"query": params.get("query"), "variables": variables,
                                "operationName": params.get("operationName")})
    content_type = request.headers.get("content-type", "")
    media, *options = (piece.strip().lower() for piece in content_type.split(";"))
    charset = next((p.partition("=")[2].strip('"') for p in options if p.startswith("charset=")), "utf-8")
    if media != JSON or charset not in ("utf-8", "utf8"):
        raise RequestRefused(415, "UNSUPPORTED_MEDIA_TYPE", "POST a GraphQL request as application/json (UTF-8).")
    return _graphql_params(_loads(await _read_body(request, limit), "The request body"))


class GraphQLEndpoint:
    """The ASGI-facing handler of ``/graphql``."""

    def __init__(self, schema: strawberry.Schema, db: Database, config: ApiConfig) -> None:
        self.schema, self.db, self.config = schema, db, config
        self.collector: Collector | None = None  # set by the app when collection is on (erasure waits for its batch)
        headers: dict[str, str] = {}
        if config.using_dev_keys:
            headers["X-API-Key"] = next(key for key, role in DEV_KEYS.items() if role is Role.reader)
        self.ide_html = graphiql_html(headers)

    def _respond(self, body: dict[str, Any], status: int, media: str,
                 headers: Mapping[str, str] | None = None) -> Response:
        return Response(orjson.dumps(body), status_code=status, headers=dict(headers or {}),
                        media_type=f"{media}; charset=utf-8")

    @cached_property
    def tokens(self) -> CustomerTokens | None:
        """The customer-token verifier (:mod:`api.tokens`), when tokens are configured."""
        return CustomerTokens(self.config.tokens) if self.config.tokens.enabled else None

    async def handle(self, request: Request) -> Response:
        """Answer one request to ``/graphql``; refusals become a GraphQL error body with their status."""
        accept = request.headers.get("accept", "")
        media = negotiate(accept)
        try:
            return await self._handle(request, accept, media)
        except RequestRefused as refused:
            return self._respond(request_error(refused.message, refused.code), refused.status, media or JSON,
                                 refused.headers)

    async def _handle(self, request: Request, accept: str, media: str | None) -> Response:
        if request.method not in ("GET", "POST"):
            raise RequestRefused(405, METHOD_NOT_ALLOWED, "GraphQL is served over GET and POST.",
                                 {"Allow": "GET, POST"})
        if (request.method == "GET" and self.config.introspection_enabled and "text/html" in accept
                and "query" not in request.query_params):
            return HTMLResponse(self.ide_html)
        if media is None:
            raise RequestRefused(406, "NOT_ACCEPTABLE", f"Accept {GRAPHQL_RESPONSE} or {JSON}.")
        principal = authenticate(key_from_headers(request.headers), self.config.api_keys)
        token = bearer_token(request.headers) if principal is None and self.tokens is not None else None
        if token is not None:
            assert self.tokens is not None
            try:
                principal = await self.tokens.principal(token)
            except InvalidToken as invalid:
                raise RequestRefused(401, UNAUTHENTICATED, str(invalid),
                                     {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
            except TokenKeysUnavailable:
                raise RequestRefused(503, SERVICE_UNAVAILABLE, "The identity provider's keys cannot be fetched; "
                                     "try again shortly.") from None
        if principal is None:
            raise RequestRefused(401, UNAUTHENTICATED, "A valid API key is required (Authorization: Bearer <key> "
                                 "or X-API-Key).", {"WWW-Authenticate": "Bearer"})
        query, variables, operation_name = await _request_params(request, self.config.max_body_bytes)
        if operation_name is None and query and (operation_count(query, max_tokens=self.config.max_tokens) or 0) > 1:
            raise RequestRefused(400, BAD_REQUEST, "The document defines several operations: name the one to run "
                                 "in `operationName`.")
        allowed = {OperationType.QUERY} if request.method == "GET" else {OperationType.QUERY, OperationType.MUTATION}
        context = RequestContext(principal=principal, db=self.db, config=self.config, collector=self.collector)
        try:
            result = await self.schema.execute(
                query, variable_values=variables, operation_name=operation_name, allowed_operation_types=allowed,
                context_value=context,
            )
        except InvalidOperationTypeError as error:
            if request.method == "POST":  # what POST does not allow: a subscription (until stop 40 "send it with POST")
                raise RequestRefused(400, BAD_REQUEST, "Subscriptions are not served: queries and mutations only."
                                     ) from None
            raise RequestRefused(405, METHOD_NOT_ALLOWED, "Mutations are sent with POST.", {"Allow": "POST"}
                                 ) from error
        except (CannotGetOperationTypeError, MissingQueryError) as error:
            raise RequestRefused(400, BAD_REQUEST, "The operation to run cannot be determined "
                                 "(check `operationName`).") from error
        try:
            await context.flush_audit()  # personal fields leave only with their audit entry written
        except CustomerGraphError:
            raise RequestRefused(503, SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE) from None
        body: dict[str, Any] = {}
        errors: list[GraphQLError] = list(result.errors or [])
        if errors:
            body["errors"] = [format_error(error) for error in errors]
        request_failed = result.data is None and bool(errors) and all(not error.path for error in errors)
        if not request_failed:
            body["data"] = result.data
        status = 400 if request_failed and media == GRAPHQL_RESPONSE else 200
        return self._respond(body, status, media)
