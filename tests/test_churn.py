"""Churn risk (algorithms/churn.py): P(no purchase in the next 90 days), learned from the history itself."""

from __future__ import annotations

import numpy as np

from algorithms import churn


def _shop(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """300 regulars buying every ~14 days to the end; 300 who stopped at a random day before it."""
    rows = []
    for c in range(600):
        stop = 365.0 if c < 300 else rng.uniform(60, 300)
        rows += [(c, d, 10.0) for d in np.arange(rng.uniform(0, 14), stop, 14 + rng.uniform(-2, 2))]
    return tuple(np.array(column) for column in zip(*rows, strict=True))  # type: ignore[return-value]


def test_a_lapsed_customer_is_at_risk_and_a_regular_is_not() -> None:
    customer, day, value = _shop(np.random.default_rng(0))
    model = churn.fit(customer, day, value, as_of=365.0)
    risk = churn.predict(model, churn.customer_features(customer, day, value, as_of=365.0))
    assert model.classifier is not None and risk is not None
    assert risk[:300].mean() < 0.1 and risk[300:].mean() > 0.8


def test_without_enough_buyers_and_non_buyers_there_is_no_classifier() -> None:
    customer, day, value = np.array([0, 0, 1]), np.array([1.0, 200.0, 5.0]), np.array([1.0, 1.0, 1.0])
    model = churn.fit(customer, day, value, as_of=300.0)
    assert model.classifier is None
    assert churn.predict(model, churn.customer_features(customer, day, value, as_of=300.0)) is None
