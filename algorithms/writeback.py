"""The thin write side: versioned results, written with ``UNWIND`` in batches (see docs/graph-contract.md).

A run of a family is bracketed by :func:`versioned_run`::

    with versioned_run("affinity") as run_id:       # (:AlgorithmRun {status: 'running'})
        write_affinity(rows, run_id)                # results carry version = run_id
    # on success, one transaction: this run -> 'current', the previous current -> 'superseded';
    # then superseded (and failed) results are deleted in batches, and so are their AlgorithmRun nodes.
    # on error: this run -> 'failed' and its partial results are deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from graph_model.connection import Rows, execute_write, run_query, session
from graph_model.errors import CustomerGraphError

__all__ = [
    "FAMILIES", "WritebackError", "describe_run", "versioned_run", "write_affinity", "write_popular_at", "write_popular_in",
    "clear_retention", "write_buy_again", "write_product_trends", "write_recommendations", "write_retention", "write_rfm",
    "write_segments", "write_similarity",
]

FAMILIES = ("affinity", "similarity", "segments", "retention", "trends", "recommend")
BATCH = 10_000
WRITERS = 1  # parallel writers for RECOMMENDED: 2 halved an isolated 257k-row write, but lost under load


class WritebackError(CustomerGraphError):
    """Results could not be written, or a run could not be switched to current."""


START_RUN = """
MATCH (stale:AlgorithmRun {family: $family, status: 'running'})
SET stale.status = 'failed', stale.finishedAt = datetime()
WITH count(stale) AS _
CREATE (:AlgorithmRun {runId: $runId, family: $family, status: 'running', startedAt: datetime()})
"""

SWITCH_RUN = """
MATCH (new:AlgorithmRun {runId: $runId, status: 'running'})
OPTIONAL MATCH (old:AlgorithmRun {family: $family, status: 'current'})
SET old.status = 'superseded'
WITH DISTINCT new
SET new.status = 'current', new.finishedAt = datetime()
RETURN new.runId AS runId
"""

FAIL_RUN = "MATCH (r:AlgorithmRun {runId: $runId}) SET r.status = 'failed', r.finishedAt = datetime()"

DESCRIBE_RUN = "MATCH (r:AlgorithmRun {runId: $runId}) SET r += $properties"

OBSOLETE_VERSIONS = """
MATCH (r:AlgorithmRun {family: $family}) WHERE r.status IN ['superseded', 'failed']
RETURN collect(r.runId) AS versions
"""

DELETE_RUNS = "MATCH (r:AlgorithmRun) WHERE r.runId IN $versions DELETE r"

#: Deletes results carrying one of ``$versions``; run in an implicit transaction (IN TRANSACTIONS).
DELETE_RESULTS: dict[str, tuple[str, ...]] = {
    "affinity": (
        "MATCH ()-[r:AFFINITY]->() WHERE r.version IN $versions CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
    ),
    "similarity": (
        "MATCH ()-[r:SIMILAR_TO]->() WHERE r.version IN $versions "
        "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
    ),
    "recommend": (
        "MATCH ()-[r:RECOMMENDED]->() WHERE r.version IN $versions "
        "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
        "MATCH ()-[r:BUY_AGAIN]->() WHERE r.version IN $versions "
        "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
    ),
    "segments": (
        "MATCH ()-[r:IN_SEGMENT]->() WHERE r.version IN $versions "
        "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
        "MATCH (s:Segment) WHERE s.version IN $versions CALL (s) { DETACH DELETE s } IN TRANSACTIONS OF 100 ROWS",
    ),
    "trends": (
        "MATCH ()-[r:POPULAR_AT]->() WHERE r.version IN $versions "
        "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
        "MATCH ()-[r:POPULAR_IN]->() WHERE r.version IN $versions "
        "CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
    ),
    "retention": (),
}

#: What a retention run writes on each customer it scores (:data:`WRITE_RETENTION`), and what both of its
#: clean-ups remove (:data:`CLEAN_STALE`, :data:`CLEAR_RETENTION`).
RETENTION_PROPERTIES = ("churnRisk", "pAlive", "expectedPurchases90d", "pastValue", "atStake", "retentionModel",
                        "retentionVersion")
_REMOVE_RETENTION = "REMOVE " + ", ".join(f"c.{name}" for name in RETENTION_PROPERTIES)

#: Node properties written in place and left over from earlier runs (customers no longer scored).
CLEAN_STALE: dict[str, tuple[str, ...]] = {
    "retention": (
        "MATCH (c:Customer) WHERE c.retentionVersion IS NOT NULL AND c.retentionVersion <> $runId "
        f"CALL (c) {{ {_REMOVE_RETENTION} }} IN TRANSACTIONS OF 10000 ROWS",
    ),
    "segments": (
        "MATCH (c:Customer) WHERE c.rfmScore IS NOT NULL "
        "AND NOT EXISTS { (c)-[:IN_SEGMENT {version: $runId}]->(:Segment {kind: 'rfm'}) } "
        "CALL (c) { REMOVE c.rfmRecencyDays, c.rfmFrequency, c.rfmMonetary, c.rfmScore, c.rfmSegment } "
        "IN TRANSACTIONS OF 10000 ROWS",
    ),
}

WRITE_AFFINITY = """
UNWIND $rows AS row
MATCH (a:Product {sku: row.source})
MATCH (b:Product {sku: row.target})
CREATE (a)-[:AFFINITY {kind: row.kind, score: row.score, lift: row.lift, support: row.support,
                       confidence: row.confidence, rank: row.rank, version: $version}]->(b)
