"""Trends and popularity: best sellers, products whose recent demand rises fastest, popular per group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from algorithms._sparse import coo_to_csr, top_k_per_row

__all__ = ["popular_by_group", "product_trends", "recent_and_expected_buyers"]


def _distinct_buyers(customer: np.ndarray, product: np.ndarray, mask: np.ndarray, n_products: int) -> np.ndarray:
    pairs = pd.DataFrame({"c": customer[mask], "p": product[mask]}).drop_duplicates()
    return np.bincount(pairs.p.to_numpy(np.int64), minlength=n_products).astype(np.float64)


def recent_and_expected_buyers(customer: np.ndarray, product: np.ndarray, day: np.ndarray, n_products: int,
                               as_of_day: float, *, recent_days: float,
                               baseline_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Per product: ``recent``, its distinct buyers in the last ``recent_days`` up to ``as_of_day``, and
    ``expected``, its distinct buyers of the ``baseline_days`` before them scaled to the recent window
    (``baseline x recent_days / baseline_days``): what a trend compares.

    >>> recent_and_expected_buyers(np.array([0, 1, 2, 2]), np.array([0, 0, 1, 1]), np.array([95, 99, 40, 90]), 2,
    ...                            100.0, recent_days=28, baseline_days=56)
    (array([2., 1.]), array([0. , 0.5]))
    """
    customer = np.asarray(customer)
    product = np.asarray(product, dtype=np.int64)
    day = np.asarray(day, dtype=np.float64)
    start = as_of_day - recent_days
    recent = _distinct_buyers(customer, product, (day > start) & (day <= as_of_day), n_products)
    baseline = _distinct_buyers(customer, product, (day > start - baseline_days) & (day <= start), n_products)
    return recent, baseline * recent_days / baseline_days


def product_trends(customer: np.ndarray, product: np.ndarray, day: np.ndarray, n_products: int, as_of_day: float,
                   *, recent_days: int = 28, baseline_days: int = 112) -> pd.DataFrame:
    """Popularity and trend of every product from purchase events.

    ``popularity`` counts distinct buyers over the whole history. ``trendScore`` compares distinct
    buyers in the last ``recent_days`` (``recent``) with the rate of the ``baseline_days`` before them
    (``expected`` = baseline buyers scaled to the recent window): ``(recent - expected) / sqrt(expected + 1)``,
    a z-like score that needs both a rise and enough volume to rank high. Ranks are 1-based (1 = best),
    products with no buyer get no popularity rank and products with a non-positive trend no trend rank.

    Examples
    --------
    Product 1 sold only in the last weeks, product 0 steadily:

    >>> c = np.array([0, 1, 2, 3, 4, 5, 6]); p = np.array([0, 0, 0, 1, 1, 1, 0]); d = np.array([10, 50, 90, 130, 131, 132, 133])
    >>> out = product_trends(c, p, d, 3, as_of_day=140, recent_days=28, baseline_days=112)
    >>> out[["popularity", "popularityRank", "trendRank"]].values.tolist()
    [[4, 1, 2], [3, 2, 1], [0, 0, 0]]
    """
    customer = np.asarray(customer)
    product = np.asarray(product, dtype=np.int64)
    popularity = _distinct_buyers(customer, product, np.ones(product.size, dtype=bool), n_products)
    recent, expected = recent_and_expected_buyers(customer, product, day, n_products, as_of_day,
                                                  recent_days=recent_days, baseline_days=baseline_days)
    trend = (recent - expected) / np.sqrt(expected + 1.0)
    out = pd.DataFrame({"popularity": popularity.astype(np.int64), "recent": recent.astype(np.int64),
                        "trendScore": trend})
    order = np.lexsort((np.arange(n_products), -popularity))
    rank = np.empty(n_products, dtype=np.int64)
    rank[order] = np.arange(1, n_products + 1)
    out["popularityRank"] = np.where(popularity > 0, rank, 0)
    order = np.lexsort((np.arange(n_products), -trend))
    rank[order] = np.arange(1, n_products + 1)
    out["trendRank"] = np.where(trend > 0, rank, 0)
    return out


def popular_by_group(group: np.ndarray, customer: np.ndarray, product: np.ndarray, n_groups: int,
                     n_products: int, *, k: int = 20) -> pd.DataFrame:
    """Top-``k`` products per group (store, segment) by distinct buyers within the group.

    Returns ``group, product, buyers, score, rank`` where ``score`` is the share of the group's top
    product's buyers (1.0 for the first).

    >>> g = np.array([0, 0, 0, 1]); c = np.array([0, 1, 1, 2]); p = np.array([5, 5, 6, 6])
    >>> popular_by_group(g, c, p, 2, 7, k=1).values.tolist()
    [[0.0, 5.0, 2.0, 1.0, 1.0], [1.0, 6.0, 1.0, 1.0, 1.0]]
    """
    group = np.asarray(group, dtype=np.int64)
    pairs = pd.DataFrame({"g": group, "c": np.asarray(customer), "p": np.asarray(product, dtype=np.int64)})
    pairs = pairs[(pairs.g >= 0) & (pairs.p >= 0)].drop_duplicates()
    counts = coo_to_csr(pairs.g.to_numpy(), pairs.p.to_numpy(), None, (n_groups, n_products), dtype=np.float64)
    top = top_k_per_row(counts, k)
    buyers = top["value"].to_numpy(np.float64)
    peak = np.ones(n_groups)
    first = top["rank"].to_numpy() == 1
    peak[top["row"].to_numpy()[first]] = buyers[first]
    return pd.DataFrame({"group": top["row"], "product": top["col"], "buyers": buyers.astype(np.int64),
                         "score": buyers / peak[top["row"].to_numpy()], "rank": top["rank"]})
