"""Buy again: the probability that a customer re-orders a product they bought before, within a horizon.

A good shop assistant remembers what each customer usually buys and when they are due again. For every
(customer, product) pair with purchases before ``as_of`` (days), :func:`repurchase_features` describes
the pair's repeat cycle, recency and amounts, the customer's shopping rhythm and basket, and the
product's repeat nature and trend:

=====================  ============================================================================
``days``               distinct days the customer bought the product
``since_last``         ``as_of - last``: days since they last bought it
``cycle``              mean gap between those days, ``(last - first) / (days - 1)`` (NaN with one day)
``due``                ``since_last / cycle``: 1.0 = exactly one cycle since the last purchase
``share``              ``days / customer_days``: how many of the customer's shopping days hold it
``customer_days``      distinct days the customer bought anything
``customer_since``     days since the customer's last purchase of anything
``repeat_rate``        share of the product's buyers who bought it on two days or more
``product_cycle``      median ``cycle`` of the product's repeat buyers
``recent_buyers``      distinct buyers of the product in the last 28 days
``customer_cycle``     mean gap between the customer's shopping days
``recent_days``        the customer's shopping days in the last 90 days
``units``              units of the product the customer bought (sum of the order lines' quantities)
``units_per_day``      ``units / days``: how many they take at a time
``spend_share``        the product's share of the customer's spend
``customer_products``  distinct products the customer bought
``basket``             ``sum(days) / customer_days``: distinct products per shopping day
``product_buyers``     distinct buyers of the product
``product_trend``      ``recent_buyers / (1 + earlier / 3)``, ``earlier`` = its distinct buyers in the 84
                       days before the last 28: above 1 when it sells more than in the three months before
=====================  ============================================================================

The product columns aggregate other customers' purchases: they are computed from the purchases the
consent policy admits into aggregates, which the caller passes as ``aggregates``.

:func:`fit` learns ``P(bought again within horizon | features)`` with a gradient-boosted classifier
(scikit-learn's ``HistGradientBoostingClassifier``, shallow trees, which takes NaN as "unknown"; all
300 trees, without early stopping, so that no random validation split makes a run differ) on the
same data *one horizon earlier*: features as of ``end - horizon``, label = the pair was bought in
``[end - horizon, end)``, for three windows ending at ``as_of`` and one and two months earlier. No
outside labels are needed, so each algorithms run trains on the most recent windows of its own graph
(on a history shorter than two horizons, on a horizon of half the history). :func:`predict` scores the
pairs as of ``as_of``.

The model was chosen by measurement (``benchmarks/bench_recommend.py``, variant A, on the real Online
Retail history, chosen on an earlier window): it beats "your most-ordered products, most recent first"
(NDCG@10 0.407 vs 0.359 on the main window, 0.429 vs 0.366 on the validation window; the former 12
features without the amounts, basket and product trend: 0.403 and 0.422). The fit takes a seeded sample of
at most 100,000 training pairs (on the validation window 60,000, 100,000 and all 123,000 tie).

>>> import numpy as np
>>> customer = np.array([0, 0, 0, 0, 1])
>>> product = np.array([7, 7, 7, 8, 7])
>>> day = np.array([0.0, 30.0, 60.0, 10.0, 55.0])
>>> f = repurchase_features(customer, product, day, as_of=90.0)
>>> f[["customer", "product", "days", "since_last", "cycle", "due", "share"]].to_string(index=False)
' customer  product  days  since_last  cycle  due  share\\n        0        7     3        30.0   30.0  1.0   0.75\\n        0        8     1        80.0    NaN  NaN   0.25\\n        1        7     1        35.0    NaN  NaN   1.00'
>>> reason(days=3, cycle=30.0, last_date="2011-11-02")
'you order this about every 30 days; last on 2011-11-02'
>>> reason(days=1, cycle=float("nan"), last_date="2011-10-12")
'you bought this on 2011-10-12'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from algorithms._learning import learning_windows, shallow_classifier, shopping_rhythm
from algorithms.trends import recent_and_expected_buyers

__all__ = ["FEATURES", "PRODUCT_FEATURES", "BuyAgainModel", "Purchases", "fit", "predict", "product_features", "reason",
           "repurchase_features", "training_pairs"]

PRODUCT_FEATURES = ["repeat_rate", "product_cycle", "recent_buyers", "product_buyers", "product_trend"]
FEATURES = ["days", "since_last", "cycle", "due", "share", "customer_days", "customer_since", "repeat_rate",
            "recent_buyers", "product_cycle", "customer_cycle", "recent_days", "units", "units_per_day", "spend_share",
            "customer_products", "basket", "product_buyers", "product_trend"]
RECENT_DAYS = 28.0
EARLIER_DAYS = 84.0  # product_trend compares the last RECENT_DAYS with the EARLIER_DAYS before them
MAX_TRAINING_PAIRS = 100_000  # a seeded sample beyond; on the validation window 60k, 100k and all 123k tie


Purchases = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(customer, product, day)``: integer codes and purchase times in days, one entry per order line."""


