"""The Segment HTTP tracking API's endpoints: ``POST /v1/batch`` and ``/v1/{track,identify,page,screen,alias,group}``.

Answers as the spec: ``200 {"success": true}`` once the messages are in the spool (on disk); otherwise a JSON
body ``{"success": false, "code": …, "message": …}``:

==========================  ====================================================================
``400 BAD_REQUEST``         not UTF-8 JSON (orjson), not an object, or a message the spec does not allow (the
                            message says which and why; nothing of the request is kept)
``401 UNAUTHENTICATED``     no write key, or an unknown one (HTTP Basic user name or ``writeKey``)
``404 NOT_FOUND``           collection is off (no ``CUSTOMER_GRAPH_WRITE_KEYS``)
``413 PAYLOAD_TOO_LARGE``   a batch over 500 KB (a message over 32 KB is ``400``)
``415 UNSUPPORTED_MEDIA``   a body encoding other than identity or gzip
``429 TOO_MANY_REQUESTS``   too many requests being stored at once (``Retry-After``)
``503 SPOOL_FULL``          the spool holds ``CUSTOMER_GRAPH_SPOOL_MAX_MESSAGES`` unwritten messages
                            (``Retry-After``: the database is behind or down)
==========================  ====================================================================
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from api.bodies import BodyTooLarge, ClientGone, read_body
from api.collection.config import MAX_BATCH_BYTES, CollectionConfig
from api.collection.messages import TYPES, MessageRefused, accept
from api.collection.proof import prove_senders
from api.collection.spool import Spool
from api.collection.writer import Collector
from api.errors import HTTP_CODES
from api.tokens import CustomerTokens

MAX_IN_FLIGHT = 64  # requests storing at once before 429
MAX_BATCH_MESSAGES = 10_000
RETRY_AFTER_BUSY = "1"
RETRY_AFTER_FULL = "30"


class Refused(Exception):
    """An answer other than success."""

    def __init__(self, status: int, code: str, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


def _answer(error: Refused) -> JSONResponse:
    headers = {"Retry-After": error.retry_after} if error.retry_after else None
    return JSONResponse({"success": False, "code": error.code, "message": str(error)}, status_code=error.status,
                        headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    """The request's JSON object (gzip-decoded when sent so), within :data:`MAX_BATCH_BYTES`."""
    try:
        raw = await read_body(request, MAX_BATCH_BYTES)
    except BodyTooLarge:
        raise Refused(413, "PAYLOAD_TOO_LARGE", f"a request is limited to {MAX_BATCH_BYTES // 1024} KB") from None
    except ClientGone:  # nobody to answer, nothing kept; not an error of the service
        raise Refused(400, "BAD_REQUEST", "the client closed the connection before the whole body") from None
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        inflate = zlib.decompressobj(wbits=31)
        try:
            data = inflate.decompress(raw, MAX_BATCH_BYTES + 1)
        except zlib.error:
            raise Refused(400, "BAD_REQUEST", "the body is not valid gzip") from None
        if len(data) > MAX_BATCH_BYTES or inflate.unconsumed_tail:
            raise Refused(413, "PAYLOAD_TOO_LARGE", f"a request is limited to {MAX_BATCH_BYTES // 1024} KB")
        if not inflate.eof or inflate.unused_data:  # cut short (no checksum), or more after it: not what was sent
            raise Refused(400, "BAD_REQUEST", "the body is not valid gzip (one whole member, nothing after it)")
        raw = data
    elif encoding not in ("identity", ""):
        raise Refused(415, "UNSUPPORTED_MEDIA", "send the body as JSON, plain or gzip")
    try:  # orjson, as the GraphQL endpoint: no lone surrogates, NaN or nesting past 1,024 levels get through
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused(400, "BAD_REQUEST", "the body is not valid UTF-8 JSON (or nests too deeply)") from None
    if not isinstance(body, dict):
        raise Refused(400, "BAD_REQUEST", "the body must be a JSON object")
    return body


