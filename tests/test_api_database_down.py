"""The database going away and coming back: SERVICE_UNAVAILABLE, /readyz failing, and recovery without a
restart. The database sits behind a small TCP relay the test can cut and restore."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlparse

import pytest
from starlette.testclient import TestClient
from test_api_support import codes, make_app, post, seed

from graph_model.local_server.server import free_port
from graph_model.settings import Settings

QUERY = '{ customer(id: "C1") { id recommendations(first: 2) { score } } }'


class Relay:
    """A TCP relay from a local port to the database; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()


@pytest.fixture
def relay(graph: Settings) -> Iterator[tuple[Relay, Settings]]:
    seed(graph)
    address = urlparse(graph.bolt_uri)
    relay = Relay((address.hostname or "127.0.0.1", address.port or 7687))
    relay.open()
    yield relay, replace(graph, uri=f"bolt://127.0.0.1:{relay.port}")
    relay.cut()


def _assert_unavailable(client: TestClient) -> None:
    started = time.monotonic()
    response = post(client, QUERY)
    body = response.json()
    assert time.monotonic() - started < 10  # a clear error, not a hang
    assert response.status_code == 200 and body["data"] == {"customer": None}
    assert codes(body) == ["SERVICE_UNAVAILABLE"]
    assert body["errors"][0]["message"] == "The customer graph database is unavailable; try again shortly."
    text = json.dumps(body)
    assert "Traceback" not in text and "bolt" not in text.lower() and "127.0.0.1" not in text
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    assert client.get("/healthz").status_code == 200  # the process itself is fine


def test_database_down_then_back_without_restarting_the_api(relay: tuple[Relay, Settings]) -> None:
    proxy, settings = relay
    with TestClient(make_app(settings)) as client:
        assert post(client, QUERY).json()["data"]["customer"]["id"] == "C1"
        proxy.cut()
        _assert_unavailable(client)
        mutation = post(client, 'mutation { setConsent(input: {customerId: "C1", channel: "sms", purpose: "marketing", '
                                'granted: true}) { granted } }', key="test-writer-key").json()
        assert codes(mutation) == ["SERVICE_UNAVAILABLE"]
        proxy.open()
        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").status_code == 200
        body = post(client, QUERY).json()
        assert "errors" not in body and body["data"]["customer"]["id"] == "C1"


def test_database_never_reachable(graph: Settings) -> None:
    closed = replace(graph, uri=f"bolt://127.0.0.1:{free_port()}")
    with TestClient(make_app(closed)) as client:
        _assert_unavailable(client)
