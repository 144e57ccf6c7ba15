"""Planning the writers ahead (loaders.warmup): every writer can be warmed, warming leaves no trace, and the
collector's first batch after its warm-up plans nothing new (the real rows reuse the warmed plans)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph_model.connection import run_query
from graph_model.settings import Settings
from loaders import warmup
from loaders.fingerprint import graph_fingerprint
from loaders.warmup import sample_parameters, writer_statements

CACHED = re.compile(r"cleared of (\d+) quer")


def _cached_plans() -> int:
    """How many plans the query cache holds (one per statement and size class of its list); empties it."""
    message = run_query("CALL db.clearQueryCaches()")[0]["value"]
    match = CACHED.search(message)
    return int(match.group(1)) if match else 0


def _collector(spool_path: Path, **config: Any) -> Any:
    """A collector (not started) with collection on and its spool at ``spool_path``."""
    from api.collection.config import CollectionConfig
    from api.collection.spool import Spool
    from api.collection.writer import Collector

    return Collector(CollectionConfig(write_keys=frozenset({"k"}), spool_path=spool_path, **config), Spool(spool_path))


def test_every_writer_starts_by_unwinding_its_list_so_it_can_be_warmed() -> None:
    statements = writer_statements()
    assert {"sessions.SESSIONS", "events.CREATE_EVENTS", "consent.WRITE_CONSENTS", "identity.BACKFILL_SESSIONS"} \
        <= set(statements)
    assert [name for name, statement in statements.items() if sample_parameters(statement) is None] == []


def test_warming_every_writer_writes_nothing(graph: Settings) -> None:
    run_query("""CREATE (c:Customer {customerId: 'C1'})-[:HAD_SESSION]->(:Session {sessionId: 'S1'}),
                        (:Product {sku: 'P1'})""")
    before = graph_fingerprint(ignore=None)
    assert warmup.warm(sizes=(1, 10)) > 0
    assert graph_fingerprint(ignore=None) == before


def test_after_its_warm_up_the_collector_s_first_batch_plans_nothing_new(graph: Settings, tmp_path: Path,
                                                                         monkeypatch) -> None:
    from api.collection.messages import accept
    from api.collection.proof import PROOF, SERVER_KEY
    from loaders.pipeline import ensure_schema

    run_query("UNWIND range(1, 3) AS i CREATE (:Product {sku: 'P' + i})")
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    messages = [{"type": "page", "anonymousId": f"a{v}", "messageId": f"p{v}-{n}", "timestamp": now.isoformat(),
                 "properties": {"path": f"/p/P{n % 3 + 1}"}} for v in range(30) for n in range(4)]
    messages += [{"type": "identify", "anonymousId": f"a{v}", "userId": f"U{v}", "messageId": f"i{v}",
                  "timestamp": now.isoformat(), "traits": {"email": f"u{v}@example.com"}} for v in range(12)]
    messages += [{"type": "track", "userId": f"U{v}", "event": "Order Completed", "messageId": f"o{v}",
                  "timestamp": now.isoformat(), "properties": {"order_id": f"O{v}", "total": 10.0,
                                                               "products": [{"sku": "P1", "quantity": 1, "price": 10.0}]}}
                 for v in range(12)]
    collector = _collector(tmp_path / "spool.sqlite")
    spool = collector.spool
    spool.append([{**accept(m, None, now), PROOF: SERVER_KEY} for m in messages])  # as a server write key's
    # the schema is applied once per process (the collector's warm-up starts with it): applied here, so the
    # plans counted below are the writers' (a first warm-up would plan them too, and be emptied out next)
    ensure_schema()
    _cached_plans()
    collector.warm()
    warmed = _cached_plans()
    collector.warm()  # the same plans again, then the batch
    planned_again: list[object] = []
    monkeypatch.setattr(warmup, "warm", lambda *args, **kwargs: planned_again.append(args) or 0.0)
    assert collector.flush() == len(messages)
    assert planned_again == []  # a micro-batch does not plan ahead again (LoadOptions.plan_ahead)
    # Every statement of the batch reuses a warmed plan: without the warm-up it adds 16 plans. One entry is
    # allowed: measured, the batch adds one that none of its statements replayed alone does (a statement
    # replanned once the batch has moved the graph's statistics).
    assert _cached_plans() <= warmed + 1
    assert run_query("""MATCH (:Customer)-[:HAD_SESSION]->(s:Session)-[:CONTAINS]->(:Event)
                        RETURN count(DISTINCT s) AS n""") == [{"n": 24}]  # 12 identified visitors, 12 orders
    spool.close()


def test_a_failed_warm_up_never_stops_collection(tmp_path: Path, monkeypatch) -> None:
    """Planning ahead is an optimisation: if it fails the collector is ready all the same (its batches retry)."""
    import api.collection.writer as writer

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no plans today")

    monkeypatch.setattr(writer, "ensure_schema", broken)
    collector = _collector(tmp_path / "spool.sqlite")
    collector.warm()
    assert collector.warmed.is_set()
    collector.spool.close()


def test_a_file_load_plans_its_writer_then_its_stitching_before_the_first_batch(graph: Settings, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """A sessions file: the sessions writer is planned (in its own thread) before any batch is written, then
    the stitching; the batches wait for the first group only."""
    import threading
    import time

    import loaders.pipeline as pipeline
    from loaders.entities import SPECS
    from loaders.pipeline import LoadOptions, load_file

    order: list[str] = []
    planned = threading.Event()

    def warm(modules: tuple[str, ...], labels: tuple[str, ...] = (), sizes: tuple[int, ...] = ()) -> float:
        if modules == ("identity.BACKFILL_SESSIONS",):
            planned.wait(5)  # the stitching's plans may still be on their way while the batches are written
        else:
            time.sleep(0.5)  # a slow plan: the first batch waits for it
        order.append(f"plan {'+'.join(modules)} for {sizes}")
        return 0.0

    sessions = SPECS["sessions"]
    writes: list[int] = []

    def write(tx, rows):  # noqa: ANN001 - the writer's signature
        order.append("write")
        writes.append(len(rows))
        planned.set()
        return sessions.write(tx, rows)

    monkeypatch.setattr(warmup, "warm", warm)
    monkeypatch.setitem(pipeline.SPECS, "sessions", replace(sessions, write=write))
    run_query("CREATE (:Customer {customerId: 'C1'})")
    (tmp_path / "sessions.csv").write_text("sessionId,channel,startedAt,customerId,cookie\n"
                                           "S1,web,2026-12-01T10:00:00Z,C1,K1\nS2,web,2026-12-01T11:00:00Z,,K1\n")
    report = load_file(tmp_path / "sessions.csv", options=LoadOptions(batch_size=2, report_dir=tmp_path / "run"))
    assert report["entities"]["sessions"]["loaded"] == 2
    assert order == ["plan sessions for (2,)", "write", "plan identity.BACKFILL_SESSIONS for (2,)"]  # then stitching
    assert report["entities"]["sessions"]["sessionsStitched"] == 1  # S2 joined C1 through the cookie


def test_a_sessions_load_plans_ahead_only_the_statements_it_runs(graph: Settings, tmp_path: Path,
                                                                 monkeypatch) -> None:
    """Planning ahead runs beside the writers, on the server's CPU: it plans what the load runs, nothing more
    (planning the whole identity module for a sessions file took 0.4-0.8 s of server CPU during a first load's
    writes, for two statements a sessions file's stitching does not run: it only backfills)."""
    import neo4j

    from loaders.pipeline import LoadOptions, load_file

    planned: list[str] = []
    ran: set[str] = set()
    real_warm, real_run = warmup.warm, neo4j.ManagedTransaction.run

    def warm(modules: tuple[str, ...], *args: object, **kwargs: object) -> float:
        planned.extend(writer_statements(modules).values())
        return real_warm(modules, *args, **kwargs)  # type: ignore[arg-type]

    def run(self: neo4j.ManagedTransaction, query: str, *args: object, **kwargs: object) -> object:
        ran.add(query)
        return real_run(self, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(warmup, "warm", warm)
    monkeypatch.setattr(neo4j.ManagedTransaction, "run", run)
    run_query("CREATE (:Customer {customerId: 'C1'})")
    (tmp_path / "sessions.csv").write_text("sessionId,channel,startedAt,customerId,cookie\n"
                                           "S1,web,2026-12-01T10:00:00Z,C1,K1\nS2,web,2026-12-01T11:00:00Z,,K1\n"
                                           "S3,web,2026-12-01T12:00:00Z,,K2\nS4,web,2026-12-01T13:00:00Z,,K3\n")
    report = load_file(tmp_path / "sessions.csv", options=LoadOptions(batch_size=2, report_dir=tmp_path / "run"))
    assert report["entities"]["sessions"]["sessionsStitched"] == 1  # the backfill ran: S2 joined C1
    assert len(planned) == 2
    assert set(planned) <= ran, [statement[:80] for statement in set(planned) - ran]


def test_a_failed_planning_never_holds_a_load_back(monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> float:
        raise RuntimeError("no plans today")

    monkeypatch.setattr(warmup, "warm", broken)
    planning = warmup.Planning([("sessions",), ("identity",)], 5_000).start()
    planning.join()
    assert planning.first_planned.is_set()
    planning.wait()  # returns at once


def test_a_file_smaller_than_a_batch_plans_nothing_ahead(graph: Settings, tmp_path: Path, monkeypatch) -> None:
    """Its one batch is of another size class than the planned one (planning a whole writer module ahead for a
    file of 35 categories took 2.8 s on a just-started server)."""
    from loaders.pipeline import LoadOptions, load_file

    planned: list[object] = []
    monkeypatch.setattr(warmup, "warm", lambda *args, **kwargs: planned.append(args) or 0.0)
    (tmp_path / "categories.csv").write_text("categoryId,name\nK1,Kitchen\nK2,Garden\n")
    report = load_file(tmp_path / "categories.csv", options=LoadOptions(batch_size=3, report_dir=tmp_path / "run"))
    assert report["entities"]["categories"]["loaded"] == 2
    assert planned == []
    load_file(tmp_path / "categories.csv", options=LoadOptions(batch_size=2, report_dir=tmp_path / "run2"))
    assert planned == [(("catalogue",),)]


def test_a_collector_told_not_to_plan_ahead_plans_nothing_at_its_start(graph: Settings, tmp_path: Path,
                                                                      monkeypatch) -> None:
    planned: list[object] = []
    monkeypatch.setattr(warmup, "warm", lambda *args, **kwargs: planned.append(args) or 0.0)
    for plan_ahead in (False, True):
        collector = _collector(tmp_path / f"{plan_ahead}.sqlite", plan_ahead=plan_ahead)
        collector.warm()
        assert collector.warmed.is_set() and len(planned) == int(plan_ahead)
        collector.spool.close()


def test_a_warm_up_stops_when_told_and_a_stopped_collector_does_not_plan(graph: Settings, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """``customer-graph serve`` took 9 s to stop while its collector planned its writers (found at stop 42)."""
    import threading

    stop, planned = threading.Event(), []
    real_sample = warmup.sample_parameters

    def counted(statement: str, size: int = 1) -> object:
        planned.append(statement)
        if len(planned) == 3:
            stop.set()
        return real_sample(statement, size)

    monkeypatch.setattr(warmup, "sample_parameters", counted)
    warmup.warm(stop=stop)
    assert len(planned) == 3
    collector = _collector(tmp_path / "spool.sqlite")
    collector.stop()  # asked to stop before its warm-up got to the writers
    collector.warm()
    assert len(planned) == 3 and collector.warmed.is_set()
