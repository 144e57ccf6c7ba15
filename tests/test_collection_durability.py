# ruff: noqa: F811 - pytest fixtures imported from test_api_support are redefined as parameters
"""Nothing the collection API accepted is lost: the API process killed with SIGKILL while a client sends,
and the database stopped mid-stream (the real Neo4j of the test session, stopped and started again)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from segment.analytics import Client
from test_api_support import make_app, served
from test_collection import T0, WRITE_KEY, _config

from api import server_process
from graph_model import run_query
from graph_model.privacy.keys import load_key
from graph_model.privacy.redaction import value_token
from graph_model.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def api_process(settings: Settings, spool: Path, runs: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``customer-graph serve`` (production, collection on) in its own process on the test database."""
    process, base = server_process.start(
        {"NEO4J_URI": settings.bolt_uri, "NEO4J_USER": settings.user, "NEO4J_PASSWORD": settings.password,
         "CUSTOMER_GRAPH_ENV": "production", "CUSTOMER_GRAPH_API_KEYS": "durability-reader-key:reader",
         "CUSTOMER_GRAPH_WRITE_KEYS": WRITE_KEY, "CUSTOMER_GRAPH_SPOOL": str(spool),
         "CUSTOMER_GRAPH_RUNS_DIR": str(runs), "CUSTOMER_GRAPH_PRIVACY_KEY": load_key().decode()}, cwd=ROOT)
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(20)


