"""Segments: communities of similar shoppers (Louvain on the similarity graph) and RFM segments."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms._sparse import binarize, coo_to_csr

__all__ = ["RFM_SEGMENTS", "describe_communities", "rfm_scores", "shopper_communities"]

#: RFM segment names and descriptions, looked up on the recency and frequency scores (1..5).
RFM_SEGMENTS: tuple[tuple[str, str, str], ...] = (
    # (name, regex on "<R><F>", description)
    ("Champions", r"[4-5][4-5]", "bought recently, buy often and spend the most"),
    ("Loyal customers", r"[3-4][4-5]", "buy often; respond to loyalty rewards"),
    ("Potential loyalists", r"[4-5][2-3]", "recent customers who have bought more than once"),
    ("New customers", r"5[1]", "bought for the first time recently"),
    ("Promising", r"4[1]", "recent first-time buyers"),
    ("Need attention", r"3[3]", "average recency and frequency; slipping"),
    ("About to sleep", r"3[1-2]", "below-average recency and frequency; will be lost without a nudge"),
    ("At risk", r"[1-2][3-4]", "bought often, but long ago: win them back"),
    ("Can't lose them", r"[1-2]5", "used to buy the most, have not come back for a long time"),
    ("Hibernating", r"2[1-2]", "last bought long ago and rarely"),
    ("Lost", r"1[1-2]", "lowest recency and frequency"),
)


def _quintile(values: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5 by rank quintile (ties share the average rank); 5 is the best fifth."""
    ranks = pd.Series(values).rank(method="average", pct=True).to_numpy()
    scores = np.clip(np.ceil(ranks * 5), 1, 5).astype(np.int64)
    return scores if higher_is_better else 6 - scores


def rfm_scores(recency_days: np.ndarray, frequency: np.ndarray, monetary: np.ndarray) -> pd.DataFrame:
    """Recency, frequency and monetary quintile scores, the ``rfmScore`` string and the segment name.

    Parameters
    ----------
    recency_days : array
        Days since the customer's last purchase (smaller is better).
    frequency : array
        Number of orders.
    monetary : array
        Total spent.

    Returns
    -------
    pandas.DataFrame
        ``r, f, m`` (1..5), ``rfmScore`` (e.g. ``"545"``), ``rfmSegment`` (a name of :data:`RFM_SEGMENTS`).

    Examples
    --------
    >>> out = rfm_scores(np.array([1, 300, 5, 200, 10]), np.array([20, 1, 2, 8, 12]), np.array([900., 5, 40, 300, 500]))
    >>> out.rfmScore.tolist()
    ['555', '111', '422', '233', '344']
    >>> out.rfmSegment.tolist()
    ['Champions', 'Lost', 'Potential loyalists', 'At risk', 'Loyal customers']
    """
    r = _quintile(np.asarray(recency_days, dtype=np.float64), higher_is_better=False)
    f = _quintile(np.asarray(frequency, dtype=np.float64))
    m = _quintile(np.asarray(monetary, dtype=np.float64))
    out = pd.DataFrame({"r": r, "f": f, "m": m})
    out["rfmScore"] = out.r.astype(str) + out.f.astype(str) + out.m.astype(str)
    rf = out.r.astype(str) + out.f.astype(str)
    segment = pd.Series("Need attention", index=out.index, dtype=object)
    for name, pattern, _ in reversed(RFM_SEGMENTS):
        segment[rf.str.fullmatch(pattern)] = name
    out["rfmSegment"] = segment
    return out


def shopper_communities(source: np.ndarray, target: np.ndarray, weight: np.ndarray, n_customers: int, *,
                        seed: int = 42, resolution: float = 1.0, min_size: int = 5) -> np.ndarray:
    """Communities of customers on the (undirected) similarity graph, by Louvain (networkx).

    Returns a community number per customer, ``-1`` for customers without edges or in communities smaller
    than ``min_size``; communities are numbered 0, 1, ... by decreasing size.

    Examples
    --------
    Two triangles joined by one weak edge:

    >>> s = np.array([0, 1, 2, 3, 4, 5, 2]); t = np.array([1, 2, 0, 4, 5, 3, 3]); w = np.array([1, 1, 1, 1, 1, 1, .1])
    >>> shopper_communities(s, t, w, 7, min_size=3).tolist()
    [0, 0, 0, 1, 1, 1, -1]
    """
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(np.asarray(source).tolist(), np.asarray(target).tolist(),
                                      np.asarray(weight, dtype=float).tolist(), strict=True))
    labels = np.full(n_customers, -1, dtype=np.int64)
    if graph.number_of_edges() == 0:
        return labels
    found = nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=seed)
    found = sorted((sorted(c) for c in found if len(c) >= min_size), key=lambda c: (-len(c), c[0]))
    for number, members in enumerate(found):
        labels[np.asarray(members, dtype=np.int64)] = number
    return labels


def describe_communities(labels: np.ndarray, purchases: sp.csr_array, product_name: Sequence[str], *,
                         top: int = 3) -> pd.DataFrame:
    """A readable name and description per community, from the products its members over-index on.

    ``purchases`` is customers x products (non-zero where bought). Returns ``community, size, name,
    description, products`` (the codes of the top products).

    >>> p = sp.csr_array(np.array([[1, 0], [1, 0], [0, 1]]))
    >>> describe_communities(np.array([0, 0, 1]), p, ["MUG", "TEA"], top=1).name.tolist()
    ['Shoppers of MUG', 'Shoppers of TEA']
    """
    labels = np.asarray(labels)
    members = np.flatnonzero(labels >= 0)
    n_comm = int(labels.max()) + 1 if members.size else 0
    bought = binarize(sp.csr_array(purchases))
    indicator = coo_to_csr(labels[members], members, None, (n_comm, bought.shape[0]))
    per_comm = sp.csr_array(indicator @ bought).toarray()
    sizes = np.bincount(labels[members], minlength=n_comm)
    overall = np.asarray(bought.sum(axis=0)).ravel() / max(bought.shape[0], 1)
    share = per_comm / np.maximum(sizes, 1)[:, None]
    lift = share / np.maximum(overall, 1e-9)[None, :]
    # favour products many members buy and that they buy far more than average
    weight = np.where((per_comm >= np.minimum(2, sizes)[:, None]) & (per_comm > 0), share * np.log1p(lift), 0.0)
    names = np.asarray(product_name, dtype=object)
    rows = []
    for number in range(n_comm):
        order = np.argsort(-weight[number], kind="stable")[:top]
        order = order[weight[number, order] > 0]
        products = [str(names[i]) for i in order]
        listing = ", ".join(products) if products else "mixed products"
        details = "; ".join(f"{names[i]} ({share[number, i]:.0%} of them, {lift[number, i]:.1f}x average)"
                            for i in order)
        rows.append({
            "community": number, "size": int(sizes[number]),
            "name": f"Shoppers of {listing}",
            "description": f"{sizes[number]} shoppers with similar tastes; they buy {details or 'a mix'}",
            "products": order.tolist(),
        })
    return pd.DataFrame(rows, columns=["community", "size", "name", "description", "products"])
