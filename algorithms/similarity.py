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

from algorithms._sparse import coo_to_csr, top_k_per_row

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
    codes, kinds = pd.factorize(pd.Series(np.asarray(kind)))  # a few distinct kinds: look each up once
    per_kind = pd.Series(kinds).map(dict(weights)).fillna(0.1).to_numpy(np.float64)
    base = np.append(per_kind, 0.1)[codes]  # code -1 (a missing kind) takes the last entry, 0.1
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


def _embedding_neighbours(x: sp.csr_array, n_candidates: int, rank: int, seed: int, block_size: int,
                          min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About ``n_candidates`` nearest rows of each row by cosine in a randomised truncated-SVD embedding
    of ``x``: ``(source, target, cosine)``, computed in dense blocks, cut by a sampled per-row threshold.

    With ``min_score > 0`` the pairs below it are left out here already (the caller drops them anyway),
    and so are the empty rows of ``x``: their cosine with everyone is 0, so with the sampled threshold
    at 0 they would pass every pair (2,000 empty customers made 39M of the 42M candidates on the speed
    benchmark's graph)."""
    rng = np.random.default_rng(seed)
    n, m = x.shape
    d = min(rank, m, n)
    xt = sp.csr_array(x.T)
    y = x @ rng.standard_normal((m, d + 8)).astype(np.float32)
    for _ in range(2):  # power iterations sharpen the leading subspace
        y, _ = np.linalg.qr(y)
        y = x @ (xt @ y)
    q, _ = np.linalg.qr(y)
    _, _, vt = np.linalg.svd(np.asarray(xt @ q).T, full_matrices=False)
    emb = np.asarray(x @ vt[:d].T, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb /= np.where(norms > 0, norms, 1.0)
    c = min(n_candidates, n - 1)
    sample = rng.choice(n, size=min(n, 1024), replace=False)
    share = min(1.0, 1.5 * c / n)  # keep about 1.5 times the neighbours wanted, cut by a sampled threshold
    sources, targets, scores = [], [], []
    # one block-sized buffer for the similarities and one for the mask, reused by every block: a fresh
    # ~160 MB array per block is returned to the OS and faulted in again each time (2 s per block on a VM)
    sims_buffer = np.empty((min(block_size, n), n), dtype=np.float32)
    mask_buffer = np.empty((min(block_size, n), n), dtype=bool)
    # a float32 floor never above min_score (the caller's exact cut keeps its own comparison)
    floor = np.nextafter(np.float32(min_score), np.float32(-np.inf)) if min_score > 0 else None
    live = np.flatnonzero(norms.ravel() > 0) if floor is not None else np.arange(n)
    for start in range(0, live.size, block_size):
        ids = live[start:start + block_size]
        block = emb[ids]
        sims = np.matmul(block, emb.T, out=sims_buffer[:ids.size])
        sims[np.arange(ids.size), ids] = -np.inf
        if share >= 1.0:
            threshold = np.full(ids.size, -np.inf, dtype=np.float32)
        else:
            sampled = sims[:, sample]
            position = int((1.0 - share) * (sampled.shape[1] - 1))
            threshold = np.partition(sampled, position, axis=1)[:, position]
        if floor is not None:
            threshold = np.maximum(threshold, floor)
        r, t = np.nonzero(np.greater_equal(sims, threshold[:, None], out=mask_buffer[:ids.size]))
        sources.append(ids[r])
        targets.append(t)
        scores.append(sims[r, t])
    if not sources:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return np.concatenate(sources), np.concatenate(targets), np.concatenate(scores)


def similar_customers(features: sp.csr_array, *, k: int = 10, min_score: float = 0.01, idf: bool = True,
                      block_size: int = 2048, method: str = "auto", max_exact_work: float = 3e8,
                      candidates: int | None = None, rank: int = 48, seed: int = 0) -> pd.DataFrame:
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
    method : {"auto", "exact", "approximate"}
        ``exact`` computes the cosine of every pair sharing a feature with sparse products. Its work grows
        with the sum of squared feature frequencies (a best seller bought by half the customers links every
        pair); ``approximate`` uses the cosine in a randomised truncated-SVD embedding of the rows (``rank``
        dimensions, ``seed``; latent-semantic similarity: identical histories still score 1) and keeps about
        ``candidates`` (default ``k``) neighbours per row before the top-``k`` cut. ``auto`` is exact while
        the estimated work stays under ``max_exact_work`` multiply-adds.

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
    if method == "auto":
        df = np.bincount(x.indices, minlength=x.shape[1]).astype(np.float64)
        method = "exact" if float(np.sum(df ** 2)) <= max_exact_work else "approximate"
    if method == "approximate" and x.shape[0] > 1:
        source, target, scores = _embedding_neighbours(x, candidates or k, rank, seed, block_size,
                                                        min_score)
        pairs = coo_to_csr(source, target, np.maximum(scores, 0.0), (x.shape[0], x.shape[0]))
        out = top_k_per_row(pairs, k, min_value=min_score, drop_diagonal=True)
        out = out.rename(columns={"row": "source", "col": "target", "value": "score"})
        out["score"] = np.minimum(out["score"].to_numpy(np.float64), 1.0)
        return out.reset_index(drop=True)
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
