"""Parallel writers never share a node they lock: sessions are partitioned by the customer who owns their
identifiers (loaders.entities.sessions_by_owner), so two writers cannot deadlock on a cookie or a customer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loaders.batching import Item, partition_of
from loaders.entities import SPECS
from loaders.exports import recognise
from loaders.generator import GeneratorConfig, generate
from loaders.readers import read_rows


def _session_params(drop: Path) -> list[dict[str, Any]]:
    spec = SPECS["sessions"]
    export = recognise(drop / "sessions.csv")
    assert export is not None
    return [spec.params(spec.schema.model_validate(raw)) for _, raw in read_rows(export)]


def _nodes_written_by_several_writers(keyed: Iterable[tuple[dict[str, Any], str]], writers: int) -> set[str]:
    """The Customer and Identity nodes that rows of more than one partition write."""
    partitions: dict[str, set[int]] = defaultdict(set)
    for row, key in keyed:
        p = partition_of(key, writers)
        for node in [*(i["key"] for i in row["identities"]), *([row["customerId"]] if row["customerId"] else [])]:
            partitions[node].add(p)
    return {node for node, ps in partitions.items() if len(ps) > 1}


def test_no_customer_or_identifier_is_written_by_two_writers(tmp_path: Path) -> None:
    generate(GeneratorConfig(customers=400, days=7, seed=5), tmp_path)
    rows = _session_params(tmp_path)
    assert sum(1 for r in rows if r["customerId"] is None) > 100  # anonymous sessions sharing cookies with logins
    spec = SPECS["sessions"]
    assert spec.partition_all is not None and spec.partition is not None
    keyed = list(spec.partition_all(Item("sessions.csv", n, None, row) for n, row in enumerate(rows)))
    assert sorted(item.params["sessionId"] for item, _ in keyed) == sorted(r["sessionId"] for r in rows)
    assert _nodes_written_by_several_writers(((item.params, key) for item, key in keyed), writers=2) == set()
    # the per-row rule alone (customer, else the session) would have two writers lock the same cookies
    assert _nodes_written_by_several_writers(((r, spec.partition(r)) for r in rows), writers=2)



def test_a_retried_deadlock_is_logged_with_its_code(graph, caplog) -> None:  # type: ignore[no-untyped-def]
    """Where writers still meet (a dense node created by two of them at once), the retry says why: the
    driver's own line is "Transaction failed and will be retried in 1.02s ()"."""
    import logging
    import threading

    from graph_model.connection import execute_write, run_query

    run_query("CREATE (:Product {sku: 'LOCK-A'}), (:Product {sku: 'LOCK-B'})")
    both_hold_one = threading.Barrier(2, timeout=20)
    attempts: list[str] = []

    def lock_in_order(first: str, second: str) -> None:
        def lock_both(tx) -> None:  # type: ignore[no-untyped-def]
            attempts.append(first)
            tx.run("MATCH (p:Product {sku: $sku}) SET p.lockedBy = $sku", sku=first).consume()
            if len(attempts) <= 2:  # the first attempt of each: hold one node until the other holds the other
                both_hold_one.wait()
            tx.run("MATCH (p:Product {sku: $sku}) SET p.lockedBy = $by", sku=second, by=first).consume()

        execute_write(lock_both)

    with caplog.at_level(logging.WARNING, logger="graph_model.connection"):
        threads = [threading.Thread(target=lock_in_order, args=order) for order in (("LOCK-A", "LOCK-B"),
                                                                                    ("LOCK-B", "LOCK-A"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(attempts) == 3  # one of the two was chosen as the deadlock's victim and ran again
    [record] = [r for r in caplog.records if r.name == "graph_model.connection"]
    assert (record.transaction, record.code) == ("lock_both", "Neo.TransientError.Transaction.DeadlockDetected")
    line = record.getMessage()
    assert line.startswith("lock_both: Neo.TransientError.Transaction.DeadlockDetected, retried: ")
    assert "can't acquire" in line
