"""Churn risk: the probability that a customer buys nothing in the coming horizon, learned from the graph.

Buy-till-you-die models (:mod:`algorithms.retention`, :mod:`algorithms.pareto_nbd`) estimate whether a
customer is still "alive"; on a short history (the Online Retail year) their drop-out part fits to about
zero and every customer looks alive, so ``1 - P(alive)`` says nothing. This module asks the retailer's
question directly. For every customer with purchases before ``as_of`` (days), :func:`customer_features`
describes their rhythm:

================  =====================================================================
``days``          distinct days they bought something
``since_last``    days since their last purchase
``cycle``         mean gap between those days (NaN with one day)
``due``           ``since_last / cycle``
``tenure``        days since their first purchase
``recent_90``     purchase days in the last 90 days
``recent_30``     purchase days in the last 30 days
``spent``         what they spent
================  =====================================================================

:func:`fit` learns ``P(no purchase within horizon | features)`` with a gradient-boosted classifier on the
same data one horizon earlier, for windows ending at ``as_of`` and one and two months earlier (as
:mod:`algorithms.buy_again` does; a history shorter than two horizons learns on half of it).

>>> import numpy as np
>>> f = customer_features(np.array([0, 0, 1]), np.array([10.0, 40.0, 5.0]), np.array([5.0, 7.0, 3.0]), as_of=50.0)
>>> f[["days", "since_last", "cycle", "due", "tenure", "spent"]].values.tolist()
[[2.0, 10.0, 30.0, 0.3333333333333333, 40.0, 12.0], [1.0, 45.0, nan, nan, 45.0, 3.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from algorithms._learning import learning_windows, shallow_classifier, shopping_rhythm

__all__ = ["FEATURES", "ChurnModel", "customer_features", "fit", "predict"]

MIN_PER_CLASS = 20  # buyers and non-buyers needed in the training windows
FEATURES = ["days", "since_last", "cycle", "due", "tenure", "recent_90", "recent_30", "spent"]


def customer_features(customer: np.ndarray, day: np.ndarray, value: np.ndarray, as_of: float) -> pd.DataFrame:
    """:data:`FEATURES` per customer code with purchases before ``as_of`` (index: the code, sorted)."""
    lines = pd.DataFrame({"customer": np.asarray(customer, np.int64), "day": np.floor(np.asarray(day, np.float64)),
                          "value": np.asarray(value, np.float64)})
    lines = lines[lines.day < as_of]
    if lines.empty:
        return pd.DataFrame(columns=FEATURES, dtype=np.float64)
    spent = lines.groupby("customer").value.sum()
    days = lines.drop_duplicates(["customer", "day"])
    per = shopping_rhythm(days)
    out = pd.DataFrame(index=per.index)
    out["days"] = per["days"]
    out["since_last"] = as_of - per["last"]
    out["cycle"] = per["cycle"]
    out["due"] = out["since_last"] / out["cycle"]
    out["tenure"] = as_of - per["first"]
    for window in (90, 30):
        recent = days[days.day >= as_of - window].groupby("customer").size()
        out[f"recent_{window}"] = recent.reindex(out.index, fill_value=0).astype(np.float64)
    out["spent"] = spent.reindex(out.index).astype(np.float64)
    return out[FEATURES]


@dataclass(frozen=True)
class ChurnModel:
    """A fitted churn classifier (``None`` when there was nothing to learn from) and its training."""

    classifier: object
    horizon_days: float
    training_customers: int
    churn_rate: float


def fit(customer: np.ndarray, day: np.ndarray, value: np.ndarray, as_of: float, *, horizon: float = 90.0,
        seed: int = 42) -> ChurnModel:
    """Learn P(no purchase within ``horizon``) on the windows that end at ``as_of`` and earlier."""
    day = np.asarray(day, np.float64)
    horizon, ends = learning_windows(day, as_of=as_of, horizon=horizon)
    frames, labels = [], []
    for end in ends:
        features = customer_features(customer, day, value, end - horizon)
        window = (day >= end - horizon) & (day < end)
        buyers = np.unique(np.asarray(customer, np.int64)[window])
        frames.append(features)
        labels.append(~features.index.isin(buyers))
    if not frames:
        return ChurnModel(None, horizon, 0, 0.0)
    features, label = pd.concat(frames), np.concatenate(labels)
    if min(int(label.sum()), int((~label).sum())) < MIN_PER_CLASS:  # too few of one kind to learn from
        return ChurnModel(None, horizon, len(features), float(label.mean()))
    classifier = shallow_classifier(len(features), seed)
    classifier.fit(features[FEATURES].to_numpy(np.float64), label)
    return ChurnModel(classifier, horizon, len(features), float(label.mean()))


def predict(model: ChurnModel, features: pd.DataFrame) -> np.ndarray | None:
    """P(no purchase within the model's horizon) per row of :func:`customer_features`; ``None`` without a
    classifier (the caller keeps ``1 - P(alive)``)."""
    if model.classifier is None:
        return None
    return model.classifier.predict_proba(features[FEATURES].to_numpy(np.float64))[:, 1]  # type: ignore[attr-defined]
