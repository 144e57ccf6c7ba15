"""A full recompute: read the projection once, compute each family, write it back versioned.

:func:`run_all` is what ``customer-graph algorithms run`` calls. Computing is pure Python/numpy
(:mod:`algorithms.pipeline`), writing is the database's work (:mod:`algorithms.writeback`), so the two
overlap: each family's results go to one background writer thread, in order, while the main thread
computes the next family (the ``recommend`` family's ``RECOMMENDED`` are written while its buy-again
part computes). A failed write stops the writes queued after it; a failed computation lets the
writes already queued finish (they are complete results) and then raises; Ctrl-C lets only the
running write finish.

The computations run with one thread fewer than the machine has cores (BLAS and OpenMP, e.g. the
gradient-boosted buy-again and churn models; :func:`compute_threads`): the writes overlapping them need a
core, and OpenMP threads that wait for a busy core spin. On the 2-core VM, with another benchmark
running, the buy-again computation took 18-40 s with two threads and 5-15 s with one (same results).

Consent is read once per run, with the projection, under the process's policy
(:func:`graph_model.privacy.policy.current_policy`): a withdrawal or a grant takes effect at the next run.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from algorithms import retention, writeback
from algorithms.features import Interactions, build_interactions
from algorithms.pareto_nbd import ParetoNBD
from algorithms.pipeline import (
    Params,
    compute_affinity,
    compute_buy_again,
    compute_recommendations,
    compute_retention,
    compute_segments,
    compute_similarity,
    compute_trends,
    similarity_matrix,
)
from algorithms.projection import read_projection
from graph_model.errors import CustomerGraphError
from graph_model.privacy.policy import ConsentPolicy, current_policy

__all__ = ["FAMILIES", "AlgorithmsError", "Summary", "compute_threads", "load_interactions", "parse_only", "run_all"]

FAMILIES = writeback.FAMILIES
Progress = Callable[[str], None]


class AlgorithmsError(CustomerGraphError):
    """The algorithms were asked for something they cannot do (e.g. an unknown family)."""


@dataclass
class Summary:
    """What a run did: per stage seconds (stages overlap), per family counts, run ids, wall-clock total."""

    stages: dict[str, float] = field(default_factory=dict)
    written: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"stages": self.stages, "written": self.written, "runs": self.runs, "notes": self.notes,
                "total_seconds": round(self.wall_seconds, 2)}


class _Stage:
    """Times one stage into the summary and reports its start and end."""

    def __init__(self, summary: Summary, progress: Progress, name: str) -> None:
        self.summary, self.progress, self.name = summary, progress, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()
        self.progress(f"{self.name} ...")

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.start
        self.summary.stages[self.name] = round(self.summary.stages.get(self.name, 0) + seconds, 3)
        if exc[0] is None:
            self.progress(f"{self.name}: {seconds:.2f} s")


class _BackgroundWriter:
    """One thread running write jobs in submission order; after a failure the jobs queued later are skipped."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writeback")
        self._error: BaseException | None = None

    def _run(self, job: Callable[[], None]) -> None:
        if self._error is not None:
            return
        try:
            job()
        except BaseException as error:
            self._error = error
            raise

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; raises at once the error of a job that already failed."""
        if self._error is not None:
            raise self._error
        self._pool.submit(self._run, job)

    def finish(self) -> None:
        """Wait for every job; raise the first error."""
        self._pool.shutdown(wait=True)
        if self._error is not None:
            raise self._error

    def abandon(self, *, cancel_queued: bool = False) -> None:
        """Stop: the running job finishes; the queued ones too (they are complete results) unless
        ``cancel_queued``."""
        self._pool.shutdown(wait=True, cancel_futures=cancel_queued)


def _records(frame: pd.DataFrame, *columns: str) -> list[dict[str, Any]]:
    """Rows of ``frame``'s ``columns`` as dicts of plain Python values (the writers' ``$rows``); what
    ``to_dict("records")`` gives, built from one list per column (several times faster).

    >>> _records(pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "n": pd.array([3, None], dtype="Int64")}), "b", "a", "n")
    [{'b': 'x', 'a': 1, 'n': 3}, {'b': 'y', 'a': 2, 'n': None}]
    """
    values = [writeback.plain_values(frame[column]) for column in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def parse_only(only: str | Iterable[str] | None) -> tuple[str, ...]:
    """The families to write: all of them, or the comma-separated / listed ones (``affinities`` etc. accepted)."""
    if only is None:
        return FAMILIES
    items = only.split(",") if isinstance(only, str) else list(only)
    aliases = {"affinities": "affinity", "similar": "similarity", "recommendations": "recommend",
               "recommendation": "recommend", "segment": "segments", "trend": "trends", "churn": "retention"}
    chosen = []
    for item in (i.strip().lower() for i in items if i.strip()):
        name = aliases.get(item, item)
        if name not in FAMILIES:
            raise AlgorithmsError(f"unknown algorithm family {item!r}; choose from {', '.join(FAMILIES)}")
        chosen.append(name)
    return tuple(f for f in FAMILIES if f in chosen)


def compute_threads(cores: int | None = None) -> int:
    """Threads the computations of a run may use: one fewer than ``cores`` (default: this machine's), at least 1.

    >>> compute_threads(2), compute_threads(8), compute_threads(1)
    (1, 7, 1)
    """
    return max(1, (cores or os.cpu_count() or 1) - 1)


def load_interactions(progress: Progress | None = None, policy: ConsentPolicy | None = None) -> Interactions:
    """Read the projection from Neo4j and code it, with each customer's consent under ``policy`` (default:
    the process's :func:`~graph_model.privacy.policy.current_policy`)."""
    policy = policy or current_policy()
    proj = read_projection(progress, policy=policy)
    by_id = proj.customers.set_index("customerId")
    return build_interactions(proj.customers.customerId, proj.products, proj.stores.storeId, proj.orders,
                              proj.events, proj.visits, home_store=by_id["homeStore"],
                              consent=by_id[["personalisation", "analytics"]],
                              aggregates_without_analytics=policy.aggregates_without_analytics)


def run_all(only: str | Iterable[str] | None = None, *, params: Params | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
    """Recompute and write the chosen families (all by default); returns a summary dict.

    Families: ``affinity, similarity, segments, retention, trends, recommend``. Results each family
    depends on (e.g. similar shoppers for segments) are computed in memory when not written.
    """
    families = parse_only(only)
    params = params or Params()
    say = progress or (lambda _m: None)
    summary = Summary()
    started = time.perf_counter()

    def stage(name: str) -> _Stage:
        return _Stage(summary, say, name)

    with stage("projection"):
        data = load_interactions(say)
    say(f"{data.n_customers:,} customers, {data.n_products:,} products, {len(data.purchases):,} purchase lines, "
        f"{len(data.events):,} session events, {len(data.visits):,} visits; as of "
        f"{datetime.fromtimestamp(data.as_of_day * 86400, UTC):%Y-%m-%d %H:%M} UTC")
    writer = _BackgroundWriter()
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime now, so that the limit below reaches it)

    try:
        with threadpool_limits(limits=compute_threads()):
            _compute_and_queue(data, families, params, summary, stage, writer)
    except BaseException as error:  # Ctrl-C / exit: do not keep writing after the current job
        writer.abandon(cancel_queued=not isinstance(error, Exception))
        raise
    writer.finish()
    summary.wall_seconds = time.perf_counter() - started
    return summary.as_dict()


def _compute_and_queue(data: Interactions, families: tuple[str, ...], params: Params, summary: Summary,
                       stage: Callable[[str], _Stage], writer: _BackgroundWriter) -> None:
    """Compute each family on this thread and queue its write on ``writer`` (writes keep this order)."""
    cid = data.customers

    def queue(family: str, write: Callable[[str], dict[str, int]], run_id: str | None = None) -> None:
        def job() -> None:
            with stage(f"{family}: write"), writeback.versioned_run(family, run_id=run_id) as version:
                summary.written[family] = write(version)
                summary.runs[family] = version
        writer.submit(job)

    if "affinity" in families:
        with stage("affinity: compute"):
            aff = _records(compute_affinity(data, params), "source", "target", "kind", "score", "lift", "support",
                           "confidence", "rank")
        queue("affinity", lambda version: {"AFFINITY": writeback.write_affinity(aff, version)})

    sim_edges = pd.DataFrame(columns=["source", "target", "score", "rank"])
    if {"similarity", "segments", "recommend", "trends"} & set(families):
        with stage("similarity: compute"):
            k = max(params.similar_k, params.neighbours_for_recommend if "recommend" in families else 0)
            sim_edges = compute_similarity(data, params, k=k)
    closest = sim_edges[sim_edges["rank"] <= params.similar_k]
    if "similarity" in families:
        def write_similarity(version: str) -> dict[str, int]:  # rows built on the writer thread
            named = closest.assign(source=cid[closest.source.to_numpy(np.int64)],
                                   target=cid[closest.target.to_numpy(np.int64)])
            rows = _records(named, "source", "target", "score", "rank")
            return {"SIMILAR_TO": writeback.write_similarity(rows, version)}

        queue("similarity", write_similarity)

    if "recommend" in families:
        with stage("recommend: compute"):
            cust_sim = similarity_matrix(sim_edges, data.n_customers, params.neighbours_for_recommend)
            recs = compute_recommendations(data, params, customer_similarity=cust_sim)[
                ["customerId", "sku", "score", "rank", "reason", "evidence"]]  # written grouped per customer
        # RECOMMENDED are written while buy again computes; BUY_AGAIN join the same run when ready
        buy_again_ready: Future[tuple[pd.DataFrame, dict[str, Any]]] = Future()

        def write_recommend(version: str) -> dict[str, int]:
            written = {"RECOMMENDED": writeback.write_recommendations(recs, version)}
            again, fitted = buy_again_ready.result()  # raises what the computation raised: the run fails
            writeback.describe_run(version, fitted)
            written["BUY_AGAIN"] = writeback.write_buy_again(again, version)
            return written

        queue("recommend", write_recommend)
        try:  # whatever happens here, the writer waiting on buy_again_ready gets a result or the error
            with stage("buy again: compute"):
                due, due_model = compute_buy_again(data, params)
                again = due[["customerId", "sku", "probability", "rank", "reason", "cycleDays", "lastDate"]]
            buy_again_fit = {
                "buyAgainModel": "gradient-boosted" if due_model.classifier is not None else "share of days",
                "buyAgainTrainingPairs": due_model.training_pairs,
                "buyAgainPositiveRate": round(due_model.positive_rate, 6),
                "buyAgainHorizonDays": due_model.horizon_days}
        except BaseException as error:
            buy_again_ready.set_exception(error)
            raise
        buy_again_ready.set_result((again, buy_again_fit))
        summary.notes.append(f"buy again: {buy_again_fit['buyAgainModel']}, trained on {due_model.training_pairs:,} "
                             f"pairs ({due_model.positive_rate:.1%} bought again within {due_model.horizon_days:g} days)")

    members = None
    if "segments" in families or "trends" in families:
        with stage("segments: compute"):
            seg = compute_segments(data, closest, params)
    if "segments" in families:
        segments_run = writeback.new_run_id("segments")
        segment_rows = [{**r, "segmentId": f"{r['key']}@{segments_run}"} for r in seg["segments"].to_dict("records")]
        members = seg["members"].assign(key=seg["members"].key + "@" + segments_run)
        member_rows = _records(members.assign(customerId=cid[members.customer.to_numpy(np.int64)],
                                              segmentId=members.key), "customerId", "segmentId")
        rfm = _records(seg["rfm"].assign(customerId=cid[seg["rfm"].customer.to_numpy(np.int64)]),
                       "customerId", "recencyDays", "frequency", "monetary", "rfmScore", "rfmSegment")

        def write_segments(version: str) -> dict[str, int]:
            written = writeback.write_segments(segment_rows, member_rows, version)
            writeback.write_rfm(rfm)
            return {"Segment": len(segment_rows), "IN_SEGMENT": written, "Customer.rfm*": len(rfm)}

        queue("segments", write_segments, run_id=segments_run)

    if "retention" in families:
        with stage("retention: compute"):
            try:
                ret, model, churn_model = compute_retention(data, params)
            except retention.RetentionError as error:
                ret, model, churn_model = None, None, None
                summary.notes.append(f"retention skipped: {error}")
        if ret is None:  # nothing is rescored, but no customer without analytics keeps an older score
            unscored = cid[~data.permits("analytics")].tolist()

            def clear_unscored() -> None:
                writeback.clear_retention(unscored)

            if unscored:
                writer.submit(clear_unscored)
        if ret is not None and model is not None and churn_model is not None:
            fitted = {**_fit_description(model), "churnModel": "gradient-boosted" if churn_model.classifier is not None
                      else "1 - pAlive", "churnTrainingCustomers": churn_model.training_customers,
                      "churnHorizonDays": churn_model.horizon_days}
            summary.notes.append(f"{fitted['model']} {fitted['fit']}; churn risk: {fitted['churnModel']}")
            ret_rows = _records(ret.assign(customerId=cid[ret.customer.to_numpy(np.int64)]),
                                "customerId", "churnRisk", "pAlive", "expectedPurchases90d")

            def write_retention(version: str) -> dict[str, int]:
                writeback.describe_run(version, fitted)
                return {"Customer.retention": writeback.write_retention(ret_rows, version, fitted["model"])}

            queue("retention", write_retention)

    if "trends" in families:
        if members is None:
            members = _current_members(data)
        with stage("trends: compute"):
            tr = compute_trends(data, members, params)
        products = tr["products"]
        product_rows = [{"sku": s, "popularity": int(p), "popularityRank": int(pr) or None, "trendScore": float(ts),
                         "trendRank": int(trk) or None}
                        for s, p, pr, ts, trk in zip(products.sku, products.popularity, products.popularityRank,
                                                     products.trendScore, products.trendRank, strict=True)]
        at_rows = _records(tr["popular_at"], "storeId", "sku", "rank", "score")
        in_rows = _records(tr["popular_in"].rename(columns={"key": "segmentId"}), "segmentId", "sku", "rank", "score")

        def write_trends(version: str) -> dict[str, int]:
            writeback.write_product_trends(product_rows)
            return {"Product.trend": len(product_rows), "POPULAR_AT": writeback.write_popular_at(at_rows, version),
                    "POPULAR_IN": writeback.write_popular_in(in_rows, version)}

        queue("trends", write_trends)


def _fit_description(model: retention.BGNBD | ParetoNBD) -> dict[str, Any]:
    """The model's name, its fitted parameters in words and its log-likelihood (for the ``AlgorithmRun``)."""
    fitted = {name: value for name, value in dataclasses.asdict(model).items()
              if name not in ("log_likelihood", "modified")}
    return {"model": model.name, "fit": " ".join(f"{name}={value:.4g}" for name, value in fitted.items()),
            "logLikelihood": round(model.log_likelihood, 3)}


CURRENT_MEMBERS = """
MATCH (run:AlgorithmRun {family: 'segments', status: 'current'})
MATCH (c:Customer)-[m:IN_SEGMENT]->(s:Segment) WHERE m.version = run.runId
RETURN c.customerId AS customerId, s.segmentId AS segmentId
"""


def _current_members(data: Interactions) -> pd.DataFrame:
    from graph_model.connection import run_query

    rows = run_query(CURRENT_MEMBERS, write=False)
    frame = pd.DataFrame(rows, columns=["customerId", "segmentId"])
    return pd.DataFrame({"customer": data.customers.get_indexer(frame.customerId.astype(str)),
                         "key": frame.segmentId}).query("customer >= 0")
