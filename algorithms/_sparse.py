"""Small sparse-matrix helpers shared by the algorithm families (vectorised, no Python loop over rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def encode(values: pd.Series | np.ndarray, categories: pd.Index | None = None) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` and the index they refer to (``-1`` for values not in ``categories``).

    >>> codes, index = encode(pd.Series(["b", "a", "b"]))
    >>> codes.tolist(), index.tolist()
    ([1, 0, 1], ['a', 'b'])
    """
    if categories is None:
        categories = pd.Index(pd.unique(pd.Series(values).dropna())).sort_values()
    codes = categories.get_indexer(pd.Series(values))
    return codes.astype(np.int64), categories


def coo_to_csr(rows: np.ndarray, cols: np.ndarray, data: np.ndarray | None, shape: tuple[int, int],
               *, dtype: type = np.float32) -> sp.csr_array:
    """A CSR array from coordinates; duplicate coordinates are summed, entries with a ``-1`` index dropped."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    keep = (rows >= 0) & (cols >= 0)
    values = np.ones(int(keep.sum()), dtype=dtype) if data is None else np.asarray(data, dtype=dtype)[keep]
    matrix = sp.coo_array((values, (rows[keep], cols[keep])), shape=shape).tocsr()
    matrix.sum_duplicates()
    return matrix


def binarize(matrix: sp.csr_array) -> sp.csr_array:
    """The same sparsity pattern with every stored value set to 1."""
    out = matrix.copy().astype(np.float32)
    out.data[:] = 1.0
    out.eliminate_zeros()
    return out


def top_k_per_row(matrix: sp.csr_array, k: int, *, min_value: float | None = None,
                  drop_diagonal: bool = False, row_offset: int = 0) -> pd.DataFrame:
    """The ``k`` largest stored values of every row, as a frame ``row, col, value, rank`` (rank 1 = largest).

    Ties are broken by the smaller column index, so the result is deterministic.
    ``row_offset`` is added to the row numbers (for matrices that are a block of a larger one).

    >>> m = sp.csr_array(np.array([[0.0, 0.5, 0.9], [0.2, 0.0, 0.0]]))
    >>> top_k_per_row(m, 1).values.tolist()
    [[0.0, 2.0, 0.8999999761581421, 1.0], [1.0, 0.0, 0.20000000298023224, 1.0]]
    """
    matrix = sp.csr_array(matrix)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), counts)
    cols = matrix.indices.astype(np.int64)
    values = matrix.data.astype(np.float32)
    keep = values > 0 if min_value is None else values >= min_value
    if drop_diagonal:
        keep &= cols != rows + row_offset
    keep &= values >= _row_kth_largest(matrix.indptr, values, keep, k)[rows]  # candidates: the k best and ties
    rows, cols, values = rows[keep], cols[keep], values[keep]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    starts = np.searchsorted(rows, np.arange(matrix.shape[0]), side="left")
    rank = np.arange(rows.size, dtype=np.int64) - starts[rows] + 1
    top = rank <= k
    return pd.DataFrame({"row": rows[top] + row_offset, "col": cols[top], "value": values[top],
                         "rank": rank[top]})


def _row_kth_largest(indptr: np.ndarray, values: np.ndarray, keep: np.ndarray, k: int) -> np.ndarray:
    """Per row of a CSR layout, the ``k``-th largest of the kept values (``-inf`` when a row keeps ``k`` or fewer).

    A partition of each long row (linear in its length), so that the exact top-k sort afterwards only
    sees about ``k`` entries per row.
    """
    n_rows = indptr.size - 1
    out = np.full(n_rows, -np.inf, dtype=np.float32)
    if k <= 0:
        out[:] = np.inf
        return out
    kept = np.where(keep, values, -np.inf).astype(np.float32)
    counts = np.diff(indptr)
    for row in np.flatnonzero(counts > k).tolist():
        segment = kept[indptr[row]:indptr[row + 1]]
        out[row] = np.partition(segment, segment.size - k)[segment.size - k]
    return out


def top_k_dense(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest entries of each row of a dense array, best first.

    Entries equal to ``-inf`` are never returned as a real result: their index is ``-1``.
    """
    k = min(k, scores.shape[1])
    if k == 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64), np.empty((scores.shape[0], 0), dtype=scores.dtype)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part_values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_values), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(part_values, order, axis=1)
    idx = np.where(np.isfinite(vals), idx, -1)
    return idx, vals
