"""The pure computations of each algorithm family, on coded :class:`~algorithms.features.Interactions`.

Each ``compute_*`` function returns plain frames; :mod:`algorithms.run` calls them in a full recompute
and the benchmarks call them on data read from files.

Each reads the consent view of :class:`~algorithms.features.Interactions` its use is allowed (see
:mod:`algorithms.features`): product-level aggregates (affinities, item similarity, the EASE model,
popularity, trends) read ``for_aggregates``; similarity reads ``for_similar_shoppers`` (so a customer
without analytics or personalisation is nobody's similar shopper, nor has any); segments and retention
read ``for_customer_models``; a customer's own recommendations read ``for_personalisation`` (no
recommendation without personalisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms import (
    affinity,
    buy_again,
    churn,
    pareto_nbd,
    recommend,
    retention,
    segments,
    similarity,
    trends,
)
from algorithms._sparse import coo_to_csr, top_k_per_row
from algorithms.features import Interactions

__all__ = [
    "Params", "compute_affinity", "compute_buy_again", "compute_recommendations", "compute_retention", "compute_segments",
    "compute_similarity", "compute_trends", "recent_popularity", "recommendation_item_similarity", "similarity_matrix",
]


@dataclass(frozen=True)
class Params:
    """Knobs of a full run (defaults are the ones the benchmarks measured)."""

    affinity_k: int = 10
    affinity_min_count: int = 2
    similar_k: int = 10
    similar_min_score: float = 0.05
    half_life_days: float = 180.0
    recommend_n: int = 20  # stored per customer: a page of products; the API blends context on top
    # recommendation weights, chosen on the validation window of benchmarks/bench_recommend.py
    model_weight: float = 1.0  # EASE part (learned item-to-item weights)
    item_weight: float = 0.25  # affinity part (bought/viewed-together cosine)
    neighbour_weight: float = 0.25  # similar-shoppers part
    # recent popularity: distinct buyers in the last popularity_days, times their trend^popularity_trend; these
    # three chosen together on the early and validation windows (variant B NDCG@10 0.166 / 0.172 with 0.2, 28
    # days and 0.5 -> 0.170 / 0.177; docs/algorithms.md)
    popularity_weight: float = 0.6
    popularity_days: float = 14.0
    popularity_trend: float = 1.0
    popularity_baseline_days: float = 84.0  # the trend compares with the buyers of these days before
    ease_l2: float = 100.0
    ease_half_life_days: float = 60.0  # recency decay of the purchases EASE is fitted on and scores with
    ease_max_products: int = 6000  # EASE covers the most-bought products (a dense products² inverse)
    neighbours_for_recommend: int = 100
    recommend_item_k: int = 10
    buy_again_n: int = 20  # due re-orders stored per customer (BUY_AGAIN)
    buy_again_min_probability: float = 0.02  # below this a past product is not worth proposing again
    seed: int = 42
    community_min_size: int = 5
    popular_k: int = 20
    trend_recent_days: int = 28
    trend_baseline_days: int = 112
    horizon_days: float = 90.0
    retention_model: str = "paretonbd"  # or "mbgnbd", "bgnbd" (benchmarks/bench_retention.py chose it)


# ---------------------------------------------------------------- compute (pure)

def compute_affinity(data: Interactions, params: Params = Params()) -> pd.DataFrame:
    """Bought-together and viewed-together affinities: ``source, target`` (SKUs), ``kind, score, lift, ...``."""
    data = data.for_aggregates
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
    Product-level: reads ``data.for_aggregates``.
    """
    data = data.for_aggregates

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
    """Top-k similar customers: ``source, target`` (codes), ``score, rank``.

    Only customers who permit analytics and personalisation are in the model: the others' features are
    left out (their rows are empty, so they are nobody's neighbour and the top-k of everyone else is
    taken among the eligible), and no edge starts or ends at them."""
    features = data.for_similar_shoppers.customer_features(half_life_days=params.half_life_days)
    edges = similarity.similar_customers(features, k=k or params.similar_k, min_score=params.similar_min_score)
    return only_eligible_edges(edges, data.similar_shopper_eligible)


def only_eligible_edges(edges: pd.DataFrame, eligible: np.ndarray) -> pd.DataFrame:
    """Similarity edges whose two ends are ``eligible`` (bool per customer code), ranks renumbered 1, 2, ...
    per source (``edges`` sorted by source, then rank, as :func:`compute_similarity` returns them)."""
    eligible = np.asarray(eligible, dtype=bool)
    keep = eligible[edges.source.to_numpy(np.int64)] & eligible[edges.target.to_numpy(np.int64)]
    if keep.all():
        return edges
    kept = edges[keep].reset_index(drop=True)
    source = kept.source.to_numpy(np.int64)
    starts = np.flatnonzero(np.r_[True, source[1:] != source[:-1]]) if source.size else np.array([], np.int64)
    lengths = np.diff(np.r_[starts, source.size])
    kept["rank"] = np.arange(source.size, dtype=np.int64) - np.repeat(starts, lengths) + 1
    return kept


