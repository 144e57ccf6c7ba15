"""Similar shoppers: cosine similarity of customers' weighted interactions across channels.

A customer is a row of a sparse feature matrix (customers x features). Features are products
(purchases, views, add-to-carts) and stores (visits), each interaction weighted by what it is and how
long ago it happened (:func:`interaction_weight`). Rows are damped (``log1p``), weighted by inverse
document frequency so that shared rare tastes count more than shared best sellers, and L2-normalised;
the similarity of two customers is the dot product of their rows, computed in blocks of customers with
scipy sparse products (no loop over pairs).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms._sparse import top_k_per_row

__all__ = ["DEFAULT_WEIGHTS", "interaction_weight", "normalise_rows", "similar_customers"]

#: How much one interaction of each kind counts, before recency decay.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "purchase": 1.0,
    "add_to_cart": 0.5,
    "checkout": 0.5,
    "product_view": 0.2,
    "visit": 0.3,
}


def interaction_weight(kind: np.ndarray | pd.Series, age_days: np.ndarray, *, half_life_days: float = 180.0,
                       weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> np.ndarray:
    """Weight of each interaction: ``weights[kind] * 0.5 ** (age_days / half_life_days)``.

    Kinds not in ``weights`` weigh 0.1.

    >>> interaction_weight(np.array(["purchase", "product_view"]), np.array([0.0, 180.0])).tolist()
    [1.0, 0.1]
    """
    base = pd.Series(np.asarray(kind)).map(dict(weights)).fillna(0.1).to_numpy(np.float64)
    decay = np.power(0.5, np.clip(np.asarray(age_days, dtype=np.float64), 0, None) / half_life_days)
    return base * decay


def normalise_rows(features: sp.csr_array, *, idf: bool = True) -> sp.csr_array:
    """``log1p`` damping, optional IDF weighting of the columns, then unit L2 norm per row."""
    x = sp.csr_array(features, dtype=np.float64, copy=True)
    x.data = np.log1p(x.data)
    if idf:
        df = np.bincount(x.indices, minlength=x.shape[1]).astype(np.float64)
        weights = np.log((1.0 + x.shape[0]) / (1.0 + df)) + 1.0
        x.data *= weights[x.indices]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x.data /= np.repeat(norms, np.diff(x.indptr))
    return sp.csr_array(x, dtype=np.float32)


def similar_customers(features: sp.csr_array, *, k: int = 10, min_score: float = 0.01, idf: bool = True,
                      block_size: int = 2048) -> pd.DataFrame:
    """Top-``k`` most similar customers of every customer.

    Parameters
    ----------
    features : scipy sparse array, shape (n_customers, n_features)
        Weighted interactions (see :func:`interaction_weight`), duplicates summed.
    k : int
        Neighbours kept per customer.
    min_score : float
        Pairs with a cosine below this are dropped.
    idf : bool
        Weight features by inverse document frequency.
    block_size : int
        Customers per block of the sparse product (bounds memory).

    Returns
    -------
    pandas.DataFrame
        ``source, target`` (customer codes), ``score`` (cosine in 0..1), ``rank`` (1 = most similar).

    Examples
    --------
    Customers 0 and 1 have identical histories; customer 2 shares one product with them:

    >>> x = sp.csr_array(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]], dtype=float))
    >>> s = similar_customers(x, k=1)
    >>> s[["source", "target", "rank"]].values.tolist()
    [[0, 1, 1], [1, 0, 1], [2, 0, 1]]
    >>> round(float(s.score.iloc[0]), 6)
    1.0
    """
    x = normalise_rows(features, idf=idf)
    xt = sp.csr_array(x.T)
    parts = []
    for start in range(0, x.shape[0], block_size):
        block = x[start:start + block_size]
        sims = sp.csr_array(block @ xt)
        parts.append(top_k_per_row(sims, k, min_value=min_score, drop_diagonal=True, row_offset=start))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["row", "col", "value", "rank"])
    out = out.rename(columns={"row": "source", "col": "target", "value": "score"})
    out["score"] = np.minimum(out["score"].to_numpy(np.float64), 1.0)
    return out.reset_index(drop=True)
