"""Reading a request body within a size limit: the one reader of the GraphQL and the collection endpoints.

Each endpoint turns the two refusals into its own answer shape (a GraphQL error, Segment's
``{"success": false}``).
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class BodyTooLarge(Exception):
    """The body is (or says it is) larger than the limit: nothing past the limit was read."""


class ClientGone(Exception):
    """The client closed the connection before sending the whole body: there is no one to answer."""


async def read_body(request: Request, limit: int) -> bytes:
    """The body of ``request`` (at most ``limit`` bytes), read as it streams in; a declared
    ``Content-Length`` over the limit is refused before reading."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge()
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone() from None
    return b"".join(chunks)