def similarity_matrix(edges: pd.DataFrame, n_customers: int, k: int | None = None) -> sp.csr_array:
    """Customers x customers from similarity edges (optionally only ranks <= ``k``)."""
    if k is not None:
        edges = edges[edges["rank"] <= k]
    return coo_to_csr(edges.source.to_numpy(), edges.target.to_numpy(), edges.score.to_numpy(),
                      (n_customers, n_customers))


def compute_recommendations(data: Interactions, params: Params = Params(), *,
                            item_similarity: sp.csr_array | None = None,
                            customer_similarity: sp.csr_array | None = None, explain: bool = True) -> pd.DataFrame:
    """Top-N recommendations with reasons: ``customerId, sku, score, rank, reason, evidence`` (+ codes).

    Score = ``model_weight`` x EASE part + ``item_weight`` x affinity part + ``neighbour_weight`` x
    similar-shopper part + ``popularity_weight`` x recent popularity (:func:`recent_popularity`; see
    :mod:`algorithms.recommend`).
    EASE is fitted on every customer's purchases weighted by recency (``ease_half_life_days``) and scores
    the recency of what each customer bought or looked at (views weigh 0.2, add-to-carts 0.5).

    Consent: only customers who permit personalisation get recommendations (``for_personalisation``);
    the similar-shopper part and its evidence only use eligible shoppers (rows and columns of
    ``customer_similarity`` of the others are dropped); affinities, EASE and popularity are product-level
    aggregates (``for_aggregates``).
    """
    aggregates, own = data.for_aggregates, data.for_personalisation
    purchase_similarity, combined = recommendation_item_similarity(aggregates, params)
    if item_similarity is None:
        item_similarity = combined
    if customer_similarity is None:
        edges = compute_similarity(data, params, k=params.neighbours_for_recommend)
        customer_similarity = similarity_matrix(edges, data.n_customers)
    eligible = data.similar_shopper_eligible
    if not eligible.all():
        keep = sp.diags_array(eligible.astype(np.float32))
        customer_similarity = sp.csr_array(keep @ sp.csr_array(customer_similarity) @ keep)
        customer_similarity.eliminate_zeros()
    bought = own.bought()
    history = own.history(half_life_days=params.half_life_days)
    buyers = np.asarray((bought if aggregates is own else aggregates.bought()).sum(axis=0)).ravel()
    popularity = recent_popularity(aggregates.known_purchases(), data.n_products, data.as_of_day, params)
    if not popularity.any():
        popularity = buyers.astype(np.float64)
    model = model_items = model_history = None
    if params.model_weight > 0 and buyers.any():
        model_items = np.sort(np.argsort(-buyers, kind="stable")[:min(params.ease_max_products,
                                                                       int((buyers > 0).sum()))])
        fitted_on = aggregates.recency(half_life_days=params.ease_half_life_days, purchases_only=True)
        model = recommend.ease(sp.csr_array(fitted_on[:, model_items]), params.ease_l2)
        del fitted_on
        model_history = own.recency(half_life_days=params.ease_half_life_days)
    recs = recommend.recommend(history, item_similarity, customer_similarity=customer_similarity,
                               neighbour_items=bought, exclude=bought, popularity=popularity, n=params.recommend_n,
                               item_weight=params.item_weight, neighbour_weight=params.neighbour_weight,
                               popularity_weight=params.popularity_weight, model=model, model_history=model_history,
                               model_items=model_items, model_weight=params.model_weight)
    if not explain:
        return recs
    closest = top_k_per_row(customer_similarity, params.similar_k)  # evidence: the k most similar shoppers
    closest = coo_to_csr(closest.row.to_numpy(), closest.col.to_numpy(), closest.value.to_numpy(),
                         customer_similarity.shape)
    explained = recommend.explain(recs, history, item_similarity, customer_similarity=closest,
                                  neighbour_items=bought, model=model, model_history=model_history,
                                  model_items=model_items)
    last_day, was_bought = own.last_interaction()
    because = explained["because_of"].to_numpy()
    has = because >= 0
    customers = explained["customer"].to_numpy()
    target = explained["product"].to_numpy()
    day = np.zeros(len(explained))
    flag = np.zeros(len(explained), dtype=bool)
    day[has] = last_day[customers[has], because[has]] - 1
    flag[has] = was_bought[customers[has], because[has]] > 0
    # "bought with" when the link comes from purchases (cosine of buyers, or a positive EASE weight, EASE
    # being fitted on purchases); "viewed with" when only the viewed-together affinity links them
    together = np.ones(len(explained), dtype=bool)
    together[has] = purchase_similarity[because[has], target[has]] > 0
    if model is not None:
        positions = recommend.model_positions(model_items, data.n_products)
        together[has] |= recommend.model_weights(model, positions, because[has], target[has]) > 0
    del model
    dates = np.full(len(explained), "", dtype=object)
    dates[has] = pd.to_datetime(day[has], unit="D").strftime("%Y-%m-%d").to_numpy(dtype=object)
    reasons, evidence = recommend.reason_text(explained, data.products.to_numpy(dtype=object), data.product_names,
                                              dates, flag, together)
    explained["customerId"] = data.customers[customers]
    explained["sku"] = data.products[explained["product"].to_numpy()]
    explained["reason"] = reasons
    explained["evidence"] = evidence
    return explained


