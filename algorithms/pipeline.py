"""The full recompute: read the projection once, compute each family, write it back versioned.

:func:`run_all` is what ``customer-graph algorithms run`` calls. The ``compute_*`` functions take coded
:class:`~algorithms.features.Interactions` and return plain frames; the benchmarks call the same
functions on data read from files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms import affinity, recommend, retention, segments, similarity, trends, writeback
from algorithms._sparse import coo_to_csr, top_k_per_row
from algorithms.features import Interactions, build_interactions
from algorithms.projection import read_projection
from graph_model.errors import CustomerGraphError

__all__ = [
    "FAMILIES", "Params", "compute_affinity", "compute_recommendations", "compute_retention", "compute_segments",
    "compute_similarity", "compute_trends", "run_all",
]

FAMILIES = writeback.FAMILIES
Progress = Callable[[str], None]


class AlgorithmsError(CustomerGraphError):
    """The algorithms were asked for something they cannot do (e.g. an unknown family)."""


@dataclass(frozen=True)
class Params:
    """Knobs of a full run (defaults are the ones the benchmarks measured)."""

    affinity_k: int = 10
    affinity_min_count: int = 2
    similar_k: int = 10
    similar_min_score: float = 0.05
    half_life_days: float = 180.0
    recommend_n: int = 50
    item_weight: float = 1.0
    neighbour_weight: float = 1.0
    popularity_weight: float = 0.02
    neighbours_for_recommend: int = 100
    recommend_item_k: int = 10
    seed: int = 42
    community_min_size: int = 5
    popular_k: int = 20
    trend_recent_days: int = 28
    trend_baseline_days: int = 112
    horizon_days: float = 90.0
    retention_model: str = "mbgnbd"  # or "bgnbd"


# ---------------------------------------------------------------- compute (pure)

def compute_affinity(data: Interactions, params: Params = Params()) -> pd.DataFrame:
    """Bought-together and viewed-together affinities: ``source, target`` (SKUs), ``kind, score, lift, ...``."""
    frames = []
    for kind, baskets in (("bought_together", data.order_baskets()), ("viewed_together", data.session_baskets())):
        if baskets.shape[0] == 0:
            continue
        a = affinity.product_affinity(baskets, k=params.affinity_k, min_count=params.affinity_min_count)
        a.insert(0, "kind", kind)
        frames.append(a)
    if not frames:
        return pd.DataFrame(columns=["kind", "source", "target", "count", "support", "confidence", "lift", "score",
                                     "rank"])
    out = pd.concat(frames, ignore_index=True)
    out["source"] = data.products[out["source"].to_numpy()]
    out["target"] = data.products[out["target"].to_numpy()]
    return out


def recommendation_item_similarity(data: Interactions, params: Params = Params()) -> tuple[sp.csr_array, sp.csr_array]:
    """The product-to-product affinities recommendations are scored with: ``(purchase, combined)``.

    ``purchase``: products bought by the same customers (cosine over the customers x products purchase
    matrix), each product keeping its ``recommend_item_k`` best partners (pruning the long tail of weak
    pairs is what made item-to-item scoring beat the baselines in benchmarks/bench_recommend.py).
    ``combined`` adds, at a third of the weight, products viewed together in the same session.
    """
    def pruned(sim: sp.csr_array) -> sp.csr_array:
        top = top_k_per_row(sim, params.recommend_item_k)
        return coo_to_csr(top.row.to_numpy(), top.col.to_numpy(), top.value.to_numpy(), sim.shape)

    purchase = pruned(affinity.item_similarity(data.bought(), min_count=1))
    combined = purchase
    sessions = data.session_baskets()
    if sessions.shape[0] and sessions.nnz:
        combined = sp.csr_array(purchase + pruned(affinity.item_similarity(sessions, min_count=params.affinity_min_count))
                                / 3.0, dtype=np.float32)
    return purchase, combined


def compute_similarity(data: Interactions, params: Params = Params(), *, k: int | None = None) -> pd.DataFrame:
    """Top-k similar customers: ``source, target`` (codes), ``score, rank``."""
    features = data.customer_features(half_life_days=params.half_life_days)
    return similarity.similar_customers(features, k=k or params.similar_k, min_score=params.similar_min_score)


def similarity_matrix(edges: pd.DataFrame, n_customers: int, k: int | None = None) -> sp.csr_array:
    """Customers x customers from similarity edges (optionally only ranks <= ``k``)."""
    if k is not None:
        edges = edges[edges["rank"] <= k]
    return coo_to_csr(edges.source.to_numpy(), edges.target.to_numpy(), edges.score.to_numpy(),
                      (n_customers, n_customers))


def compute_recommendations(data: Interactions, params: Params = Params(), *,
                            item_similarity: sp.csr_array | None = None,
                            customer_similarity: sp.csr_array | None = None, explain: bool = True) -> pd.DataFrame:
    """Top-N recommendations with reasons: ``customerId, sku, score, rank, reason, evidence`` (+ codes)."""
    purchase_similarity, combined = recommendation_item_similarity(data, params)
    if item_similarity is None:
        item_similarity = combined
    if customer_similarity is None:
        edges = compute_similarity(data, params, k=params.neighbours_for_recommend)
        customer_similarity = similarity_matrix(edges, data.n_customers)
    bought = data.bought()
    history = data.history(half_life_days=params.half_life_days)
    popularity = np.asarray(bought.sum(axis=0)).ravel()
    recs = recommend.recommend(history, item_similarity, customer_similarity=customer_similarity,
                               neighbour_items=bought, exclude=bought, popularity=popularity, n=params.recommend_n,
                               item_weight=params.item_weight, neighbour_weight=params.neighbour_weight,
                               popularity_weight=params.popularity_weight)
    if not explain:
        return recs
    closest = top_k_per_row(customer_similarity, params.similar_k)  # evidence: the k most similar shoppers
    closest = coo_to_csr(closest.row.to_numpy(), closest.col.to_numpy(), closest.value.to_numpy(),
                         customer_similarity.shape)
    explained = recommend.explain(recs, history, item_similarity, customer_similarity=closest,
                                  neighbour_items=bought)
    last_day, was_bought = data.last_interaction()
    because = explained["because_of"].to_numpy()
    has = because >= 0
    customers = explained["customer"].to_numpy()
    day = np.zeros(len(explained))
    flag = np.zeros(len(explained), dtype=bool)
    day[has] = last_day[customers[has], because[has]] - 1
    flag[has] = was_bought[customers[has], because[has]] > 0
    together = np.ones(len(explained), dtype=bool)
    together[has] = purchase_similarity[because[has], explained["product"].to_numpy()[has]] > 0
    dates = np.full(len(explained), "", dtype=object)
    dates[has] = pd.to_datetime(day[has], unit="D").strftime("%Y-%m-%d").to_numpy(dtype=object)
    reasons, evidence = recommend.reason_text(explained, data.products.to_numpy(dtype=object), data.product_names,
                                              data.customers.to_numpy(dtype=object), dates, flag, together)
    explained["customerId"] = data.customers[customers]
    explained["sku"] = data.products[explained["product"].to_numpy()]
    explained["reason"] = reasons
    explained["evidence"] = evidence
    return explained


def compute_segments(data: Interactions, similar_edges: pd.DataFrame, params: Params = Params()) -> dict[str, Any]:
    """Communities and RFM segments: ``segments`` (rows), ``members`` (customer code, segment key),
    ``rfm`` (per customer with purchases)."""
    labels = segments.shopper_communities(similar_edges.source.to_numpy(), similar_edges.target.to_numpy(),
                                          similar_edges.score.to_numpy(), data.n_customers, seed=params.seed,
                                          min_size=params.community_min_size)
    described = segments.describe_communities(labels, data.bought(), data.product_names)
    rows = [{"key": f"community-{r.community + 1}", "kind": "community", "name": r.name, "description": r.description,
             "size": int(r.size)} for r in described.itertuples()]
    member_frames = [pd.DataFrame({"customer": np.flatnonzero(labels >= 0),
                                   "key": [f"community-{n + 1}" for n in labels[labels >= 0]]})]

    p = data.known_purchases()
    rfm_rows = pd.DataFrame(columns=["customer", "recencyDays", "frequency", "monetary", "rfmScore", "rfmSegment"])
    if len(p):
        per = p.groupby("customer").agg(last=("day", "max"), frequency=("order", "nunique"), monetary=("value", "sum"))
        recency = np.floor(data.as_of_day - per["last"].to_numpy())
        scored = segments.rfm_scores(recency, per.frequency.to_numpy(), per.monetary.to_numpy())
        rfm_rows = pd.DataFrame({"customer": per.index.to_numpy(), "recencyDays": recency.astype(np.int64),
                                 "frequency": per.frequency.to_numpy(np.int64),
                                 "monetary": per.monetary.round(2).to_numpy(np.float64),
                                 "rfmScore": scored.rfmScore.to_numpy(), "rfmSegment": scored.rfmSegment.to_numpy()})
        descriptions = {name: text for name, _, text in segments.RFM_SEGMENTS}
        sizes = rfm_rows.rfmSegment.value_counts()
        for name, size in sizes.items():
            slug = "rfm-" + str(name).lower().replace("'", "").replace(" ", "-")
            rows.append({"key": slug, "kind": "rfm", "name": str(name),
                         "description": f"RFM: {size} customers who {descriptions.get(str(name), '')}".rstrip(),
                         "size": int(size)})
        member_frames.append(pd.DataFrame({
            "customer": rfm_rows.customer.to_numpy(),
            "key": "rfm-" + rfm_rows.rfmSegment.str.lower().str.replace("'", "").str.replace(" ", "-")}))
    return {"segments": pd.DataFrame(rows, columns=["key", "kind", "name", "description", "size"]),
            "members": pd.concat(member_frames, ignore_index=True), "rfm": rfm_rows, "labels": labels}


def compute_retention(data: Interactions, params: Params = Params()) -> tuple[pd.DataFrame, retention.BGNBD]:
    """MBG/NBD per customer with purchases: ``customer, pAlive, churnRisk, expectedPurchases90d``."""
    p = data.known_purchases()
    summary = retention.rfm_summary(p.customer.to_numpy(), p.day.to_numpy(), data.as_of_day)
    model = retention.fit_bgnbd(summary.x.to_numpy(), summary.t_x.to_numpy(), summary["T"].to_numpy(),
                                modified=params.retention_model == "mbgnbd")
    args = (summary.x.to_numpy(), summary.t_x.to_numpy(), summary["T"].to_numpy())
    alive = retention.p_alive(model, *args)
    expected = retention.expected_purchases(model, params.horizon_days / 7.0, *args)
    return pd.DataFrame({"customer": summary.index.to_numpy(), "pAlive": alive, "churnRisk": 1.0 - alive,
                         "expectedPurchases90d": expected}), model


def compute_trends(data: Interactions, members: pd.DataFrame | None = None,
                   params: Params = Params()) -> dict[str, pd.DataFrame]:
    """Product popularity/trend, top products per store (``POPULAR_AT``) and per segment (``POPULAR_IN``).

    ``members`` maps customer codes to segment keys (``customer, key``)."""
    p = data.purchases
    known = p[p.customer >= 0]
    product_rows = trends.product_trends(known.customer.to_numpy(), known["product"].to_numpy(), known.day.to_numpy(),
                                         data.n_products, data.as_of_day, recent_days=params.trend_recent_days,
                                         baseline_days=params.trend_baseline_days)
    product_rows.insert(0, "sku", data.products.to_numpy())
    # stores: purchases made there, plus purchases of the customers whose home store it is
    in_store = p[p.store >= 0]
    homes = data.home_store[known.customer.to_numpy()] if len(known) else np.array([], dtype=np.int64)
    group = np.concatenate([in_store.store.to_numpy(), homes])
    buyer = np.concatenate([np.where(in_store.customer >= 0, in_store.customer, -1 - in_store.order),
                            known.customer.to_numpy()])
    product = np.concatenate([in_store["product"].to_numpy(), known["product"].to_numpy()])
    at_store = trends.popular_by_group(group, buyer, product, len(data.stores), data.n_products, k=params.popular_k)
    at_store["storeId"] = data.stores[at_store.group.to_numpy()]
    at_store["sku"] = data.products[at_store["product"].to_numpy()]
    in_segment = pd.DataFrame(columns=["key", "sku", "rank", "score"])
    if members is not None and len(members):
        keys = pd.Index(pd.unique(members.key))
        seg_of = members.assign(g=keys.get_indexer(members.key))
        joined = known.merge(seg_of[["customer", "g"]], on="customer")
        top = trends.popular_by_group(joined.g.to_numpy(), joined.customer.to_numpy(), joined["product"].to_numpy(),
                                      len(keys), data.n_products, k=params.popular_k)
        in_segment = pd.DataFrame({"key": keys[top.group.to_numpy()], "sku": data.products[top["product"].to_numpy()],
                                   "rank": top["rank"].to_numpy(), "score": top.score.to_numpy()})
    return {"products": product_rows, "popular_at": at_store, "popular_in": in_segment}


# ---------------------------------------------------------------- the run

@dataclass
class Summary:
    """What a run did: per stage seconds, per family counts and run ids."""

    stages: dict[str, float] = field(default_factory=dict)
    written: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"stages": self.stages, "written": self.written, "runs": self.runs, "notes": self.notes,
                "total_seconds": round(sum(self.stages.values()), 2)}


class _Clock:
    def __init__(self, summary: Summary, progress: Progress) -> None:
        self.summary, self.progress = summary, progress

    def stage(self, name: str) -> _Stage:
        return _Stage(self, name)


class _Stage:
    def __init__(self, clock: _Clock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()
        self.clock.progress(f"{self.name} ...")

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.start
        self.clock.summary.stages[self.name] = round(self.clock.summary.stages.get(self.name, 0) + seconds, 3)
        if exc[0] is None:
            self.clock.progress(f"{self.name}: {seconds:.2f} s")


def _records(frame: pd.DataFrame, columns: dict[str, str]) -> list[dict[str, Any]]:
    renamed = frame[list(columns)].rename(columns=columns)
    return renamed.to_dict("records")


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


def load_interactions(progress: Progress | None = None) -> Interactions:
    """Read the projection from Neo4j and code it."""
    proj = read_projection(progress)
    return build_interactions(proj.customers.customerId, proj.products, proj.stores.storeId, proj.orders,
                              proj.events, proj.visits,
                              home_store=proj.customers.set_index("customerId")["homeStore"])


def run_all(only: str | Iterable[str] | None = None, *, params: Params = Params(),
            progress: Progress | None = None) -> dict[str, Any]:
    """Recompute and write the chosen families (all by default); returns a summary dict.

    Families: ``affinity, similarity, segments, retention, trends, recommend``. Results each family
    depends on (e.g. similar shoppers for segments) are computed in memory when not written.
    """
    families = parse_only(only)
    say = progress or (lambda _m: None)
    summary = Summary()
    clock = _Clock(summary, say)
    with clock.stage("projection"):
        data = load_interactions(say)
    say(f"{data.n_customers:,} customers, {data.n_products:,} products, {len(data.purchases):,} purchase lines, "
        f"{len(data.events):,} session events, {len(data.visits):,} visits; as of "
        f"{datetime.fromtimestamp(data.as_of_day * 86400, UTC):%Y-%m-%d %H:%M} UTC")
    cid = data.customers

    if "affinity" in families:
        with clock.stage("affinity: compute"):
            aff = compute_affinity(data, params)
        with clock.stage("affinity: write"), writeback.versioned_run("affinity") as run_id:
            rows = _records(aff, {c: c for c in ("source", "target", "kind", "score", "lift", "support",
                                                 "confidence", "rank")})
            summary.written["affinity"] = {"AFFINITY": writeback.write_affinity(rows, run_id)}
            summary.runs["affinity"] = run_id

    need_similarity = bool({"similarity", "segments", "recommend", "trends"} & set(families))
    sim_edges = pd.DataFrame(columns=["source", "target", "score", "rank"])
    if need_similarity:
        with clock.stage("similarity: compute"):
            k = max(params.similar_k, params.neighbours_for_recommend if "recommend" in families else 0)
            sim_edges = compute_similarity(data, params, k=k)
    if "similarity" in families:
        with clock.stage("similarity: write"), writeback.versioned_run("similarity") as run_id:
            top = sim_edges[sim_edges["rank"] <= params.similar_k]
            rows = [{"source": cid[s], "target": cid[t], "score": float(sc), "rank": int(r)}
                    for s, t, sc, r in zip(top.source.to_numpy(), top.target.to_numpy(), top.score.to_numpy(),
                                           top["rank"].to_numpy(), strict=True)]
            summary.written["similarity"] = {"SIMILAR_TO": writeback.write_similarity(rows, run_id)}
            summary.runs["similarity"] = run_id

    members = None
    if "segments" in families or "trends" in families:
        with clock.stage("segments: compute"):
            seg = compute_segments(data, sim_edges[sim_edges["rank"] <= params.similar_k], params)
    if "segments" in families:
        with clock.stage("segments: write"), writeback.versioned_run("segments") as run_id:
            segment_rows = [{**r, "segmentId": f"{r['key']}@{run_id}"} for r in seg["segments"].to_dict("records")]
            member_rows = [{"customerId": cid[c], "segmentId": f"{k}@{run_id}"}
                           for c, k in zip(seg["members"].customer.to_numpy(), seg["members"].key, strict=True)]
            rfm = seg["rfm"].assign(customerId=cid[seg["rfm"].customer.to_numpy(np.int64)])
            written = writeback.write_segments(segment_rows, member_rows, run_id)
            writeback.write_rfm(_records(rfm, {c: c for c in ("customerId", "recencyDays", "frequency", "monetary",
                                                               "rfmScore", "rfmSegment")}))
            summary.written["segments"] = {"Segment": len(segment_rows), "IN_SEGMENT": written,
                                           "Customer.rfm*": len(rfm)}
            summary.runs["segments"] = run_id
            members = seg["members"].assign(key=seg["members"].key + "@" + run_id)

    if "retention" in families:
        with clock.stage("retention: compute"):
            try:
                ret, model = compute_retention(data, params)
            except retention.RetentionError as error:
                ret, model = None, None
                summary.notes.append(f"retention skipped: {error}")
        if ret is not None and model is not None:
            summary.notes.append(f"{model.name} r={model.r:.3f} alpha={model.alpha:.3f} a={model.a:.3f} b={model.b:.3f}")
            with clock.stage("retention: write"), writeback.versioned_run("retention") as run_id:
                ret = ret.assign(customerId=cid[ret.customer.to_numpy(np.int64)])
                rows = _records(ret, {c: c for c in ("customerId", "churnRisk", "pAlive", "expectedPurchases90d")})
                summary.written["retention"] = {"Customer.retention": writeback.write_retention(rows, run_id, model.name)}
                summary.runs["retention"] = run_id

    if "trends" in families:
        if members is None:
            members = _current_members(data)
        with clock.stage("trends: compute"):
            tr = compute_trends(data, members, params)
        with clock.stage("trends: write"), writeback.versioned_run("trends") as run_id:
            products = tr["products"]
            rows = [{"sku": s, "popularity": int(p), "popularityRank": int(pr) or None, "trendScore": float(ts),
                     "trendRank": int(trk) or None}
                    for s, p, pr, ts, trk in zip(products.sku, products.popularity, products.popularityRank,
                                                 products.trendScore, products.trendRank, strict=True)]
            writeback.write_product_trends(rows)
            at = writeback.write_popular_at(_records(tr["popular_at"], {"storeId": "storeId", "sku": "sku",
                                                                        "rank": "rank", "score": "score"}), run_id)
            in_seg = tr["popular_in"].rename(columns={"key": "segmentId"})
            pin = writeback.write_popular_in(_records(in_seg, {"segmentId": "segmentId", "sku": "sku", "rank": "rank",
                                                               "score": "score"}), run_id)
            summary.written["trends"] = {"Product.trend": len(rows), "POPULAR_AT": at, "POPULAR_IN": pin}
            summary.runs["trends"] = run_id

    if "recommend" in families:
        with clock.stage("recommend: compute"):
            cust_sim = similarity_matrix(sim_edges, data.n_customers, params.neighbours_for_recommend)
            recs = compute_recommendations(data, params, customer_similarity=cust_sim)
        with clock.stage("recommend: write"), writeback.versioned_run("recommend") as run_id:
            rows = _records(recs, {"customerId": "customerId", "sku": "sku", "score": "score", "rank": "rank",
                                   "reason": "reason", "evidence": "evidence"})
            summary.written["recommend"] = {"RECOMMENDED": writeback.write_recommendations(rows, run_id)}
            summary.runs["recommend"] = run_id
    return summary.as_dict()


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
