"""Recommendations: products a customer has not bought, scored from graph evidence, with explanations.

The score of product ``j`` for customer ``u`` blends four normalised parts:

* **own history through a learned item-item model** (EASE, :func:`ease`): ``sum_i Q[u, i] * B[i, j]``
  where ``Q`` holds how recently the customer bought (or looked at) each product and ``B`` is the
  closed-form item-to-item regression fitted on everyone's recency-weighted purchases;
* **own history through affinities**: ``sum_i H[u, i] * S[i, j]`` where ``H`` holds the customer's
  weighted interactions (purchases, views; recent ones weigh more) and ``S`` the product affinities;
* **similar shoppers**: ``sum_v sim(u, v) * N[v, j]`` over the customer's most similar shoppers ``v``
  and what they bought (``N``);
* a **popularity** prior (e.g. distinct recent buyers).

Each part is divided by its row maximum, so the weights say how much each kind of evidence counts.
Every recommendation keeps its strongest evidence (the history product contributing most to the two
item parts, the similar shoppers who bought it) so that :func:`reason_text` can say why in words that
name real nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack

from algorithms._sparse import binarize, top_k_dense

__all__ = ["ease", "explain", "model_positions", "model_weights", "reason_text", "recommend"]


def ease(interactions: sp.csr_array, l2: float = 100.0) -> np.ndarray:
    """EASE item-to-item weights (Steck 2019): ``B = I - P / diag(P)`` with ``P = (XᵀX + l2·I)⁻¹``, ``diag(B) = 0``.

    ``B[i, j]`` is how much having product ``i`` predicts product ``j`` given all the other products
    (a ridge regression of each product's column on the others, in closed form). The inverse is a
    Cholesky inverse of a products x products dense matrix (float32), so this suits catalogues of a
    few thousand products.

    Parameters
    ----------
    interactions : sparse array, shape (n_users, n_products)
        Weighted (e.g. recency-weighted) user x product interactions ``X``.
    l2 : float
        Ridge penalty ``λ``; larger values shrink the weights towards 0.

    Returns
    -------
    numpy.ndarray, shape (n_products, n_products), float32

    Examples
    --------
    Products 0 and 1 are always bought together, product 2 always alone:

    >>> x = sp.csr_array(np.array([[1.0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 1, 0]]))
    >>> b = ease(x, l2=1.0)
    >>> (b[0, 1] > 0.5, b[1, 0] > 0.5, float(abs(b[0, 2])) < 1e-6, float(b[0, 0]))
    (np.True_, np.True_, True, 0.0)
    """
    x = sp.csr_array(interactions, dtype=np.float32)
    gram = np.asarray((x.T @ x).toarray(), dtype=np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(l2)
    factor, info = lapack.spotrf(gram, lower=False, clean=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Gram matrix not positive definite (potrf info {info})")
    del gram
    p, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: inverse failed (potri info {info})")
    n = p.shape[0]
    for i0 in range(0, n, 512):  # potri fills the upper triangle only: mirror it, a block at a time
        i1 = min(n, i0 + 512)
        block = np.triu(p[i0:i1, i0:i1])
        p[i0:i1, i0:i1] = block + np.triu(block, 1).T
        p[i1:, i0:i1] = p[i0:i1, i1:].T
    diag = np.diag(p).copy()
    p /= -diag[None, :]
    np.fill_diagonal(p, 0.0)
    return np.ascontiguousarray(p)  # LAPACK hands back Fortran order; sparse @ dense wants rows


def _row_peak(scores: np.ndarray) -> np.ndarray:
    """Each row's maximum as a column (1 where the maximum is not positive)."""
    peak = scores.max(axis=1, keepdims=True) if scores.shape[1] else np.ones((scores.shape[0], 1), scores.dtype)
    peak[peak <= 0] = 1.0
    return peak


def _row_max_normalise(scores: np.ndarray) -> np.ndarray:
    return scores / _row_peak(scores)


def recommend(history: sp.csr_array, item_similarity: sp.csr_array, *,
              customer_similarity: sp.csr_array | None = None, neighbour_items: sp.csr_array | None = None,
              exclude: sp.csr_array | None = None, popularity: np.ndarray | None = None, n: int = 50,
              item_weight: float = 1.0, neighbour_weight: float = 0.3, popularity_weight: float = 0.02,
              model: np.ndarray | None = None, model_history: sp.csr_array | None = None,
              model_items: np.ndarray | None = None, model_weight: float = 1.0,
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
        Weights of the affinity, similar-shopper and popularity parts.
    model : array, shape (m, m), optional
        Dense item-to-item weights (e.g. :func:`ease`) over the products ``model_items`` (default: all).
    model_history : sparse array, shape (n_customers, n_products), optional
        What the model part multiplies (default: ``history``), e.g. recency of each product.
    model_items : int array, shape (m,), optional
        Product codes of the rows and columns of ``model`` (default: ``arange(n_products)``).
    model_weight : float
        Weight of the model part.
    block_size : int
        Customers scored at once (dense block of ``block_size x n_products``).

    Returns
    -------
    pandas.DataFrame
        ``customer, product, score, rank, item_part, neighbour_part`` (codes; rank 1 = best; the parts
        are the weighted contributions of the two kinds of evidence to the score, ``item_part`` covering
        the affinity and model parts), and ``affinity_scale``, ``model_scale``: the factor each part's
        raw sum was multiplied by for that customer (weight / row maximum), which :func:`explain` uses to
        find the history product contributing most.

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
    if customer_similarity is not None:
        customer_similarity = sp.csr_array(customer_similarity, dtype=np.float32)
    pop = np.zeros(n_products) if popularity is None else np.asarray(popularity, dtype=np.float64)
    pop = (pop / pop.max() if pop.max() > 0 else pop).astype(np.float32)
    if model is not None:
        model = np.asarray(model, dtype=np.float32)
        model_history = sp.csr_array(history if model_history is None else model_history, dtype=np.float32)
        model_items = np.arange(n_products) if model_items is None else np.asarray(model_items, dtype=np.int64)
        model_columns = slice(None) if np.array_equal(model_items, np.arange(n_products)) else model_items
        if not isinstance(model_columns, slice):
            model_history = sp.csr_array(model_history[:, model_items])
    active = np.flatnonzero(np.diff(history.indptr) > 0)
    parts = []
    for start in range(0, active.size, block_size):
        rows = active[start:start + block_size]
        raw = sp.csr_array(history[rows] @ item_similarity).toarray()
        affinity_scale = item_weight / _row_peak(raw)
        item_part = raw
        item_part *= affinity_scale
        model_scale = np.zeros((rows.size, 1), dtype=np.float32)
        if model is not None:
            raw = np.asarray(model_history[rows] @ model, dtype=np.float32)
            model_scale = model_weight / _row_peak(raw)
            raw *= model_scale
            item_part[:, model_columns] += raw
            del raw
        if customer_similarity is not None:
            neighbour_part = neighbour_weight * _row_max_normalise(
                sp.csr_array(customer_similarity[rows] @ neighbour_items).toarray())
        else:
            neighbour_part = np.zeros_like(item_part)
        scores = item_part + neighbour_part + popularity_weight * pop[None, :]
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
            "item_part": item_part[local[keep], product[keep]].astype(np.float64),
            "neighbour_part": neighbour_part[local[keep], product[keep]].astype(np.float64),
            "affinity_scale": affinity_scale[local[keep], 0].astype(np.float64),
            "model_scale": model_scale[local[keep], 0].astype(np.float64),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("customer", "int64"), ("product", "int64"), ("score", "float64"), ("rank", "int64"),
            ("item_part", "float64"), ("neighbour_part", "float64"), ("affinity_scale", "float64"),
            ("model_scale", "float64"))})
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
    """For each group, the candidate with the largest positive value (``-1`` when none); ties go to the
    smaller candidate. ``which`` must be sorted (as :func:`_expand` returns it)."""
    best = np.full(n_groups, -1, dtype=np.int64)
    positive = values > 0
    which, values, candidates = which[positive], values[positive], candidates[positive]
    if which.size == 0:
        return best
    starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    group_max = np.maximum.reduceat(values, starts)
    lengths = np.diff(np.r_[starts, which.size])
    at_max = values == np.repeat(group_max, lengths)
    # among the positions holding their group's maximum, the smallest candidate of each group
    which, candidates = which[at_max], candidates[at_max]
    firsts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    best[which[firsts]] = np.minimum.reduceat(candidates, firsts)
    return best