@contextmanager
def batch_held_before_it_writes(collector: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A batch of ``collector`` in its own thread, held after it read its tombstones and before it writes,
    until the block ends (then it writes and is waited for)."""
    import api.collection.writer as writer_module

    mapping_started, release = threading.Event(), threading.Event()
    real_map = writer_module.map_messages

    def map_slowly(*args: Any, **kwargs: Any) -> Any:
        mapping_started.set()
        release.wait(10)
        return real_map(*args, **kwargs)

    monkeypatch.setattr(writer_module, "map_messages", map_slowly)
    batch = threading.Thread(target=collector.flush)
    batch.start()
    assert mapping_started.wait(10)
    try:
        yield
    finally:
        release.set()
        batch.join(30)


def erasing_in_a_thread(collector: Any, customer_id: str) -> threading.Thread:
    """``eraseCustomer``'s path (the collector's lock, then the erasure) in a thread of its own, started."""
    from graph_model.privacy.erasure import erase_customer

    def erase() -> None:
        with collector.erasing(customer_id):
            erase_customer(customer_id, actor="test")

    thread = threading.Thread(target=erase)
    thread.start()
    return thread


def _events(ids: list[str]) -> dict[str, int]:
    rows = run_query("UNWIND $ids AS id MATCH (e:Event {eventId: id}) RETURN id, count(*) AS n", {"ids": ids})
    return {row["id"]: row["n"] for row in rows}


def test_a_sigkill_while_a_client_sends_loses_nothing_and_writes_nothing_twice(graph: Settings, tmp_path: Path) -> None:
    spool, runs = tmp_path / "spool.sqlite", tmp_path / "runs"
    acknowledged: list[str] = []
    with api_process(graph, spool, runs) as (process, base):
        stop = threading.Event()

        def send() -> None:
            for n in range(100_000):
                if stop.is_set():
                    return
                message_id = f"kill-{n}"
                body = {"batch": [{"type": "page", "anonymousId": f"anon-{n % 7}", "messageId": message_id,
                                   "properties": {"path": f"/{n}"}, "timestamp": (T0 + timedelta(seconds=n)).isoformat()}]}
                try:
                    if httpx.post(f"{base}/v1/batch", json=body, auth=(WRITE_KEY, ""), timeout=5).status_code == 200:
                        acknowledged.append(message_id)
                except httpx.TransportError:
                    return  # the server is gone

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(3)
        process.kill()  # SIGKILL: no shutdown, no flush
        process.wait(10)
        stop.set()
        sender.join(10)
    assert len(acknowledged) > 20
    with api_process(graph, spool, runs):  # a new process finds what was pending
        deadline = time.monotonic() + 180  # a new process plans every writer first: 35-42 s cold, more under load
        while len(_events(acknowledged)) < len(acknowledged) and time.monotonic() < deadline:
            time.sleep(0.2)
    counts = _events(acknowledged)
    assert set(counts) == set(acknowledged) and set(counts.values()) == {1}
    assert run_query("MATCH (e:Event) RETURN count(*) AS n")[0]["n"] >= len(acknowledged)


@pytest.mark.restarts_server
def test_the_database_stopped_mid_stream_loses_nothing(database_under_test, graph: Settings, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import api.collection.writer as writer_module

    server = database_under_test.server
    if server is None:
        pytest.skip("stops the database: only with the suite's own local server")
    monkeypatch.setattr(writer_module, "MAX_BACKOFF_SECONDS", 1.0)  # not up to 10 s after the database is back
    app = make_app(graph, collection=_config(tmp_path))
    with served(app) as port:
        client = Client(WRITE_KEY, host=f"http://127.0.0.1:{port}", sync_mode=True, max_retries=1)
        for n in range(10):
            client.page(anonymous_id="anon-db", message_id=f"db-{n}", properties={"path": f"/{n}"},
                        timestamp=T0 + timedelta(seconds=n))
        assert app.state.collector.wait_idle(timeout=90)
        server.stop()
        try:
            for n in range(10, 40):  # accepted while the database is down
                client.page(anonymous_id="anon-db", message_id=f"db-{n}", properties={"path": f"/{n}"},
                            timestamp=T0 + timedelta(seconds=n))
            time.sleep(2)
            assert app.state.collector.spool.pending_count == 30  # nothing written, nothing dropped
        finally:
            server.start()
        restarted = time.monotonic()
        assert app.state.collector.wait_idle(timeout=90)
        caught_up = time.monotonic() - restarted
    counts = _events([f"db-{n}" for n in range(40)])
    assert len(counts) == 40 and set(counts.values()) == {1}, counts
    print(f"caught up {caught_up:.1f} s after the database came back")  # shown with -s


def test_an_erasure_waits_for_the_batch_being_written_so_the_person_does_not_come_back(
        graph: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by the stop-37 audit: a customer erased while their collected messages were being written was in
    the graph again a few seconds later (the batch had read its tombstones before the erasure)."""
    from api.collection.messages import accept
    from api.collection.proof import PROOF, SERVER_KEY
    from api.collection.spool import Spool
    from api.collection.writer import Collector

    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path / "runs"))
    run_query("CREATE (:Customer {customerId: 'LEAVING'}), (:Product {sku: '85123A'})")
    config = _config(tmp_path)
    spool = Spool(config.spool_path)
    now = T0 + timedelta(days=1)
    def view(user: str, message_id: str) -> dict:
        return {**accept({"type": "track", "userId": user, "event": "Product Viewed", "messageId": message_id,
                          "properties": {"sku": "85123A"}}, None, now), PROOF: SERVER_KEY}

    def order(user: str, message_id: str) -> dict:  # of a product the graph does not hold: a reject naming the user
        return {**accept({"type": "track", "userId": user, "event": "Order Completed", "messageId": message_id,
                          "properties": {"order_id": message_id, "products": [{"sku": "NOPE", "price": 1}]}},
                         None, now), PROOF: SERVER_KEY}

    collector = Collector(config, spool)
    spool.append([order("LEAVING", "r0")])  # its reject line is in the collector's open report
    collector.flush()
    spool.append([view("LEAVING", f"m{n}") for n in range(5)])
    with spool._lock, spool._writing:  # a ping the collector kept for geofencing across batches
        spool._db.execute("INSERT INTO pings VALUES ('LEAVING', ?, 51.5, -0.1)", (now.isoformat(),))

    with batch_held_before_it_writes(collector, monkeypatch):
        erasure = erasing_in_a_thread(collector, "LEAVING")
        erasure.join(3)
        assert erasure.is_alive()  # waiting for the batch (without the wait it is done by now, and the batch
        # then writes the person again)
    erasure.join(30)
    assert run_query("MATCH (c:Customer {customerId: 'LEAVING'}) RETURN count(c) AS n") == [{"n": 0}]
    assert run_query("MATCH (s:Session)-[:CONTAINS]->(:Event) WHERE s.sessionId STARTS WITH 'sdk-' "
                     "RETURN count(DISTINCT s) AS n") == [{"n": 1}]  # the history stays, anonymous
    with spool._lock:
        assert spool._db.execute("SELECT count(*) FROM pings").fetchone()[0] == 0
    # the rejects: the person's line gone from the report the erasure closed, and a later reject on disk
    spool.append([order("OTHER", "r1")])
    collector.flush()
    collector._close_report()
    spool.close()
    rejects = "".join(path.read_text() for path in (tmp_path / "runs").rglob("rejects.jsonl"))
    assert value_token("LEAVING") not in rejects
    assert value_token("OTHER") in rejects