def recent_popularity(known: pd.DataFrame, n_products: int, as_of_day: float, params: Params = Params()) -> np.ndarray:
    """Per product: ``recent x (recent / (1 + earlier x d / b)) ^ popularity_trend``, ``recent`` its distinct
    buyers in the last ``d = popularity_days``, ``earlier`` in the ``b = popularity_baseline_days`` before:
    recent buyers, more for a product that sells more than it used to (``known``: ``customer, product, day``).
    Below, with a trend exponent of 1 (the default), product 0: 2 recent buyers, none before: 2 x 2 / 1;
    product 1: 2 and 1: 2 x 2 / (1 + 1 x 28 / 84).

    >>> known = pd.DataFrame({"customer": [0, 1, 2, 3, 4], "product": [0, 0, 1, 1, 1], "day": [95, 99, 90, 99, 50]})
    >>> recent_popularity(known, 3, 100.0, Params(popularity_days=28, popularity_baseline_days=84)).round(3).tolist()
    [4.0, 3.0, 0.0]
    """
    recent, expected = trends.recent_and_expected_buyers(
        known.customer.to_numpy(), known["product"].to_numpy(), known.day.to_numpy(), n_products, as_of_day,
        recent_days=params.popularity_days, baseline_days=params.popularity_baseline_days)
    return recent * np.power(recent / (1.0 + expected), params.popularity_trend)


def _purchases(frame: pd.DataFrame) -> buy_again.Purchases:
    return frame.customer.to_numpy(), frame["product"].to_numpy(), frame.day.to_numpy()


def buy_again_pairs(data: Interactions) -> pd.DataFrame:
    """What buy again scores: every product each customer who permits personalisation bought, with
    :data:`algorithms.buy_again.FEATURES` as of ``data.as_of_day`` (product columns from ``for_aggregates``)."""
    own = data.for_personalisation.known_purchases()
    return buy_again.repurchase_features(*_purchases(own), data.as_of_day, quantity=own.quantity.to_numpy(),
                                         value=own["value"].to_numpy(),
                                         aggregates=_purchases(data.for_aggregates.known_purchases()))


def compute_buy_again(data: Interactions, params: Params = Params()) -> tuple[pd.DataFrame, buy_again.BuyAgainModel]:
    """Due re-orders: ``customerId, sku, probability, rank, reason, cycleDays, lastDate`` (+ codes), and the model.

    The classifier of :mod:`algorithms.buy_again` learns from the repeat purchases (units and amounts
    included) of the customers who permit analytics (``for_customer_models``) in the last
    ``horizon_days`` windows; it scores the past
    products of the customers who permit personalisation (``for_personalisation``), keeping each one's
    ``buy_again_n`` most probable at ``buy_again_min_probability`` or more. The product-level features
    (how often a product is bought again, by how many lately) come from ``for_aggregates`` in both.
    """
    learn = data.for_customer_models.known_purchases()
    model = buy_again.fit(*_purchases(learn), data.as_of_day, horizon=params.horizon_days, seed=params.seed,
                          quantity=learn.quantity.to_numpy(), value=learn["value"].to_numpy(),
                          aggregates=_purchases(data.for_aggregates.known_purchases()))
    pairs = buy_again_pairs(data)
    columns = ["customer", "product", "customerId", "sku", "probability", "rank", "reason", "cycleDays", "lastDate"]
    if pairs.empty:
        return pd.DataFrame(columns=columns), model
    pairs["probability"] = buy_again.predict(model, pairs)
    pairs = pairs[pairs.probability >= params.buy_again_min_probability]
    pairs = pairs.sort_values(["customer", "probability", "product"], ascending=[True, False, True], kind="stable")
    pairs["rank"] = pairs.groupby("customer").cumcount() + 1
    pairs = pairs[pairs["rank"] <= params.buy_again_n].reset_index(drop=True)
    last_date = pd.to_datetime(pairs["last"].to_numpy(np.float64), unit="D").strftime("%Y-%m-%d")
    pairs["lastDate"] = last_date.to_numpy(dtype=object)
    pairs["cycleDays"] = pairs["cycle"].round(1).astype(object).where(pairs["cycle"].notna(), None)
    pairs["reason"] = [buy_again.reason(days=int(d), cycle=float(c), last_date=str(when))
                       for d, c, when in zip(pairs["days"], pairs["cycle"], pairs["lastDate"], strict=True)]
    pairs["customerId"] = data.customers[pairs.customer.to_numpy(np.int64)]
    pairs["sku"] = data.products[pairs["product"].to_numpy(np.int64)]
    pairs["probability"] = pairs["probability"].round(6)
    return pairs[columns], model