def _purchase_days(purchases: Purchases, as_of: float) -> pd.DataFrame:
    """Distinct (customer, product, whole day) before ``as_of``."""
    customer, product, day = purchases
    frame = pd.DataFrame({"customer": np.asarray(customer, np.int64), "product": np.asarray(product, np.int64),
                          "day": np.floor(np.asarray(day, np.float64))})
    return frame[frame.day < as_of].drop_duplicates()


def _pair_cycles(frame: pd.DataFrame, as_of: float) -> pd.DataFrame:
    """Per (customer, product): ``days, first, last, since_last, cycle``."""
    pairs = frame.groupby(["customer", "product"], sort=True).day.agg(days="size", first="min", last="max").reset_index()
    pairs["since_last"] = as_of - pairs["last"]
    pairs["cycle"] = np.where(pairs["days"] > 1, (pairs["last"] - pairs["first"]) / (pairs["days"] - 1).clip(lower=1),
                              np.nan)
    return pairs


def product_features(purchases: Purchases, as_of: float) -> pd.DataFrame:
    """The product's repeat nature and trend, indexed by product code: :data:`PRODUCT_FEATURES`.

    These aggregate many customers' purchases, so the caller passes the purchases the consent policy lets
    into product-level aggregates (``Interactions.for_aggregates``), which need not be the customers scored.
    """
    frame = _purchase_days(purchases, as_of)
    if frame.empty:
        return pd.DataFrame(columns=PRODUCT_FEATURES, index=pd.Index([], name="product"))
    pairs = _pair_cycles(frame, as_of)
    by_product = pairs.assign(repeat=pairs["days"] > 1).groupby("product")
    features = pd.DataFrame({"repeat_rate": by_product["repeat"].mean(), "product_cycle": by_product["cycle"].median(),
                             "product_buyers": by_product.size().astype(np.float64)})
    recent, expected = recent_and_expected_buyers(
        frame["customer"].to_numpy(), frame["product"].to_numpy(), frame["day"].to_numpy(),
        int(frame["product"].max()) + 1, as_of, recent_days=RECENT_DAYS, baseline_days=EARLIER_DAYS)
    codes = features.index.to_numpy(np.int64)
    features["recent_buyers"] = recent[codes]
    features["product_trend"] = recent[codes] / (1.0 + expected[codes])
    return features[PRODUCT_FEATURES]


def repurchase_features(customer: np.ndarray, product: np.ndarray, day: np.ndarray, as_of: float, *,
                        quantity: np.ndarray | None = None, value: np.ndarray | None = None,
                        aggregates: Purchases | None = None) -> pd.DataFrame:
    """One row per (customer, product) bought before ``as_of``: ``customer, product, last`` and :data:`FEATURES`.

    ``customer``, ``product``: integer codes; ``day``: purchase times in days; ``quantity``, ``value``: the
    units and the amount of each order line (one unit, and the units as the amount, when ``None``).
    The :data:`PRODUCT_FEATURES` come from ``aggregates`` (the same purchases when ``None``): see
    :func:`product_features`.
    """
    frame = _purchase_days((customer, product, day), as_of)
    columns = ["customer", "product", "last", *FEATURES]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    pairs = _pair_cycles(frame, as_of)
    pairs["due"] = pairs["since_last"] / pairs["cycle"]
    shopper = shopping_rhythm(frame).rename(columns=lambda c: f"customer_{c}")
    pairs = pairs.join(shopper[["customer_days", "customer_last", "customer_cycle"]], on="customer")
    pairs["share"] = pairs["days"] / pairs["customer_days"]
    pairs["customer_since"] = as_of - pairs["customer_last"]
    pairs["recent_days"] = pairs["customer"].map(frame[frame.day >= as_of - 90.0].drop_duplicates(["customer", "day"])
                                                 .customer.value_counts()).fillna(0.0)
    pairs = pairs.join(_amounts(customer, product, day, quantity, value, as_of), on=["customer", "product"])
    pairs["units_per_day"] = pairs["units"] / pairs["days"]
    per_customer = pairs.groupby("customer")
    pairs["spend_share"] = pairs["spend"] / per_customer["spend"].transform("sum")  # NaN when nothing was spent
    pairs["customer_products"] = per_customer["product"].transform("size").astype(np.float64)
    pairs["basket"] = per_customer["days"].transform("sum") / pairs["customer_days"]
    products = product_features((customer, product, day) if aggregates is None else aggregates, as_of)
    pairs = pairs.join(products, on="product")
    for column in ("recent_buyers", "product_buyers", "product_trend"):  # repeat_rate, product_cycle: NaN is "unknown"
        pairs[column] = pairs[column].fillna(0.0)
    return pairs[columns].reset_index(drop=True)