def test_an_erasure_from_another_process_while_a_batch_is_written_is_done_again_after_it(
        graph: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``customer-graph privacy erase`` runs in another process and cannot wait for the API's collector: until
    stop 39 the batch in flight (its tombstones read before the erasure) wrote the person back."""
    import api.collection.writer as writer_module
    from api.collection.messages import accept
    from api.collection.proof import PROOF, SERVER_KEY
    from api.collection.spool import Spool
    from api.collection.writer import Collector
    from graph_model.privacy.erasure import erase_customer

    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path / "runs"))
    run_query("CREATE (:Customer {customerId: 'LEAVING'}), (:Product {sku: '85123A'})")
    config = _config(tmp_path)
    spool = Spool(config.spool_path)
    now = T0 + timedelta(days=1)
    spool.append([{**accept({"type": "identify", "userId": "LEAVING", "messageId": "i0", "anonymousId": "anon-9",
                             "traits": {"name": "Leaving Person"}}, None, now), PROOF: SERVER_KEY},
                  {**accept({"type": "track", "userId": "LEAVING", "event": "Order Completed", "messageId": "o0",
                             "properties": {"order_id": "o0", "products": [{"sku": "NOPE", "price": 1}]}},
                            None, now), PROOF: SERVER_KEY}])
    real_map = writer_module.map_messages

    def erased_elsewhere_meanwhile(*args, **kwargs):  # the batch has read its tombstones
        assert erase_customer("LEAVING", actor="officer").found
        return real_map(*args, **kwargs)

    monkeypatch.setattr(writer_module, "map_messages", erased_elsewhere_meanwhile)
    collector = Collector(config, spool)
    assert collector.flush() == 2
    assert run_query("MATCH (c:Customer {customerId: 'LEAVING'}) RETURN count(c) AS n") == [{"n": 0}]
    assert run_query("MATCH (i:Identity) WHERE i.identityKey ENDS WITH 'anon-9' RETURN count(i) AS n") == [{"n": 0}]
    assert run_query("MATCH (a:AuditEntry {action: 'erase'}) RETURN a.actor AS actor ORDER BY actor") == [
        {"actor": "loader:collect"}, {"actor": "officer"}]
    collector._close_report()
    spool.close()
    rejects = "".join(path.read_text() for path in (tmp_path / "runs").rglob("rejects.jsonl"))
    assert value_token("LEAVING") not in rejects  # the batch's reject of their order went with the erasure


def test_an_erasure_forgets_the_cookie_the_batch_in_flight_linked(graph: Settings, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Left by stop 38: the person's cookies were read before the erasure waited for the batch in flight, so a
    cookie that batch linked kept its session state in the spool."""
    from api.collection.messages import accept
    from api.collection.proof import PROOF, SERVER_KEY
    from api.collection.spool import Spool
    from api.collection.writer import Collector

    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path / "runs"))
    run_query("CREATE (:Customer {customerId: 'LEAVING'}), (:Product {sku: '85123A'})")
    config = _config(tmp_path)
    spool = Spool(config.spool_path)
    spool.append([{**accept({"type": "track", "userId": "LEAVING", "anonymousId": "anon-new", "messageId": "m1",
                             "event": "Product Viewed", "properties": {"sku": "85123A"}}, None, T0 + timedelta(days=1)),
                   PROOF: SERVER_KEY}])
    collector = Collector(config, spool)

    with batch_held_before_it_writes(collector, monkeypatch):
        erasure = erasing_in_a_thread(collector, "LEAVING")
        time.sleep(0.5)  # it waits for the batch
    erasure.join(30)
    with spool._lock:
        actors = {row[0] for row in spool._db.execute("SELECT actor FROM actor_sessions")}
    spool.close()
    assert "anon-new" not in actors
    assert run_query("MATCH (i:Identity) WHERE i.value = 'anon-new' RETURN count(i) AS n") == [{"n": 0}]


