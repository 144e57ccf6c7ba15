"""Every statement of the loaders (and of the algorithms' write-back) starts from index seeks: no label or index scans, no joins that scan,
no relationship-index seeks (a scan of every relationship of a type per row)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from algorithms import writeback
from graph_model.connection import session
from loaders.warmup import module_statements, writer_statements

SCANS = {"AllNodesScan", "NodeByLabelScan", "NodeIndexScan", "NodeHashJoin", "ValueHashJoin",
         "DirectedRelationshipTypeScan", "UndirectedRelationshipTypeScan", "DirectedRelationshipIndexSeek",
         "UndirectedRelationshipIndexSeek", "DirectedRelationshipIndexScan", "UndirectedRelationshipIndexScan",
         "DirectedAllRelationshipsScan", "UndirectedAllRelationshipsScan"}


def _statements() -> Iterator[tuple[str, str]]:
    # the writers, stitching and the consent writer (what the loaders run), and the algorithms' writers
    yield from writer_statements().items()
    yield from module_statements(writeback).items()


def _operators(plan: dict[str, Any]) -> Iterator[str]:
    yield plan["operatorType"].split("@")[0]
    for child in plan.get("children", []):
        yield from _operators(child)


def _described(plan: dict[str, Any], depth: int = 0) -> Iterator[str]:
    """The plan's operators with their details, indented (for a failure's message)."""
    yield "  " * depth + plan["operatorType"].split("@")[0] + " " + str(plan.get("args", {}).get("Details", ""))
    for child in plan.get("children", []):
        yield from _described(child, depth + 1)


STATEMENTS = dict(_statements())


def test_every_writer_statement_is_checked() -> None:
    assert {"events.CREATE_EVENTS", "orders.CREATE_ORDERS", "identity.BACKFILL_SESSIONS",
            "conversation.RESPONSES", "conversation.MESSAGE_CHANNELS", "consent.WRITE_CONSENTS",
            "visits.LOCATION_CONSENTS", "writeback.WRITE_BUY_AGAIN", "writeback.DELETE_RUNS"} <= set(STATEMENTS)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statement_plans_use_index_seeks(graph, name: str) -> None:
    with session() as s:
        plan = s.run("EXPLAIN " + STATEMENTS[name]).consume().plan
    assert not SCANS & set(_operators(plan)), name


def _first_load_of_logged_in_sessions(count: int) -> tuple[list[str], int]:
    """Write ``count`` logged-in sessions of distinct customers, one cookie each (the shape of a real
    clickstream export), in one transaction of the sessions writer (which links and resolves them too),
    into an empty graph; the session ids and the records the statement read."""
    from datetime import UTC, datetime

    from graph_model.connection import run_query
    from loaders.writers.sessions import SESSIONS

    started = datetime(2026, 10, 1, tzinfo=UTC)
    run_query("UNWIND range(1, $n) AS k CREATE (:Customer {customerId: 'U' + toString(k)})", {"n": count})
    rows = [{"sessionId": f"S{k}", "channel": "web", "startedAt": started, "props": {}, "storeId": None,
             "customerId": f"U{k}",
             "identities": [{"key": f"cookie:CK{k}", "type": "cookie", "value": f"CK{k}"},
                            {"key": f"customer_ref:U{k}", "type": "customer_ref", "value": f"U{k}"}]}
            for k in range(1, count + 1)]
    with session() as s:
        profile = s.execute_write(lambda tx: tx.run("PROFILE " + SESSIONS, rows=rows).consume().profile)
    return [row["sessionId"] for row in rows], sum(_db_hits(profile))


def test_stitching_plans_made_during_a_first_load_use_index_seeks(graph) -> None:
    """The plans that run in a first load are made right after the sessions are written, while the
    indexes' samples still describe an empty graph (the server resamples them later). Each writer
    statement is planned at that moment (query caches cleared) and must still start from seeks, and the
    linking of 3,000 sessions reads a bounded number of records per session."""
    from graph_model.connection import run_query

    for index in run_query("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
        run_query("CALL db.resampleIndex($name)", {"name": index["name"]})  # samples of an empty graph
    session_ids, written = _first_load_of_logged_in_sessions(3_000)
    assert written / len(session_ids) < 150, f"{written / len(session_ids):.0f} records read per session written"
    assert run_query("MATCH (:Identity)-[l:LINKED_TO {origin: 'login'}]->(:Identity) RETURN count(l) AS n")[0]["n"] \
        == run_query("MATCH (:Identity)-[x:IDENTIFIES]->(:Customer) RETURN count(x) AS n")[0]["n"] / 2 == 3_000
    run_query("CALL db.clearQueryCaches()")
    for name in sorted(STATEMENTS):  # every writer statement, planned at that moment
        with session() as s:
            plan = s.run("EXPLAIN " + STATEMENTS[name]).consume().plan
        assert not SCANS & set(_operators(plan)), f"{name}:\n" + "\n".join(_described(plan))
    with session() as s:
        profile = s.run("PROFILE " + STATEMENTS["identity.LINK_SESSION_IDENTITIES"],
                        sessionIds=session_ids).consume().profile
    hits = sum(_db_hits(profile))
    assert hits / len(session_ids) < 50, f"{hits / len(session_ids):.0f} records read per session"


def _db_hits(plan: dict[str, Any]) -> Iterator[int]:
    yield plan.get("dbHits", 0)
    for child in plan.get("children", []):
        yield from _db_hits(child)