"""

WRITE_SIMILARITY = """
UNWIND $rows AS row
MATCH (a:Customer {customerId: row.source})
MATCH (b:Customer {customerId: row.target})
CREATE (a)-[:SIMILAR_TO {score: row.score, rank: row.rank, version: $version}]->(b)
"""

#: One row per customer holding parallel lists (``sku[i]``, ``score[i]``, ...): no map per recommendation
#: to pack and unpack.
WRITE_RECOMMENDATIONS = """
UNWIND $rows AS row
MATCH (c:Customer {customerId: row.customerId})
UNWIND range(0, size(row.sku) - 1) AS i
MATCH (p:Product {sku: row.sku[i]})
CREATE (c)-[:RECOMMENDED {score: row.score[i], rank: row.rank[i], reason: row.reason[i], evidence: row.evidence[i],
                          version: $version}]->(p)
"""

WRITE_BUY_AGAIN = """
UNWIND $rows AS row
MATCH (c:Customer {customerId: row.customerId})
UNWIND range(0, size(row.sku) - 1) AS i
MATCH (p:Product {sku: row.sku[i]})
CREATE (c)-[:BUY_AGAIN {probability: row.probability[i], rank: row.rank[i], reason: row.reason[i],
                        cycleDays: row.cycleDays[i], lastDate: date(row.lastDate[i]), version: $version}]->(p)
"""

WRITE_SEGMENTS = """
UNWIND $rows AS row
CREATE (:Segment {segmentId: row.segmentId, kind: row.kind, name: row.name, description: row.description,
                  size: row.size, version: $version})
"""

WRITE_MEMBERSHIPS = """
UNWIND $rows AS row
MATCH (c:Customer {customerId: row.customerId})
MATCH (s:Segment {segmentId: row.segmentId})
CREATE (c)-[:IN_SEGMENT {version: $version}]->(s)
"""

WRITE_RFM = """
UNWIND $rows AS row
MATCH (c:Customer {customerId: row.customerId})
SET c.rfmRecencyDays = row.recencyDays, c.rfmFrequency = row.frequency, c.rfmMonetary = row.monetary,
    c.rfmScore = row.rfmScore, c.rfmSegment = row.rfmSegment
"""

#: A customer's past net value over ``orders`` (their ``PLACED`` orders), as the analysts' library counts it
#: (cypher/customers_at_risk.cypher holds the same expression): the sum of the order totals, cancellations
#: (negative totals) included.
PAST_VALUE = "reduce(total = 0.0, o IN orders | total + coalesce(o.total, 0.0))"

#: With the churn risk, what the keep-in-touch list orders by (api.queries.clienteling, through the
#: customer_home_store_at_stake index): ``pastValue`` as of this run and ``atStake = churnRisk x pastValue``.
WRITE_RETENTION = f"""
UNWIND $rows AS row
MATCH (c:Customer {{customerId: row.customerId}})
WITH c, row, [(c)-[:PLACED]->(o:Order) | o] AS orders
WITH c, row, {PAST_VALUE} AS pastValue
SET c.churnRisk = row.churnRisk, c.pAlive = row.pAlive, c.expectedPurchases90d = row.expectedPurchases90d,
    c.pastValue = pastValue, c.atStake = row.churnRisk * pastValue,
    c.retentionModel = $model, c.retentionVersion = $version