def test_an_erasure_from_another_process_forgets_the_spool_s_pings_and_sessions_of_the_person(
        graph: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by an audit (stop 40): `customer-graph privacy erase` while the API collected left the person's kept
    location pings and session state in the spool for its 48 hours (only the API's own erasure forgot them)."""
    from api.collection.messages import accept
    from api.collection.spool import Spool
    from api.collection.writer import Collector
    from graph_model.privacy.erasure import erase_customer

    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path / "runs"))
    run_query("CREATE (:Customer {customerId: 'LEAVING'}), (:Customer {customerId: 'STAYING'})")
    config = _config(tmp_path)
    spool = Spool(config.spool_path)
    now = T0 + timedelta(days=1)
    collector = Collector(config, spool)
    spool.append([accept({"type": "page", "userId": user, "messageId": f"p-{user}", "properties": {"path": "/"}},
                         None, now) for user in ("LEAVING", "STAYING")])
    assert collector.flush() == 2
    with spool._lock, spool._writing:  # pings kept for geofencing across batches
        spool._db.executemany("INSERT INTO pings VALUES (?, ?, 51.5, -0.1)",
                              [(user, now.isoformat()) for user in ("LEAVING", "STAYING")])
    assert sorted(spool.people_in_state()[0]) == ["LEAVING", "STAYING"]
    assert "LEAVING" in spool.people_in_state()[1]

    assert erase_customer("LEAVING", actor="officer").found  # from the command line: the collector is not asked
    spool.append([accept({"type": "page", "userId": "STAYING", "messageId": "p-later", "properties": {"path": "/"}},
                         None, now)])
    assert collector.flush() == 1
    customers, actors = spool.people_in_state()
    assert customers == ["STAYING"] and "LEAVING" not in actors and "STAYING" in actors
    collector._close_report()
    spool.close()


def test_the_open_report_s_counts_are_on_disk_after_a_batch(graph: Settings, tmp_path: Path) -> None:
    """The collector's report closes hourly (or when the API stops): until stop 41 its counts were written only
    then, so a killed process lost them (its rejects were on disk). Now a batch leaves them on disk, marked
    ``inProgress``, at most once a minute, replaced whole; closing the report writes the final figures."""
    import json
    import os
    from datetime import UTC, datetime

    from api.collection.config import CollectionConfig
    from api.collection.messages import accept
    from api.collection.proof import PROOF, SERVER_KEY
    from api.collection.spool import Spool
    from api.collection.writer import Collector

    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    messages = [{"type": "page", "anonymousId": "a1", "messageId": f"p{n}", "timestamp": now.isoformat(),
                 "properties": {"path": f"/{n}"}} for n in range(3)]
    config = CollectionConfig(write_keys=frozenset({"k"}), spool_path=tmp_path / "spool.sqlite")
    spool = Spool(config.spool_path)
    spool.append([{**accept(m, None, now), PROOF: SERVER_KEY} for m in messages])
    collector = Collector(config, spool)
    assert collector.flush() == 3
    [folder] = sorted(Path(os.environ["CUSTOMER_GRAPH_RUNS_DIR"]).glob("*-collect"))
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["inProgress"] is True
    assert report["entities"]["events"]["loaded"] == 3
    assert (folder / "report.json").stat().st_mode & 0o777 == 0o600
    assert not list(folder.glob("*.partial"))
    spool.append([{**accept({**messages[0], "messageId": "p3"}, None, now), PROOF: SERVER_KEY}])
    assert collector.flush() == 1  # within the minute: not written again
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["entities"]["events"]["loaded"] == 3
    collector._close_report()  # as when it rotates or the API stops: the final figures
    final = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert "inProgress" not in final and final["entities"]["events"]["loaded"] == 4
