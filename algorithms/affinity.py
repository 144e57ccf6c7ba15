"""Product affinities: products bought together in the same order, or viewed together in the same session.

For a basket matrix ``B`` (baskets x products, 1 where the basket holds the product), the co-occurrence
matrix ``C = B^T B`` gives for products ``a`` and ``b``:

* ``support(a, b) = C[a, b] / n_baskets``
* ``confidence(a -> b) = C[a, b] / C[a, a]``
* ``lift(a, b) = C[a, b] * n_baskets / (C[a, a] * C[b, b])``
* ``score(a, b) = C[a, b] / sqrt(C[a, a] * C[b, b])`` (cosine), used to rank: 1 when the two products
  always appear together, and neither favours blockbusters (as confidence does) nor one-off rarities
  (as lift does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms._sparse import binarize, coo_to_csr, top_k_per_row

__all__ = ["basket_matrix", "cooccurrence", "item_similarity", "product_affinity"]


def basket_matrix(basket: np.ndarray, product: np.ndarray, n_baskets: int, n_products: int) -> sp.csr_array:
    """The binary baskets x products matrix from parallel arrays of basket and product codes.

    >>> basket_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 2, 2).toarray().tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    return binarize(coo_to_csr(basket, product, None, (n_baskets, n_products)))


def cooccurrence(baskets: sp.csr_array) -> sp.csr_array:
    """``B^T B``: how many baskets hold both products (the diagonal: how many hold the product)."""
    b = binarize(baskets)
    return sp.csr_array(b.T @ b)


def item_similarity(baskets: sp.csr_array, *, min_count: int = 2, alpha: float = 0.5) -> sp.csr_array:
    """Products x products similarity ``C[a,b] / (C[a,a]^alpha * C[b,b]^(1-alpha))``, diagonal removed.

    ``alpha = 0.5`` is the cosine (symmetric); pairs seen together in fewer than ``min_count`` baskets
    are dropped.

    >>> b = basket_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 2]), 3, 3)
    >>> item_similarity(b).toarray().round(2).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    c = cooccurrence(baskets).tocoo()
    counts = cooccurrence_diagonal(baskets)
    keep = (c.row != c.col) & (c.data >= min_count)
    rows, cols, co = c.row[keep], c.col[keep], c.data[keep].astype(np.float64)
    score = co / (np.power(counts[rows], alpha) * np.power(counts[cols], 1.0 - alpha))
    return coo_to_csr(rows, cols, score, c.shape)


def cooccurrence_diagonal(baskets: sp.csr_array) -> np.ndarray:
    """How many baskets hold each product."""
    return np.asarray(binarize(baskets).sum(axis=0)).ravel().astype(np.float64)


def product_affinity(baskets: sp.csr_array, *, k: int = 10, min_count: int = 2) -> pd.DataFrame:
    """Top-``k`` affinities of every product from a baskets x products matrix.

    Parameters
    ----------
    baskets : scipy sparse array, shape (n_baskets, n_products)
        Non-zero where the basket (order, or session for views) holds the product.
    k : int
        How many partner products to keep per product.
    min_count : int
        Minimum number of baskets holding both products.

    Returns
    -------
    pandas.DataFrame
        One row per (source, target) pair with columns ``source, target`` (product codes),
        ``count, support, confidence, lift, score, rank``; ``rank`` 1 is the best partner of ``source``.

    Examples
    --------
    Products 0 and 1 are always bought together, product 2 sometimes with 0:

    >>> b = basket_matrix(np.array([0, 0, 1, 1, 2, 2, 3]), np.array([0, 1, 0, 1, 0, 2, 2]), 4, 3)
    >>> a = product_affinity(b, k=1, min_count=1)
    >>> a[["source", "target", "rank"]].values.tolist()
    [[0, 1, 1], [1, 0, 1], [2, 0, 1]]
    >>> float(a.loc[a.source == 1, "confidence"].iloc[0])
    1.0
    """
    n_baskets = baskets.shape[0]
    counts = cooccurrence_diagonal(baskets)
    sim = item_similarity(baskets, min_count=min_count)
    top = top_k_per_row(sim, k)
    source = top["row"].to_numpy()
    target = top["col"].to_numpy()
    co = np.rint(top["value"].to_numpy(np.float64) * np.sqrt(counts[source] * counts[target]))
    return pd.DataFrame({
        "source": source,
        "target": target,
        "count": co.astype(np.int64),
        "support": co / max(n_baskets, 1),
        "confidence": co / counts[source],
        "lift": co * n_baskets / (counts[source] * counts[target]),
        "score": top["value"].to_numpy(np.float64),
        "rank": top["rank"].to_numpy(),
    })