def compute_segments(data: Interactions, similar_edges: pd.DataFrame, params: Params = Params()) -> dict[str, Any]:
    """Communities and RFM segments: ``segments`` (rows), ``members`` (customer code, segment key),
    ``rfm`` (per customer with purchases).

    Only customers who permit analytics are in a segment (``for_customer_models``; edges touching the
    others are dropped). Communities are found in the similar-shoppers graph (:func:`compute_similarity`),
    which holds no customer without personalisation either."""
    analytics = data.permits("analytics")
    similar_edges = only_eligible_edges(similar_edges, analytics)
    data = data.for_customer_models
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


def compute_retention(data: Interactions, params: Params = Params()) -> tuple[
        pd.DataFrame, retention.BGNBD | pareto_nbd.ParetoNBD, churn.ChurnModel]:
    """Per customer with purchases: ``customer, pAlive, churnRisk, expectedPurchases90d``; the fitted
    buy-till-you-die model and the churn classifier.

    ``pAlive`` and ``expectedPurchases90d`` come from Pareto/NBD (or MBG/NBD, BG/NBD:
    ``Params.retention_model``); ``churnRisk`` is the probability of no purchase in the next
    ``horizon_days`` from :mod:`algorithms.churn`, or ``1 - pAlive`` when that classifier has nothing to
    learn from (a history without both buyers and non-buyers in its windows). Fitted on, and scoring,
    only the customers who permit analytics (``for_customer_models``)."""
    p = data.for_customer_models.known_purchases()
    summary = retention.rfm_summary(p.customer.to_numpy(), p.day.to_numpy(), data.as_of_day)
    args = (summary.x.to_numpy(), summary.t_x.to_numpy(), summary["T"].to_numpy())
    weeks = params.horizon_days / 7.0
    model: retention.BGNBD | pareto_nbd.ParetoNBD
    if params.retention_model == "paretonbd":
        model = pareto_nbd.fit_pareto_nbd(*args)
        alive, expected = pareto_nbd.p_alive(model, *args), pareto_nbd.expected_purchases(model, weeks, *args)
    elif params.retention_model in ("mbgnbd", "bgnbd"):
        model = retention.fit_bgnbd(*args, modified=params.retention_model == "mbgnbd")
        alive, expected = retention.p_alive(model, *args), retention.expected_purchases(model, weeks, *args)
    else:
        raise retention.RetentionError(f"unknown retention model {params.retention_model!r}; "
                                       "expected paretonbd, mbgnbd or bgnbd")
    purchases = (p.customer.to_numpy(), p.day.to_numpy(), p["value"].to_numpy())
    churn_model = churn.fit(*purchases, data.as_of_day, horizon=params.horizon_days, seed=params.seed)
    risk = churn.predict(churn_model, churn.customer_features(*purchases, data.as_of_day).reindex(summary.index))
    return pd.DataFrame({"customer": summary.index.to_numpy(), "pAlive": alive,
                         "churnRisk": 1.0 - alive if risk is None else risk,
                         "expectedPurchases90d": expected}), model, churn_model


def compute_trends(data: Interactions, members: pd.DataFrame | None = None,
                   params: Params = Params()) -> dict[str, pd.DataFrame]:
    """Product popularity/trend, top products per store (``POPULAR_AT``) and per segment (``POPULAR_IN``).

    ``members`` maps customer codes to segment keys (``customer, key``); members who do not permit
    analytics (e.g. in segments of an earlier run) are left out. Popularity, trends and ``POPULAR_AT``
    are product-level aggregates (``for_aggregates``).
    """
    if members is not None and len(members):
        members = members[data.permits("analytics")[members.customer.to_numpy(np.int64)]]
    data = data.for_aggregates
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
