"""How uvicorn serves the API: a deadline for receiving each request, and a cap on connections.

uvicorn has no timeout for *receiving* a request: its keep-alive timeout is reset by every byte, so a client
that trickles a header line a byte at a time (slowloris), or never finishes a body, holds a connection for
as long as it likes, and enough of them hold every connection. :class:`DeadlineHTTPProtocol` (uvicorn's own
HTTP protocol, httptools or h11, with one timer added) closes a connection that has not delivered a whole
request, headers and body, within :data:`REQUEST_SECONDS` of its opening or of its previous response. A
request being answered is never cut by that deadline, only one whose answer stopped moving: a client that does
not read what it asked for, so that the connection's send buffer stays full (uvicorn has paused writing) for
:data:`SEND_STALL_SECONDS`, loses the connection and the answer's memory (until stop 40 such a client held both
for as long as it liked: found by an audit). Above :data:`MAX_CONNECTIONS` connections or requests at once the
service answers ``503`` at once instead of queueing. Both that and a request that is not HTTP are refused with a
code, as every other refusal (:class:`_CodedRefusals`).

In production a reverse proxy or load balancer in front (with its own header and body timeouts) is still
the first line; these bound what reaches the process when there is none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from api.errors import BAD_REQUEST, SERVICE_UNAVAILABLE, request_error

REQUEST_SECONDS = 20.0  # to send one whole request (at most 500 KB: 25 KB/s is the slowest client served)
MAX_CONNECTIONS = 1_000  # connections and tasks at once; beyond, 503
SEND_STALL_SECONDS = 60.0  # an answer whose bytes the client has not taken for this long is dropped
OVER_LIMIT_MESSAGE = "The service is answering as many requests as it takes at once; retry in a moment."


class _RequestDeadline:
    """Mixed into a uvicorn HTTP protocol: close the connection when no whole request has arrived in time."""

    _deadline: asyncio.TimerHandle | None = None
    _stall: asyncio.TimerHandle | None = None
    # provided by the uvicorn protocol this is mixed into
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm()  # the next request on this connection has its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._deadline, self._stall):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def pause_writing(self) -> None:
        """The send buffer is full (the client is not reading): the answer may wait so long, no longer."""
        super().pause_writing()  # type: ignore[misc]
        if self._stall is None:
            self._stall = self.loop.call_later(SEND_STALL_SECONDS, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()  # type: ignore[misc]
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        if not self.transport.is_closing():
            self.transport.abort()  # close() would wait to send the buffer nobody reads

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(REQUEST_SECONDS, self._expire)

    def _expire(self) -> None:
        cycle = self.cycle
        arriving = cycle is None or cycle.response_complete or cycle.more_body  # headers or body still to come
        if arriving and not self.transport.is_closing():
            self.transport.close()


class _CodedRefusals:
    """Mixed into a uvicorn HTTP protocol: what uvicorn refuses itself is answered as every other refusal of the
    service, ``{"errors": [...]}`` with a code, not uvicorn's plain text without one (left open at stop 41):

    - a request that is not HTTP (a broken request line, an invalid header): ``400 BAD_REQUEST``;
    - a request beyond :data:`MAX_CONNECTIONS` connections or requests in flight at once: ``503
      SERVICE_UNAVAILABLE`` at once, without reaching the app (uvicorn's own ``limit_concurrency``, which answers
      in plain text, is off; this is the same check, made when the request's task starts).

    The connection closes after either answer, as uvicorn's does."""

    transport: asyncio.Transport
    app: Any
    connections: set[Any]
    tasks: set[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = self._within_limit(self.app)

    def send_400_response(self, msg: str) -> None:
        refusal = _refusal(400, f"The request is not valid HTTP: {msg}", BAD_REQUEST)
        head = b"".join(name + b": " + value + b"\r\n" for name, value in refusal.raw_headers)
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\n" + head + b"\r\n" + refusal.body)
        self.transport.close()

    def _within_limit(self, app: Any) -> Any:
        async def limited(scope: Any, receive: Any, send: Any) -> None:
            # this request's connection and task are counted already
            if len(self.connections) <= MAX_CONNECTIONS and len(self.tasks) <= MAX_CONNECTIONS:
                await app(scope, receive, send)
            else:
                await _refusal(503, OVER_LIMIT_MESSAGE, SERVICE_UNAVAILABLE, {"Retry-After": "1"})(scope, receive, send)

        return limited


def _refusal(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A refusal as the service answers every other (:func:`api.errors.request_error`), closing the connection."""
    return JSONResponse(request_error(message, code), status_code=status,
                        headers={**(headers or {}), "Connection": "close"})


class DeadlineHTTPProtocol(_CodedRefusals, _RequestDeadline, AutoHTTPProtocol):  # type: ignore[valid-type,misc]
    """uvicorn's HTTP protocol with the request deadline and coded refusals (see the module docstring)."""


def uvicorn_options() -> dict[str, Any]:
    """The options every way of serving the API passes to uvicorn (``serve``, the tests' server)."""
    return {"http": DeadlineHTTPProtocol}