def model_positions(model_items: np.ndarray | None, n_products: int) -> np.ndarray | None:
    """Row/column of each product code in a model over ``model_items`` (``-1`` when not covered);
    ``None`` when the model covers every product in code order."""
    if model_items is None or np.array_equal(model_items, np.arange(n_products)):
        return None
    positions = np.full(n_products, -1, dtype=np.int64)
    positions[np.asarray(model_items, np.int64)] = np.arange(len(model_items))
    return positions


def model_weights(model: np.ndarray, positions: np.ndarray | None, items: np.ndarray,
                  targets: np.ndarray) -> np.ndarray:
    """``model`` weights of the product pairs ``(items[k], targets[k])`` (product codes), 0 where the model
    does not cover a product; ``positions`` from :func:`model_positions`.

    >>> b = np.array([[0.0, 0.5], [0.2, 0.0]], dtype=np.float32)
    >>> model_weights(b, model_positions(np.array([1, 2]), 3), np.array([1, 2, 0]), np.array([2, 1, 1])).tolist()
    [0.5, 0.20000000298023224, 0.0]
    """
    if positions is None:
        return np.asarray(model[items, targets], dtype=np.float32)
    rows, cols = positions[items], positions[targets]
    inside = (rows >= 0) & (cols >= 0)
    weights = np.zeros(items.size, dtype=np.float32)
    weights[inside] = model[rows[inside], cols[inside]]
    return weights


