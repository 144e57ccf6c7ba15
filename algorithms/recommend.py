"""Recommendations: products a customer has not bought, scored from graph evidence, with explanations.

The score of product ``j`` for customer ``u`` blends three normalised parts:

* **own history through affinities**: ``sum_i H[u, i] * S[i, j]`` where ``H`` holds the customer's
  weighted interactions (purchases, views; recent ones weigh more) and ``S`` the product affinities;
* **similar shoppers**: ``sum_v sim(u, v) * N[v, j]`` over the customer's most similar shoppers ``v``
  and what they bought (``N``);
* a small **popularity** prior that orders otherwise equal candidates.

Each part is divided by its row maximum, so the weights say how much each kind of evidence counts.
Every recommendation keeps its strongest evidence (the history product behind it, the similar shoppers
who bought it) so that :func:`reason_text` can say why in words that name real nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms._sparse import binarize, top_k_dense

__all__ = ["context_scores", "explain", "reason_text", "recommend"]


def _row_max_normalise(scores: np.ndarray) -> np.ndarray:
    peak = scores.max(axis=1, keepdims=True)
    peak[peak <= 0] = 1.0
    return scores / peak


def recommend(history: sp.csr_array, item_similarity: sp.csr_array, *,
              customer_similarity: sp.csr_array | None = None, neighbour_items: sp.csr_array | None = None,
              exclude: sp.csr_array | None = None, popularity: np.ndarray | None = None, n: int = 50,
              item_weight: float = 1.0, neighbour_weight: float = 0.3, popularity_weight: float = 0.02,
              block_size: int = 1024) -> pd.DataFrame:
    """Top-``n`` recommendations for every customer with some history.

    Parameters
    ----------
    history : sparse array, shape (n_customers, n_products)
        Weighted interactions of each customer with each product.
    item_similarity : sparse array, shape (n_products, n_products)
        Product affinities (e.g. :func:`algorithms.affinity.item_similarity`).
    customer_similarity : sparse array, shape (n_customers, n_customers), optional
        Scores of each customer's most similar shoppers (rows: the customer).
    neighbour_items : sparse array, shape (n_customers, n_products), optional
        What each customer bought, for the similar-shoppers part (default: ``exclude``).
    exclude : sparse array, shape (n_customers, n_products), optional
        Products never to recommend to the customer (those already bought; default: ``history``).
    popularity : array, shape (n_products,), optional
        A prior per product (e.g. distinct recent buyers).
    n : int
        Recommendations per customer.
    item_weight, neighbour_weight, popularity_weight : float
        Weights of the three parts.
    block_size : int
        Customers scored at once (dense block of ``block_size x n_products``).

    Returns
    -------
    pandas.DataFrame
        ``customer, product, score, rank, item_part, neighbour_part`` (codes; rank 1 = best; the parts
        are the weighted contributions of the two kinds of evidence to the score).

    Examples
    --------
    Customer 0 bought product 0, which is always bought with product 1:

    >>> s = sp.csr_array(np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]))
    >>> h = sp.csr_array(np.array([[1.0, 0, 0], [0, 0, 0]]))
    >>> r = recommend(h, s, n=2)
    >>> r[["customer", "product", "rank"]].values.tolist()
    [[0, 1, 1]]
    """
    history = sp.csr_array(history, dtype=np.float32)
    n_customers, n_products = history.shape
    exclude = binarize(sp.csr_array(history if exclude is None else exclude))
    neighbour_items = binarize(sp.csr_array(exclude if neighbour_items is None else neighbour_items))
    item_similarity = sp.csr_array(item_similarity, dtype=np.float32)
    pop = np.zeros(n_products) if popularity is None else np.asarray(popularity, dtype=np.float64)
    pop = (pop / pop.max() if pop.max() > 0 else pop).astype(np.float32)
    active = np.flatnonzero(np.diff(history.indptr) > 0)
    parts = []
    for start in range(0, active.size, block_size):
        rows = active[start:start + block_size]
        item_part = _row_max_normalise(sp.csr_array(history[rows] @ item_similarity).toarray())
        if customer_similarity is not None:
            neighbour_part = _row_max_normalise(
                sp.csr_array(sp.csr_array(customer_similarity)[rows] @ neighbour_items).toarray())
        else:
            neighbour_part = np.zeros_like(item_part)
        scores = item_weight * item_part + neighbour_weight * neighbour_part + popularity_weight * pop[None, :]
        block_exclude = exclude[rows].tocoo()
        scores[block_exclude.row, block_exclude.col] = -np.inf
        idx, vals = top_k_dense(scores, n)
        k = idx.shape[1]
        customer = np.repeat(rows, k)
        product = idx.ravel()
        local = np.repeat(np.arange(rows.size), k)
        keep = (product >= 0) & (vals.ravel() > 0)
        parts.append(pd.DataFrame({
            "customer": customer[keep], "product": product[keep], "score": vals.ravel()[keep].astype(np.float64),
            "rank": np.tile(np.arange(1, k + 1), rows.size)[keep],
            "item_part": item_weight * item_part[local[keep], product[keep]].astype(np.float64),
            "neighbour_part": neighbour_weight * neighbour_part[local[keep], product[keep]].astype(np.float64),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("customer", "int64"), ("product", "int64"), ("score", "float64"), ("rank", "int64"),
            ("item_part", "float64"), ("neighbour_part", "float64"))})
    return pd.concat(parts, ignore_index=True)


def _expand(indptr: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position ``p`` of ``owners``, the CSR storage positions of row ``owners[p]``.

    Returns ``(which, position)``: ``which`` repeats ``p`` once per stored entry of the row.
    """
    starts = indptr[owners]
    lengths = indptr[owners + 1] - starts
    which = np.repeat(np.arange(owners.size), lengths)
    offsets = np.arange(which.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return which, starts[which] + offsets


def _best_per_group(which: np.ndarray, values: np.ndarray, candidates: np.ndarray, n_groups: int) -> np.ndarray:
    """For each group, the candidate with the largest positive value (``-1`` when none)."""
    best = np.full(n_groups, -1, dtype=np.int64)
    positive = values > 0
    which, values, candidates = which[positive], values[positive], candidates[positive]
    order = np.lexsort((candidates, -values, which))
    which, candidates = which[order], candidates[order]
    first = np.ones(which.size, dtype=bool)
    first[1:] = which[1:] != which[:-1]
    best[which[first]] = candidates[first]
    return best


def explain(recommendations: pd.DataFrame, history: sp.csr_array, item_similarity: sp.csr_array, *,
            customer_similarity: sp.csr_array | None = None, neighbour_items: sp.csr_array | None = None,
            chunk: int = 200_000) -> pd.DataFrame:
    """The strongest evidence behind each recommendation.

    Adds three columns to a copy of ``recommendations``: ``because_of`` (the history product ``i``
    maximising ``H[u, i] * S[i, j]``, ``-1`` if none), ``similar_customer`` (the similar shopper with the
    highest similarity who bought the product, ``-1`` if none) and ``similar_buyers`` (how many of the
    customer's similar shoppers bought it).

    Examples
    --------
    >>> s = sp.csr_array(np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]))
    >>> h = sp.csr_array(np.array([[1.0, 0, 0], [0, 0, 0]]))
    >>> explain(recommend(h, s, n=1), h, s)["because_of"].tolist()
    [0]
    """
    history = sp.csr_array(history, dtype=np.float32)
    item_similarity = sp.csr_array(item_similarity, dtype=np.float32)
    out = recommendations.copy()
    because = np.full(len(out), -1, dtype=np.int64)
    similar = np.full(len(out), -1, dtype=np.int64)
    buyers = np.zeros(len(out), dtype=np.int64)
    customers = out["customer"].to_numpy(np.int64)
    products = out["product"].to_numpy(np.int64)
    if customer_similarity is not None:
        customer_similarity = sp.csr_array(customer_similarity, dtype=np.float32)
        neighbour_items = binarize(sp.csr_array(neighbour_items if neighbour_items is not None else history))
    for start in range(0, len(out), chunk):
        sl = slice(start, start + chunk)
        u, j = customers[sl], products[sl]
        which, pos = _expand(history.indptr, u)
        items = history.indices[pos].astype(np.int64)
        values = history.data[pos] * item_similarity[items, j[which]]
        because[sl] = _best_per_group(which, values, items, u.size)
        if customer_similarity is not None:
            which, pos = _expand(customer_similarity.indptr, u)
            neighbours = customer_similarity.indices[pos].astype(np.int64)
            bought = neighbour_items[neighbours, j[which]]
            values = customer_similarity.data[pos] * bought
            similar[sl] = _best_per_group(which, values, neighbours, u.size)
            buyers[sl] = np.bincount(which, weights=(bought > 0), minlength=u.size).astype(np.int64)
    out["because_of"] = because
    out["similar_customer"] = similar
    out["similar_buyers"] = buyers
    return out


def reason_text(explained: pd.DataFrame, product_sku: Sequence[str] | np.ndarray,
                product_name: Sequence[str] | np.ndarray, customer_id: Sequence[str] | np.ndarray,
                last_date: np.ndarray, bought: np.ndarray,
                bought_together: np.ndarray | None = None) -> tuple[list[str], list[list[str]]]:
    """Readable reasons and evidence codes for explained recommendations (see :func:`explain`).

    ``last_date`` (ISO dates, one per row of ``explained``) and ``bought`` (bool) describe the customer's
    last interaction with the ``because_of`` product; ``bought_together`` (bool, default all true) whether
    the affinity behind it is bought-together (else viewed-together). Reasons read "often bought with X,
    which you bought on 2011-05-03" (or "often viewed with X, ..."), "popular with shoppers like you (3 of your most similar shoppers bought it)" or "one
    of our best sellers"; evidence codes read ``affinity:<sku>`` and ``similar:<customerId>``.

    Examples
    --------
    >>> e = pd.DataFrame({"because_of": [0, -1], "similar_customer": [-1, 0], "similar_buyers": [0, 2],
    ...                   "item_part": [1.0, 0.0], "neighbour_part": [0.0, 1.0]})
    >>> reasons, evidence = reason_text(e, ["A1", "B2"], ["RED MUG", "BLUE MUG"], ["C9"],
    ...                                 np.array(["2011-05-03", ""]), np.array([True, False]))
    >>> reasons
    ['often bought with RED MUG, which you bought on 2011-05-03', 'popular with shoppers like you (2 of your most similar shoppers bought it)']
    >>> evidence
    [['affinity:A1'], ['similar:C9']]
    """
    sku = np.asarray(product_sku, dtype=object)
    name = np.asarray(product_name, dtype=object)
    cid = np.asarray(customer_id, dtype=object)
    because = explained["because_of"].to_numpy(np.int64)
    similar = explained["similar_customer"].to_numpy(np.int64)
    n_buyers = explained["similar_buyers"].to_numpy(np.int64)
    item_first = explained["item_part"].to_numpy() >= explained["neighbour_part"].to_numpy()
    together = np.ones(len(because), dtype=bool) if bought_together is None else np.asarray(bought_together, bool)
    reasons: list[str] = []
    evidence: list[list[str]] = []
    for b, s, nb, first, date, was_bought, via_orders in zip(because, similar, n_buyers, item_first, last_date,
                                                             bought, together, strict=True):
        item_reason = None
        if b >= 0:
            label = name[b] if isinstance(name[b], str) and name[b] else sku[b]
            verb = "bought" if was_bought else "looked at"
            relation = "bought" if via_orders else "viewed"
            item_reason = f"often {relation} with {label}, which you {verb} on {date}"
        shopper_reason = None
        if s >= 0:
            plural = "shopper" if nb == 1 else "shoppers"
            shopper_reason = f"popular with shoppers like you ({nb} of your most similar {plural} bought it)"
        if item_reason and (first or not shopper_reason):
            reasons.append(item_reason)
        elif shopper_reason:
            reasons.append(shopper_reason)
        else:
            reasons.append("one of our best sellers")
        codes = []
        if b >= 0:
            codes.append(f"affinity:{sku[b]}")
        if s >= 0:
            codes.append(f"similar:{cid[s]}")
        if not codes:
            codes.append("popular")
        evidence.append(codes)
    return reasons, evidence


def context_scores(base: Mapping[str, float], *, context_affinity: Mapping[str, float] | None = None,
                   in_stock: set[str] | None = None, store_popular: Mapping[str, float] | None = None,
                   exclude: set[str] | None = None, weights: Mapping[str, float] | None = None,
                   n: int = 10) -> list[tuple[str, float, list[str]]]:
    """Blend precomputed scores with the context of a request (pure; for the API at query time).

    ``base`` holds the customer's ``RECOMMENDED`` scores (or a fallback's), ``context_affinity`` the
    ``AFFINITY`` scores of the product being viewed, ``store_popular`` the ``POPULAR_AT`` scores of the
    store the customer is in (0..1), ``in_stock`` the SKUs that store stocks. Returns the best ``n`` as
    ``(sku, score, reasons)``, reasons being codes such as ``"context:affinity"``.

    >>> context_scores({"A": 0.5, "B": 0.4}, context_affinity={"B": 0.9}, in_stock={"B"}, n=2)
    [('B', 0.95, ['recommended', 'context:affinity', 'context:in_stock']), ('A', 0.5, ['recommended'])]
    """
    w = {"base": 1.0, "affinity": 0.5, "store": 0.3, "in_stock": 0.1, **(weights or {})}
    totals: dict[str, float] = {}
    why: dict[str, list[str]] = {}
    for source, scores, weight in (("recommended", base, w["base"]),
                                   ("context:affinity", context_affinity or {}, w["affinity"]),
                                   ("context:popular_at_store", store_popular or {}, w["store"])):
        for sku, score in scores.items():
            totals[sku] = totals.get(sku, 0.0) + weight * float(score)
            why.setdefault(sku, []).append(source)
    for sku in in_stock or set():
        if sku in totals:
            totals[sku] += w["in_stock"]
            why[sku].append("context:in_stock")
    ranked = sorted((item for item in totals.items() if item[0] not in (exclude or set())),
                    key=lambda item: (-item[1], item[0]))
    return [(sku, round(score, 6), why[sku]) for sku, score in ranked[:n]]