"""

CLEAR_RETENTION = f"""
UNWIND $rows AS customerId
MATCH (c:Customer {{customerId: customerId}}) WHERE c.retentionVersion IS NOT NULL
{_REMOVE_RETENTION}
"""

WRITE_PRODUCT_TRENDS = """
UNWIND $rows AS row
MATCH (p:Product {sku: row.sku})
SET p.popularity = row.popularity, p.popularityRank = row.popularityRank,
    p.trendScore = row.trendScore, p.trendRank = row.trendRank
"""

WRITE_POPULAR_AT = """
UNWIND $rows AS row
MATCH (s:Store {storeId: row.storeId})
MATCH (p:Product {sku: row.sku})
CREATE (s)-[:POPULAR_AT {rank: row.rank, score: row.score, version: $version}]->(p)
"""

WRITE_POPULAR_IN = """
UNWIND $rows AS row
MATCH (s:Segment {segmentId: row.segmentId})
MATCH (p:Product {sku: row.sku})
CREATE (s)-[:POPULAR_IN {rank: row.rank, score: row.score, version: $version}]->(p)
"""


def new_run_id(family: str) -> str:
    """A run id that sorts by time: ``<family>-<UTC timestamp>``."""
    return f"{family}-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"


def _write(query: str, rows: Sequence[dict[str, Any]], batch: int = BATCH, workers: int = 1, **params: Any) -> int:
    def work(tx: Any, chunk: Sequence[dict[str, Any]]) -> None:
        tx.run(query, rows=Rows(chunk), **params).consume()

    chunks = [rows[start:start + batch] for start in range(0, len(rows), batch)]
    if workers <= 1 or len(chunks) < 2:
        for chunk in chunks:
            execute_write(work, chunk)
    else:  # disjoint rows; transient lock conflicts are retried by execute_write
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(execute_write, work, chunk) for chunk in chunks]:
                future.result()
    return len(rows)


def _run_implicit(statements: Sequence[str], **params: Any) -> None:
    with session() as s:
        for statement in statements:
            s.run(statement, params).consume()


def _delete_versions(family: str, versions: list[str]) -> None:
    if versions:
        _run_implicit(DELETE_RESULTS[family], versions=versions)
        run_query(DELETE_RUNS, {"versions": versions})


@contextmanager
def versioned_run(family: str, run_id: str | None = None) -> Iterator[str]:
    """Bracket the writes of one run of ``family``; yields the run id to stamp results with.

    ``run_id``: one made earlier with :func:`new_run_id` (when results name it before they are written)."""
    if family not in FAMILIES:
        raise WritebackError(f"unknown algorithm family {family!r}; expected one of {', '.join(FAMILIES)}")
    run_id = run_id or new_run_id(family)
    run_query(START_RUN, {"family": family, "runId": run_id})
    try:
        yield run_id
    except BaseException:
        run_query(FAIL_RUN, {"runId": run_id})
        _delete_versions(family, [run_id])
        raise
    switched = run_query(SWITCH_RUN, {"family": family, "runId": run_id})
    if not switched:
        raise WritebackError(f"run {run_id} was no longer 'running' when it finished; results not switched")
    _delete_versions(family, run_query(OBSOLETE_VERSIONS, {"family": family}, write=False)[0]["versions"])
    if CLEAN_STALE.get(family):
        _run_implicit(CLEAN_STALE[family], runId=run_id)


def describe_run(run_id: str, properties: dict[str, Any]) -> None:
    """Record what a run fitted on its ``AlgorithmRun`` (e.g. ``model``, ``fit``, ``logLikelihood``)."""
    run_query(DESCRIBE_RUN, {"runId": run_id, "properties": properties})


def write_affinity(rows: Sequence[dict[str, Any]], version: str) -> int:
    """``rows``: ``source, target`` (SKUs), ``kind, score, lift, support, confidence, rank``."""
    return _write(WRITE_AFFINITY, rows, version=version)


def write_similarity(rows: Sequence[dict[str, Any]], version: str) -> int:
    """``rows``: ``source, target`` (customer ids), ``score, rank``."""
    return _write(WRITE_SIMILARITY, rows, version=version)


Results = pd.DataFrame | Sequence[dict[str, Any]]


def plain_values(column: pd.Series) -> list[Any]:
    """A column as plain Python values for the driver (``<NA>`` of a nullable column as ``None``).

    >>> plain_values(pd.Series([3, None], dtype="Int64")), plain_values(pd.Series([1.5, 2.0]))
    ([3, None], [1.5, 2.0])
    """
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and column.hasnans:
        return [None if value is pd.NA else value for value in column.tolist()]
    return column.to_numpy(dtype=object).tolist()


def per_customer(rows: Results, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """``rows`` grouped by ``customerId`` (in order of first appearance, rows keeping their order) as one
    dict per customer holding a list per key of ``keys``.

    >>> per_customer(pd.DataFrame({"customerId": ["b", "a", "b"], "sku": ["x", "y", "z"], "rank": [1, 1, 2]}),
    ...              ("sku", "rank"))
    [{'customerId': 'b', 'sku': ['x', 'z'], 'rank': [1, 2]}, {'customerId': 'a', 'sku': ['y'], 'rank': [1]}]
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=["customerId", *keys], dtype=object)
    if frame.empty:
        return []
    codes, _ = pd.factorize(frame["customerId"], sort=False)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]).tolist()
    ends = [*starts[1:], len(codes)]
    customers = frame["customerId"].to_numpy(dtype=object)[order[starts]].tolist()
    columns = {key: plain_values(frame[key].iloc[order]) for key in keys}
    return [{"customerId": customer, **{key: values[start:end] for key, values in columns.items()}}
            for customer, start, end in zip(customers, starts, ends, strict=True)]


