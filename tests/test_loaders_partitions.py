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

