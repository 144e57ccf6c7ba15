"""What the learned models share (buy again, churn): their training windows and their classifier.

Each learns from the graph's own history: features as of ``end - horizon`` and a label from
``[end - horizon, end)``, for windows ending at ``as_of`` and one and two months earlier. A history shorter
than two horizons learns on a horizon of half of it; a window that would start before the history is left out.

>>> import numpy as np
>>> learning_windows(np.array([0.0, 250.0]), as_of=400.0, horizon=90.0)
(90.0, [400.0, 370.0, 340.0])
>>> learning_windows(np.array([0.0]), as_of=100.0, horizon=90.0)
(50.0, [100.0, 70.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

WINDOW_SHIFTS = (0.0, 30.0, 60.0)  # training windows end at as_of, a month and two months earlier


def learning_windows(day: np.ndarray, *, as_of: float, horizon: float) -> tuple[float, list[float]]:
    """The horizon to learn on and the end day of each training window, for purchases on ``day`` (days)."""
    history = as_of - float(day.min()) if day.size else 0.0
    horizon = max(1.0, min(horizon, history / 2))
    return horizon, [as_of - shift for shift in WINDOW_SHIFTS if shift + horizon < history]


def shopping_rhythm(purchases: pd.DataFrame) -> pd.DataFrame:
    """Per customer, from ``customer, day`` rows (days as whole numbers): ``days`` (distinct shopping days),
    ``first``, ``last`` and ``cycle``, the mean gap between shopping days (NaN with one day).

    >>> shopping_rhythm(pd.DataFrame({"customer": [0, 0, 0, 1], "day": [10.0, 40.0, 40.0, 5.0]})).values.tolist()
    [[2.0, 10.0, 40.0, 30.0], [1.0, 5.0, 5.0, nan]]
    """
    per = purchases.drop_duplicates(["customer", "day"]).groupby("customer").day.agg(days="size", first="min",
                                                                                      last="max")
    per["days"] = per["days"].astype(np.float64)
    per["cycle"] = np.where(per["days"] > 1, (per["last"] - per["first"]) / (per["days"] - 1).clip(lower=1), np.nan)
    return per


def shallow_classifier(n_rows: int, seed: int, *, early_stopping: bool | str = "auto") -> Any:
    """The gradient-boosted classifier both models use: 300 trees of 4 leaves, learning rate 0.05 (chosen on
    the validation window of ``benchmarks/bench_recommend.py``); leaves of at least 40 rows on real histories,
    fewer on small graphs so that they still split. ``early_stopping``: scikit-learn's (``"auto"``: on a
    random 10% of the rows beyond 10,000 rows; buy again turns it off and always grows the 300 trees)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=4,
                                          min_samples_leaf=min(40, max(5, n_rows // 20)), l2_regularization=1.0,
                                          early_stopping=early_stopping, random_state=seed)