def _write_per_customer(query: str, rows: Results, keys: tuple[str, ...], version: str, per_batch: int) -> int:
    """Rows sent grouped by ``customerId`` (one customer lookup for all of theirs, see :func:`per_customer`),
    about ``per_batch`` rows a transaction."""
    batch = per_customer(rows, keys)
    per_customer_rows = max(1, len(rows) // max(len(batch), 1))
    _write(query, batch, batch=max(1, per_batch // per_customer_rows), workers=WRITERS, version=version)
    return len(rows)


def write_recommendations(rows: Results, version: str, per_batch: int = 10_000) -> int:
    """``rows`` (a frame or dicts): ``customerId, sku, score, rank, reason, evidence``."""
    return _write_per_customer(WRITE_RECOMMENDATIONS, rows, ("sku", "score", "rank", "reason", "evidence"), version,
                               per_batch)


def write_buy_again(rows: Results, version: str, per_batch: int = 10_000) -> int:
    """``rows`` (a frame or dicts): ``customerId, sku, probability, rank, reason, cycleDays`` (null for a
    single purchase), ``lastDate`` (``YYYY-MM-DD``); written in the ``recommend`` family's run."""
    return _write_per_customer(WRITE_BUY_AGAIN, rows, ("sku", "probability", "rank", "reason", "cycleDays", "lastDate"),
                               version, per_batch)


def write_segments(segments: Sequence[dict[str, Any]], memberships: Sequence[dict[str, Any]], version: str) -> int:
    """``segments``: ``segmentId, kind, name, description, size``; ``memberships``: ``customerId, segmentId``."""
    _write(WRITE_SEGMENTS, segments, version=version)
    return _write(WRITE_MEMBERSHIPS, memberships, version=version)


def write_rfm(rows: Sequence[dict[str, Any]]) -> int:
    """``rows``: ``customerId, recencyDays, frequency, monetary, rfmScore, rfmSegment``."""
    return _write(WRITE_RFM, rows)


def write_retention(rows: Sequence[dict[str, Any]], version: str, model: str) -> int:
    """``rows``: ``customerId, churnRisk, pAlive, expectedPurchases90d``; each customer's ``pastValue`` and
    ``atStake`` (churn risk x past value) are computed from their orders as they are written."""
    return _write(WRITE_RETENTION, rows, version=version, model=model)


def clear_retention(customer_ids: Sequence[str]) -> int:
    """Remove the retention properties of these customers (those who may no longer be scored, when a run
    writes no retention at all; a run that writes some removes the others' through ``CLEAN_STALE``)."""
    return _write(CLEAR_RETENTION, customer_ids)


def write_product_trends(rows: Sequence[dict[str, Any]]) -> int:
    """``rows``: ``sku, popularity, popularityRank, trendScore, trendRank`` (ranks may be null)."""
    return _write(WRITE_PRODUCT_TRENDS, rows)


def write_popular_at(rows: Sequence[dict[str, Any]], version: str) -> int:
    """``rows``: ``storeId, sku, rank, score``."""
    return _write(WRITE_POPULAR_AT, rows, version=version)


def write_popular_in(rows: Sequence[dict[str, Any]], version: str) -> int:
    """``rows``: ``segmentId, sku, rank, score``."""
    return _write(WRITE_POPULAR_IN, rows, version=version)