def _amounts(customer: np.ndarray, product: np.ndarray, day: np.ndarray, quantity: np.ndarray | None,
             value: np.ndarray | None, as_of: float) -> pd.DataFrame:
    """Per (customer, product) of the order lines before ``as_of``: ``units`` and ``spend`` (sums)."""
    units = np.ones(len(day)) if quantity is None else np.asarray(quantity, np.float64)
    lines = pd.DataFrame({"customer": np.asarray(customer, np.int64), "product": np.asarray(product, np.int64),
                          "units": units, "spend": units if value is None else np.asarray(value, np.float64)})
    return lines[np.asarray(day, np.float64) < as_of].groupby(["customer", "product"]).sum()


def training_pairs(customer: np.ndarray, product: np.ndarray, day: np.ndarray, as_of: float,
                   horizon: float, *, quantity: np.ndarray | None = None, value: np.ndarray | None = None,
                   aggregates: Purchases | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Features as of ``as_of - horizon`` and the label: bought again in ``[as_of - horizon, as_of)``."""
    start = as_of - horizon
    features = repurchase_features(customer, product, day, start, quantity=quantity, value=value,
                                   aggregates=aggregates)
    day = np.floor(np.asarray(day, np.float64))
    window = (day >= start) & (day < as_of)
    bought = pd.MultiIndex.from_arrays([np.asarray(customer, np.int64)[window], np.asarray(product, np.int64)[window]])
    pairs = pd.MultiIndex.from_arrays([features.customer.to_numpy(np.int64), features["product"].to_numpy(np.int64)])
    return features, pairs.isin(bought)


@dataclass(frozen=True)
class BuyAgainModel:
    """A fitted buy-again classifier, with what it was trained on (for the ``AlgorithmRun``)."""

    classifier: object  # sklearn HistGradientBoostingClassifier, or None when there was nothing to learn from
    horizon_days: float
    training_pairs: int
    positive_rate: float


def fit(customer: np.ndarray, product: np.ndarray, day: np.ndarray, as_of: float, *, horizon: float = 90.0,
        seed: int = 42, quantity: np.ndarray | None = None, value: np.ndarray | None = None,
        aggregates: Purchases | None = None) -> BuyAgainModel:
    """Learn P(bought again within ``horizon``) on the window that ends at ``as_of`` (see the module doc)."""
    day = np.asarray(day, np.float64)
    horizon, ends = learning_windows(day, as_of=as_of, horizon=horizon)
    windows = [training_pairs(customer, product, day, end, horizon, quantity=quantity, value=value,
                              aggregates=aggregates) for end in ends]
    features = pd.concat([w[0] for w in windows], ignore_index=True) if windows else pd.DataFrame(columns=FEATURES)
    label = np.concatenate([w[1] for w in windows]) if windows else np.zeros(0, dtype=bool)
    if len(features) > MAX_TRAINING_PAIRS:  # a seeded sample: the fit's time stays bounded on large graphs
        keep = np.sort(np.random.default_rng(seed).choice(len(features), MAX_TRAINING_PAIRS, replace=False))
        features, label = features.iloc[keep].reset_index(drop=True), label[keep]
    if len(features) == 0 or label.all() or not label.any():
        return BuyAgainModel(None, horizon, len(features), float(label.mean()) if len(label) else 0.0)
    classifier = shallow_classifier(len(features), seed, early_stopping=False)
    classifier.fit(features[FEATURES].to_numpy(np.float64), label)
    return BuyAgainModel(classifier, horizon, len(features), float(label.mean()))


def predict(model: BuyAgainModel, features: pd.DataFrame) -> np.ndarray:
    """P(bought again within the model's horizon) for each row of :func:`repurchase_features`.

    Without a classifier (a history too short or without any repeat purchase to learn from) the share
    of the customer's shopping days that hold the product is the best guess there is."""
    if len(features) == 0:
        return np.zeros(0)
    if model.classifier is None:
        return features["share"].to_numpy(np.float64)
    return model.classifier.predict_proba(features[FEATURES].to_numpy(np.float64))[:, 1]  # type: ignore[attr-defined]


def reason(*, days: int, cycle: float, last_date: str) -> str:
    """Why a product is due again, in words."""
    if days > 1 and not math.isnan(cycle) and cycle >= 1:
        return f"you order this about every {round(cycle):d} days; last on {last_date}"
    if days > 1:
        return f"you bought this {days} times; last on {last_date}"
    return f"you bought this on {last_date}"
