"""The API's uvicorn protocol (api/serving.py): a client that never finishes sending a request loses its
connection at the deadline; a request being answered is never cut. Real sockets, a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from test_api_support import served

import api.serving as serving

DEADLINE = 0.5


async def slow_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Answers every request after one second (longer than the deadline)."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await asyncio.sleep(2 * DEADLINE)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def serving_slow_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(serving, "REQUEST_SECONDS", DEADLINE)
    with served(slow_app) as port:  # the tests' uvicorn, with api.serving's options
        yield port


def _closed_after(connection: socket.socket, trickle: bytes, pause: float) -> float | None:
    """Send ``trickle`` a byte every ``pause`` seconds; the seconds until the server closed, or None."""
    started = time.monotonic()
    connection.settimeout(pause)
    for byte in trickle:
        try:
            connection.sendall(bytes([byte]))
            if connection.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started
    return None


@pytest.mark.parametrize("unfinished", [
    b"GET /graphql HTTP/1.1\r\nHost: shop\r\nX-Slow: " + b"a" * 200,  # headers that never end (slowloris)
    b"POST /graphql HTTP/1.1\r\nHost: shop\r\nContent-Length: 300\r\n\r\n" + b"{" * 300,  # a body trickled
])
def test_a_request_that_never_arrives_loses_its_connection_at_the_deadline(
        monkeypatch: pytest.MonkeyPatch, unfinished: bytes) -> None:
    """Before stop 38 uvicorn's keep-alive timer, reset by every byte, let such a client hold the connection for
    as long as it liked (a byte every 0.1 s here would have held it for the whole 30 s of the trickle)."""
    with serving_slow_app(monkeypatch) as port, socket.create_connection(("127.0.0.1", port)) as connection:
        closed = _closed_after(connection, unfinished, pause=0.1)
    assert closed is not None and DEADLINE - 0.05 <= closed < 10  # the trickle would take 30 s (slack: a busy machine)


def test_a_request_being_answered_is_not_cut_and_the_next_has_its_own_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    request = b"GET / HTTP/1.1\r\nHost: shop\r\n\r\n"
    with serving_slow_app(monkeypatch) as port, socket.create_connection(("127.0.0.1", port)) as connection:
        connection.settimeout(5)
        for _ in range(2):  # two requests on one kept-alive connection, each answered after twice the deadline
            connection.sendall(request)
            answer = connection.recv(1024)
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok"), answer


async def big_answer_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Answers every request with 16 MB, in 64 KB pieces."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"16777216")]})
    for _ in range(256):
        await send({"type": "http.response.body", "body": b"x" * 65_536, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def test_a_client_that_does_not_read_its_answer_loses_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by an audit (stop 40): a client that asked and never read held the connection and the answer's memory
    for minutes (2.8 MB queued after 4 min 22 s); now the answer may stall :data:`serving.SEND_STALL_SECONDS`."""
    monkeypatch.setattr(serving, "SEND_STALL_SECONDS", DEADLINE)
    with served(big_answer_app) as port:
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect(("127.0.0.1", port))
        with connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\n\r\n")
            time.sleep(10 * DEADLINE)  # not reading
            connection.settimeout(5)
            received = 0
            try:
                while chunk := connection.recv(1 << 20):
                    received += len(chunk)
            except ConnectionResetError:
                pass
            assert received < 16 * 1024 * 1024  # cut: the rest of the answer was dropped


def _refusal(connection: socket.socket) -> tuple[list[str], dict[str, Any]]:
    """The whole answer read until the server closes: its status and header lines (lower case) and its one error."""
    answer = b""
    while chunk := connection.recv(4096):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    [error] = json.loads(body)["errors"]
    return head.decode().lower().split("\r\n"), error


@pytest.mark.parametrize("broken", [
    b"GARBAGE\r\n\r\n",  # no request line
    b"GET /graphql HTTP/1.1\r\nHost: shop\r\nBad Header\r\n\r\n",  # a header without a colon
])
def test_a_request_that_is_not_http_is_refused_with_a_code(broken: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving_slow_app(monkeypatch) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(broken)
        lines, error = _refusal(connection)
    assert lines[0] == "http/1.1 400 bad request" and "content-type: application/json" in lines
    assert error["extensions"] == {"code": "BAD_REQUEST"} and error["message"].startswith("The request is not valid HTTP")


def test_a_request_beyond_the_connection_limit_is_refused_at_once_with_a_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "MAX_CONNECTIONS", 1)
    with serving_slow_app(monkeypatch) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as held, \
            socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        held.sendall(b"GET / HTTP/1.1\r\nHost: shop\r\n")  # the one connection the limit allows, headers unfinished
        time.sleep(0.1)
        connection.sendall(b"GET /graphql HTTP/1.1\r\nHost: shop\r\n\r\n")
        lines, error = _refusal(connection)
    assert lines[0] == "http/1.1 503 service unavailable" and "content-type: application/json" in lines
    assert "retry-after: 1" in lines
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}  # not the app's answer (200 "ok")