def _same_pattern(a: sp.csr_array, b: sp.csr_array) -> bool:
    return (a.shape == b.shape and a.nnz == b.nnz and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices))


def explain(recommendations: pd.DataFrame, history: sp.csr_array, item_similarity: sp.csr_array, *,
            customer_similarity: sp.csr_array | None = None, neighbour_items: sp.csr_array | None = None,
            model: np.ndarray | None = None, model_history: sp.csr_array | None = None,
            model_items: np.ndarray | None = None, chunk: int = 200_000) -> pd.DataFrame:
    """The strongest evidence behind each recommendation.

    Adds three columns to a copy of ``recommendations``: ``because_of`` (the history product ``i``
    contributing most to the item part, ``-1`` if none contributes positively), ``similar_customer`` (the
    similar shopper with the highest similarity who bought the product, ``-1`` if none) and
    ``similar_buyers`` (how many of the customer's similar shoppers bought it).

    The contribution of history product ``i`` to product ``j`` is
    ``affinity_scale · H[u, i] · S[i, j] + model_scale · Q[u, i] · B[i, j]`` (``Q = model_history``,
    ``B = model``; the scales are the columns :func:`recommend` returns, 1 when absent), so the
    product named is the one that really weighed most in the score. Products in ``Q`` but not in ``H``
    are not considered.

    Examples
    --------
    >>> s = sp.csr_array(np.array([[0, 1.0, 0], [1.0, 0, 0], [0, 0, 0]]))
    >>> h = sp.csr_array(np.array([[1.0, 0, 0], [0, 0, 0]]))
    >>> explain(recommend(h, s, n=1), h, s)["because_of"].tolist()
    [0]
    """
    history = sp.csr_array(history, dtype=np.float32)
    history.sort_indices()
    item_similarity = sp.csr_array(item_similarity, dtype=np.float32)
    out = recommendations.copy()
    because = np.full(len(out), -1, dtype=np.int64)
    similar = np.full(len(out), -1, dtype=np.int64)
    buyers = np.zeros(len(out), dtype=np.int64)
    customers = out["customer"].to_numpy(np.int64)
    products = out["product"].to_numpy(np.int64)
    ones = np.ones(len(out), dtype=np.float32)
    affinity_scale = out["affinity_scale"].to_numpy(np.float32) if "affinity_scale" in out else ones
    model_scale = out["model_scale"].to_numpy(np.float32) if "model_scale" in out else ones
    if model is not None:
        model = np.asarray(model, dtype=np.float32)
        model_history = sp.csr_array(history if model_history is None else model_history, dtype=np.float32)
        model_history.sort_indices()
        same = _same_pattern(history, model_history)
        positions = model_positions(model_items, history.shape[1])
    if customer_similarity is not None:
        customer_similarity = sp.csr_array(customer_similarity, dtype=np.float32)
        neighbour_items = binarize(sp.csr_array(neighbour_items if neighbour_items is not None else history))
    for start in range(0, len(out), chunk):
        sl = slice(start, start + chunk)
        u, j = customers[sl], products[sl]
        which, pos = _expand(history.indptr, u)
        items = history.indices[pos].astype(np.int64)
        targets = j[which]
        values = np.asarray(item_similarity[items, targets], dtype=np.float32)
        values *= history.data[pos]
        values *= affinity_scale[sl][which]
        if model is not None:
            q = model_history.data[pos] if same else np.asarray(model_history[u[which], items], np.float32).ravel()
            weight = model_weights(model, positions, items, targets)
            weight *= q
            weight *= model_scale[sl][which]
            values += weight
        because[sl] = _best_per_group(which, values, items, u.size)
        if customer_similarity is not None:
            which, pos = _expand(customer_similarity.indptr, u)
            neighbours = customer_similarity.indices[pos].astype(np.int64)
            # (scipy hands back a sparse array, not values, when indexed with empty arrays)
            bought = (np.asarray(neighbour_items[neighbours, j[which]], dtype=np.float32).ravel() if which.size
                      else np.zeros(0, dtype=np.float32))
            values = customer_similarity.data[pos] * bought
            similar[sl] = _best_per_group(which, values, neighbours, u.size)
            buyers[sl] = np.bincount(which, weights=(bought > 0), minlength=u.size).astype(np.int64)
    out["because_of"] = because
    out["similar_customer"] = similar
    out["similar_buyers"] = buyers
    return out