def _basic_key(request: Request) -> tuple[bool, str | None]:
    """Whether the request sends HTTP Basic credentials, and the write key they carry (the user name; the
    password is empty), ``None`` when they carry none."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() != "basic ":
        return False, None
    try:
        user, _, _ = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return True, None
    return True, user or None


def _body_key(body: dict[str, Any]) -> str | None:
    """The body's ``writeKey`` (the spec's other place for it)."""
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def _known(key: str | None, keys: frozenset[str]) -> bool:
    return key is not None and any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)


def _messages(kind: str | None, body: dict[str, Any], received: datetime) -> list[dict[str, Any]]:
    if kind is not None:
        return [accept(body, kind, received)]
    batch = body.get("batch")
    if not isinstance(batch, list) or not batch:
        raise MessageRefused("`batch` must be a non-empty list of messages")
    if len(batch) > MAX_BATCH_MESSAGES:
        raise MessageRefused(f"a batch holds at most {MAX_BATCH_MESSAGES} messages")
    messages: list[dict[str, Any]] = []
    first: dict[str, tuple[int, Any]] = {}  # messageId -> (index, the message as sent)
    for index, message in enumerate(batch):
        try:
            messages.append(accept(message, None, received, body))
        except MessageRefused as error:
            raise MessageRefused(f"batch[{index}]: {error}") from None
        message_id = messages[-1]["messageId"]
        earlier = first.setdefault(message_id, (index, message))
        if earlier[1] != message:  # the spool keeps the first of an id: the other would vanish without a word
            raise MessageRefused(f"batch[{index}]: `messageId` {message_id[:80]!r} is batch[{earlier[0]}]'s, with "
                                 "other content (a retry repeats a message unchanged)")
    return messages


class CollectionEndpoints:
    """The endpoints over one spool and its collector; ``tokens`` verifies the customer tokens that prove a
    message's sender (:mod:`api.collection.proof`), ``None`` when the service accepts none."""

    def __init__(self, config: CollectionConfig, spool: Spool, collector: Collector,
                 tokens: CustomerTokens | None = None) -> None:
        self.config, self.spool, self.collector, self.tokens = config, spool, collector, tokens
        self._in_flight = 0

    def routes(self) -> list[BaseRoute]:
        return [_tracking_api([Route("/batch", self.batch, methods=["POST"]),
                               *(Route(f"/{kind}", self._single(kind), methods=["POST"]) for kind in TYPES)])]

    def _single(self, kind: str) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            return await self._collect(request, kind)
        return endpoint

    async def batch(self, request: Request) -> JSONResponse:
        return await self._collect(request, None)

    async def _collect(self, request: Request, kind: str | None) -> JSONResponse:
        """Authenticate, read the body, then store it; only the storing counts against :data:`MAX_IN_FLIGHT`.

        A body still arriving costs the service a connection (bounded by the server's connection cap and
        request deadline, :mod:`api.serving`), not a storing slot: until stop 40 the slot was taken before the
        body was read or the key checked, and 64 clients that never finished a body, without any key, had every
        sender answered 429. A key sent as HTTP Basic is checked before a byte of the body is read."""
        try:
            received = datetime.now(UTC)
            basic, key = _basic_key(request)
            server_key = self._sender(key) if basic else False
            body = await _body(request)
            if not basic:
                server_key = self._sender(_body_key(body))
            if self._in_flight >= MAX_IN_FLIGHT:
                raise Refused(429, "TOO_MANY_REQUESTS", "too many requests at once: retry shortly", RETRY_AFTER_BUSY)
            self._in_flight += 1
            try:
                await self._store(body, kind, received, server_key)
            finally:
                self._in_flight -= 1
        except Refused as error:
            return _answer(error)
        return JSONResponse({"success": True})

    def _sender(self, key: str | None) -> bool:
        """Whether ``key`` is a server write key (else a public one); refused when it is neither."""
        if _known(key, self.config.server_write_keys):
            return True
        if _known(key, self.config.write_keys):
            return False
        raise Refused(401, "UNAUTHENTICATED", "send a known write key as the HTTP Basic user name or `writeKey`")

    async def _store(self, body: dict[str, Any], kind: str | None, received: datetime, server_key: bool) -> None:
        if self.spool.pending_count >= self.config.max_pending:
            raise Refused(503, "SPOOL_FULL", "the collector is behind: retry later", RETRY_AFTER_FULL)
        try:
            messages = _messages(kind, body, received)
        except MessageRefused as error:
            raise Refused(400, "BAD_REQUEST", str(error)) from None
        await prove_senders(messages, self.tokens, server_key=server_key)
        await asyncio.wrap_future(self.spool.submit(messages))  # group-committed: on disk when it returns
        self.collector.wake.set()


async def collection_off(request: Request) -> JSONResponse:
    """Every collection endpoint while no write key is configured."""
    return _answer(Refused(404, "NOT_FOUND", "collection is off: set CUSTOMER_GRAPH_WRITE_KEYS"))


def off_routes() -> list[BaseRoute]:
    return [_tracking_api([Route(f"/{name}", collection_off, methods=["POST"]) for name in ("batch", *TYPES)])]


async def _http_refusal(request: Request, exc: Exception) -> JSONResponse:
    """An unknown ``/v1`` path or a method other than POST, answered as every refusal here."""
    status = getattr(exc, "status_code", 404)
    message = "no such endpoint of the tracking API" if status == 404 else "the tracking API takes POST"
    return _answer(Refused(status, HTTP_CODES.get(status, "BAD_REQUEST"), message))


def _tracking_api(routes: list[BaseRoute]) -> Mount:
    """``/v1/...``, open to browsers on any site (CORS): the SDK in the shop's pages posts from the shop's origin,
    with a write key that is public anyway and no cookies (until stop 40 a browser was refused: found by an
    audit); errors as JSON with a code."""
    cors = Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["POST"],
                      allow_headers=["Authorization", "Content-Type", "Content-Encoding"], max_age=86_400)
    refusals = {404: _http_refusal, 405: _http_refusal}
    return Mount("/v1", app=Starlette(routes=routes, exception_handlers=refusals, middleware=[cors]))