def reason_text(explained: pd.DataFrame, product_sku: Sequence[str] | np.ndarray,
                product_name: Sequence[str] | np.ndarray, last_date: np.ndarray, bought: np.ndarray,
                bought_together: np.ndarray | None = None) -> tuple[list[str], list[list[str]]]:
    """Readable reasons and evidence codes for explained recommendations (see :func:`explain`).

    ``last_date`` (ISO dates, one per row of ``explained``) and ``bought`` (bool) describe the customer's
    last interaction with the ``because_of`` product; ``bought_together`` (bool, default all true) whether
    the affinity behind it is bought-together (else viewed-together). Reasons read "often bought with X,
    which you bought on 2011-05-03" (or "often viewed with X, ..."), "popular with shoppers like you (3 of your most similar shoppers bought it)" or "one
    of our best sellers" (also when ``explained`` has a ``score`` whose popularity share, ``score - item_part
    - neighbour_part``, outweighs both kinds of evidence); evidence codes read ``affinity:<sku>``,
    ``similar_shoppers:<n>`` (``n`` of the customer's most similar shoppers bought it) and ``popular``. No
    code and no reason names a customer: similar shoppers are counted, never identified.

    Examples
    --------
    >>> e = pd.DataFrame({"because_of": [0, -1], "similar_customer": [-1, 0], "similar_buyers": [0, 2],
    ...                   "item_part": [1.0, 0.0], "neighbour_part": [0.0, 1.0]})
    >>> reasons, evidence = reason_text(e, ["A1", "B2"], ["RED MUG", "BLUE MUG"], np.array(["2011-05-03", ""]),
    ...                                 np.array([True, False]))
    >>> reasons
    ['often bought with RED MUG, which you bought on 2011-05-03', 'popular with shoppers like you (2 of your most similar shoppers bought it)']
    >>> evidence
    [['affinity:A1'], ['similar_shoppers:2']]
    """
    sku = np.asarray(product_sku, dtype=object)
    name = np.asarray(product_name, dtype=object)
    because = explained["because_of"].to_numpy(np.int64)
    similar = explained["similar_customer"].to_numpy(np.int64)
    n_buyers = explained["similar_buyers"].to_numpy(np.int64)
    item_first = explained["item_part"].to_numpy() >= explained["neighbour_part"].to_numpy()
    together = np.ones(len(because), dtype=bool) if bought_together is None else np.asarray(bought_together, bool)
    n = len(because)
    label = np.array([nm if isinstance(nm, str) and nm else sk for nm, sk in zip(name, sku, strict=True)],
                     dtype=object)
    has_item, has_shopper = because >= 0, similar >= 0
    reasons = np.full(n, "one of our best sellers", dtype=object)
    item_part = explained["item_part"].to_numpy()
    neighbour_part = explained["neighbour_part"].to_numpy()
    popular = np.zeros(n, dtype=bool)
    if "score" in explained:
        popular = explained["score"].to_numpy() - item_part - neighbour_part > np.maximum(item_part, neighbour_part)
    rows = np.flatnonzero(has_shopper & ~popular)
    count = n_buyers[rows]
    reasons[rows] = ("popular with shoppers like you (" + count.astype(str).astype(object) + " of your most similar "
                     + np.where(count == 1, "shopper", "shoppers").astype(object) + " bought it)")
    rows = np.flatnonzero(has_item & (item_first | ~has_shopper) & ~popular)
    reasons[rows] = ("often " + np.where(together[rows], "bought", "viewed").astype(object) + " with "
                     + label[because[rows]] + ", which you "
                     + np.where(np.asarray(bought, bool)[rows], "bought", "looked at").astype(object) + " on "
                     + np.asarray(last_date, dtype=object)[rows].astype(str).astype(object))
    affinity_code = np.full(n, None, dtype=object)
    affinity_code[has_item] = "affinity:" + sku[because[has_item]].astype(str).astype(object)
    similar_code = np.full(n, None, dtype=object)
    similar_code[has_shopper] = "similar_shoppers:" + n_buyers[has_shopper].astype(str).astype(object)
    evidence = [[a, c] if a and c else [a] if a else [c] if c else ["popular"]
                for a, c in zip(affinity_code.tolist(), similar_code.tolist(), strict=True)]
    for row in np.flatnonzero(popular & (has_item | has_shopper)).tolist():
        evidence[row].append("popular")
    return reasons.tolist(), evidence
