"""From plain frames of behaviour to the coded arrays and sparse matrices the families work on.

Both the pipeline (frames read from Neo4j by :mod:`algorithms.projection`) and the benchmarks (frames
read straight from a CSV) build their inputs here, so the maths measured is the maths that runs.
Times are day numbers (days since 1970-01-01 UTC, fractional); ``as_of_day`` is "now" for the data:
the latest interaction, so that a historical data set is scored as of its own end.

Consent (see ``graph_model/privacy/policy.py``) is applied here, as views of the same coded data that
leave out the behaviour of the customers a use may not read (customer codes stay the same, so matrices
of every view line up):

* :meth:`Interactions.for_customer_models`: customers who permit ``analytics`` (RFM, retention, segments);
* :meth:`Interactions.for_similar_shoppers`: customers who permit ``analytics`` and ``personalisation``
  (similarity, the similar-shoppers part and evidence of recommendations);
* :meth:`Interactions.for_personalisation`: customers who permit ``personalisation`` (their own
  recommendations);
* :meth:`Interactions.for_aggregates`: anonymous product-level aggregates (affinities, trends,
  popularity, the EASE item-item model): everyone, guests included, except the customers without
  ``analytics`` when ``aggregates_without_analytics`` is false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from algorithms._sparse import binarize, coo_to_csr, encode
from algorithms.similarity import DEFAULT_WEIGHTS, interaction_weight

__all__ = ["Interactions", "build_interactions"]

SECONDS_PER_DAY = 86_400.0


@dataclass
class Interactions:
    """Coded behaviour: every id is an integer code into ``customers``, ``products``, ``stores``.

    ``purchases``: ``customer, product, order, store, day, quantity, value`` (not cancelled, quantity > 0;
    ``customer`` is -1 for guest orders). ``events``: ``customer, product, session, type, day``.
    ``visits``: ``customer, store, day``. ``home_store``: a store code per customer (-1: none).
    ``personalisation``, ``analytics``: per customer code, whether the customer permits that purpose
    (``None``: everyone does); ``aggregates_without_analytics``: whether the behaviour of customers
    without analytics still counts in product-level aggregates.
    """

    customers: pd.Index
    products: pd.Index
    stores: pd.Index
    product_names: np.ndarray
    home_store: np.ndarray
    purchases: pd.DataFrame
    events: pd.DataFrame
    visits: pd.DataFrame
    as_of_day: float
    personalisation: np.ndarray | None = field(default=None, repr=False)
    analytics: np.ndarray | None = field(default=None, repr=False)
    aggregates_without_analytics: bool = True

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    # ------------------------------------------------------------ consent

    def permits(self, purpose: str) -> np.ndarray:
        """Per customer code: may ``purpose`` (``personalisation`` or ``analytics``) use their data?"""
        allowed = {"personalisation": self.personalisation, "analytics": self.analytics}[purpose]
        return np.ones(self.n_customers, dtype=bool) if allowed is None else allowed

    @property
    def similar_shopper_eligible(self) -> np.ndarray:
        """Per customer code: may be in the similarity model and be someone's similar shopper or evidence
        (permits both ``analytics`` and ``personalisation``)."""
        return self.permits("analytics") & self.permits("personalisation")

    def keeping(self, allowed: np.ndarray) -> Interactions:
        """The same data without the purchases, events and visits of known customers not ``allowed``
        (guest rows stay); order and session codes are renumbered so baskets leave no empty rows.
        ``self`` when nothing is left out."""
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.all():
            return self

        def kept(frame: pd.DataFrame) -> np.ndarray:
            customer = frame["customer"].to_numpy(np.int64)
            return (customer < 0) | allowed[np.maximum(customer, 0)]

        keep_p, keep_e, keep_v = kept(self.purchases), kept(self.events), kept(self.visits)
        if keep_p.all() and keep_e.all() and keep_v.all():
            return self
        return self._with_rows(keep_p, keep_e, keep_v)

    def before(self, day: float) -> Interactions:
        """The same data as it stood at ``day``: purchases, events and visits before it, ``as_of_day = day``
        (same customer and product codes; order and session codes renumbered as in :meth:`keeping`).

        >>> data = Interactions(customers=pd.Index(["c"]), products=pd.Index(["a", "b"]), stores=pd.Index([]),
        ...     product_names=np.array(["A", "B"], dtype=object), home_store=np.array([-1]),
        ...     purchases=pd.DataFrame({"customer": [0, 0], "product": [0, 1], "order": [0, 1], "store": [-1, -1],
        ...                             "day": [1.0, 5.0], "quantity": [1.0, 1.0], "value": [1.0, 1.0]}),
        ...     events=pd.DataFrame(columns=["customer", "product", "session", "type", "day"]),
        ...     visits=pd.DataFrame(columns=["customer", "store", "day"]), as_of_day=5.0)
        >>> earlier = data.before(3.0)
        >>> earlier.as_of_day, earlier.purchases[["product", "order"]].values.tolist()
        (3.0, [[0, 0]])
        """
        def earlier(frame: pd.DataFrame) -> np.ndarray:
            return frame.day.to_numpy(np.float64) < day

        return replace(self._with_rows(earlier(self.purchases), earlier(self.events), earlier(self.visits)),
                       as_of_day=float(day))

    def _with_rows(self, keep_p: np.ndarray, keep_e: np.ndarray, keep_v: np.ndarray) -> Interactions:
        """The same data with only the purchases, events and visits kept by these masks; order and session
        codes renumbered so baskets leave no empty rows."""
        purchases = self.purchases[keep_p].reset_index(drop=True)
        purchases["order"] = np.unique(purchases["order"].to_numpy(np.int64), return_inverse=True)[1]
        events = self.events[keep_e].reset_index(drop=True)
        events["session"] = np.unique(events["session"].to_numpy(np.int64), return_inverse=True)[1]
        return replace(self, purchases=purchases, events=events, visits=self.visits[keep_v].reset_index(drop=True))

    @cached_property
    def for_customer_models(self) -> Interactions:
        """Only customers who permit ``analytics`` (RFM, retention, segments)."""
        return self.keeping(self.permits("analytics"))

    @cached_property
    def for_similar_shoppers(self) -> Interactions:
        """Only customers who permit ``analytics`` and ``personalisation`` (similarity, similar shoppers)."""
        return self.keeping(self.similar_shopper_eligible)

    @cached_property
    def for_personalisation(self) -> Interactions:
        """Only customers who permit ``personalisation`` (their own recommendations)."""
        return self.keeping(self.permits("personalisation"))

    @cached_property
    def for_aggregates(self) -> Interactions:
        """Anonymous product-level aggregates: everyone (guests too), less the customers without
        ``analytics`` unless ``aggregates_without_analytics``."""
        return self if self.aggregates_without_analytics else self.keeping(self.permits("analytics"))

    # ------------------------------------------------------------ matrices

    @property
    def n_products(self) -> int:
        return len(self.products)

    def known_purchases(self) -> pd.DataFrame:
        """Purchases of known customers."""
        return self.purchases[self.purchases.customer >= 0]

    def order_baskets(self) -> sp.csr_array:
        """Orders x products, 1 where the order holds the product (guest orders included)."""
        p = self.purchases
        return binarize(coo_to_csr(p.order.to_numpy(), p["product"].to_numpy(), None,
                                   (int(p.order.max()) + 1 if len(p) else 0, self.n_products)))

    def session_baskets(self, types: tuple[str, ...] = ("product_view", "add_to_cart")) -> sp.csr_array:
        """Sessions x products, 1 where the session viewed (or carted) the product."""
        e = self.events[self.events.type.isin(types)]
        n_sessions = int(self.events.session.max()) + 1 if len(self.events) else 0
        return binarize(coo_to_csr(e.session.to_numpy(), e["product"].to_numpy(), None, (n_sessions, self.n_products)))

    def bought(self) -> sp.csr_array:
        """Customers x products, 1 where the customer bought the product."""
        p = self.known_purchases()
        return binarize(coo_to_csr(p.customer.to_numpy(), p["product"].to_numpy(), None,
                                   (self.n_customers, self.n_products)))

    def _weighted(self, half_life_days: float, weights: Mapping[str, float]) -> tuple[np.ndarray, ...]:
        p = self.known_purchases()
        e = self.events[self.events.customer >= 0]
        kinds = np.concatenate([np.full(len(p), "purchase", dtype=object), e.type.to_numpy(dtype=object)])
        days = np.concatenate([p.day.to_numpy(np.float64), e.day.to_numpy(np.float64)])
        w = interaction_weight(kinds, self.as_of_day - days, half_life_days=half_life_days, weights=weights)
        customers = np.concatenate([p.customer.to_numpy(), e.customer.to_numpy()])
        products = np.concatenate([p["product"].to_numpy(), e["product"].to_numpy()])
        return customers, products, w

    def history(self, *, half_life_days: float = 180.0,
                weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> sp.csr_array:
        """Customers x products: summed interaction weights (purchases and session events, decayed)."""
        customers, products, w = self._weighted(half_life_days, weights)
        return coo_to_csr(customers, products, w, (self.n_customers, self.n_products))

    def recency(self, *, half_life_days: float = 60.0, weights: Mapping[str, float] = DEFAULT_WEIGHTS,
                purchases_only: bool = False) -> sp.csr_array:
        """Customers x products: the strongest single interaction, ``max weights[kind] * 0.5 ** (age / half_life)``.

        Unlike :meth:`history` (a sum), a product bought ten times weighs what its latest purchase weighs:
        how recently the customer showed interest, not how often. ``purchases_only`` leaves session events out.
        """
        if purchases_only:
            p = self.known_purchases()
            customers, products = p.customer.to_numpy(), p["product"].to_numpy()
            w = interaction_weight(np.full(len(p), "purchase", dtype=object), self.as_of_day - p.day.to_numpy(np.float64),
                                   half_life_days=half_life_days, weights=weights)
        else:
            customers, products, w = self._weighted(half_life_days, weights)
        key = customers.astype(np.int64) * self.n_products + products.astype(np.int64)
        order = np.lexsort((-w, key))
        key, w = key[order], w[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        key, w = key[first], w[first]
        return coo_to_csr(key // max(self.n_products, 1), key % max(self.n_products, 1), w,
                          (self.n_customers, self.n_products))

    def customer_features(self, *, half_life_days: float = 180.0,
                          weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> sp.csr_array:
        """Customers x (products + stores): weighted purchases, events and store visits (decayed)."""
        customers, products, w = self._weighted(half_life_days, weights)
        v = self.visits[(self.visits.customer >= 0) & (self.visits.store >= 0)]
        vw = interaction_weight(np.full(len(v), "visit", dtype=object), self.as_of_day - v.day.to_numpy(np.float64),
                                half_life_days=half_life_days, weights=weights)
        rows = np.concatenate([customers, v.customer.to_numpy()])
        cols = np.concatenate([products, v.store.to_numpy() + self.n_products])
        return coo_to_csr(rows, cols, np.concatenate([w, vw]), (self.n_customers, self.n_products + len(self.stores)))

    def last_interaction(self) -> tuple[sp.csr_array, sp.csr_array]:
        """Customers x products: the day of the last interaction (+1, so that day 0 is stored) and
        a matrix that is 1 where that product was bought."""
        p = self.known_purchases()
        e = self.events[self.events.customer >= 0]
        frame = pd.DataFrame({"c": np.concatenate([p.customer.to_numpy(), e.customer.to_numpy()]),
                              "p": np.concatenate([p["product"].to_numpy(), e["product"].to_numpy()]),
                              "d": np.concatenate([p.day.to_numpy(np.float64), e.day.to_numpy(np.float64)])})
        last = frame.groupby(["c", "p"], sort=False)["d"].max().reset_index()
        shape = (self.n_customers, self.n_products)
        day = coo_to_csr(last.c.to_numpy(), last.p.to_numpy(), np.floor(last.d.to_numpy()) + 1, shape, dtype=np.float64)
        return day, self.bought()


def _consent_column(consent: pd.DataFrame | None, purpose: str, customers: pd.Index) -> np.ndarray | None:
    if consent is None or purpose not in consent:
        return None
    values = consent[purpose]
    values = values[~values.index.duplicated()]
    allowed = values.reindex(customers).to_numpy(dtype=object)
    allowed = np.where(pd.isna(allowed), True, allowed).astype(bool)  # unknown: the shipped default, granted
    return None if allowed.all() else allowed


def build_interactions(customer_ids: pd.Series, products: pd.DataFrame, store_ids: pd.Series, orders: pd.DataFrame,
                       events: pd.DataFrame, visits: pd.DataFrame, *, home_store: pd.Series | None = None,
                       as_of: float | None = None, consent: pd.DataFrame | None = None,
                       aggregates_without_analytics: bool = True) -> Interactions:
    """Code plain frames (as :mod:`algorithms.projection` returns them; times in epoch seconds).

    ``orders``: ``orderId, customerId, storeId, at, cancelled, sku, quantity, unitPrice``;
    ``events``: ``sessionId, customerId, sku, type, at``; ``visits``: ``customerId, storeId, at``;
    ``products``: ``sku, name``; ``home_store``: store id indexed by customer id. ``as_of`` (epoch seconds) defaults to the latest interaction.
    ``consent``: indexed by customer id, boolean columns ``personalisation`` and ``analytics`` (the
    policy's decisions, as :func:`algorithms.projection.read_customers` reads them; a customer or a
    column missing: permitted); ``aggregates_without_analytics``: the policy's choice of that name.
    """
    customers = pd.Index(pd.unique(customer_ids.dropna().astype(str))).sort_values()
    product_index = pd.Index(products["sku"].astype(str))
    stores = pd.Index(pd.unique(store_ids.dropna().astype(str))).sort_values()
    names = products["name"].where(products["name"].notna(), products["sku"]).astype(str).to_numpy(dtype=object)

    o = orders[(~orders["cancelled"].astype(bool)) & (orders["quantity"].astype(float) > 0)]
    order_codes, _ = encode(o["orderId"].astype(str))
    purchases = pd.DataFrame({
        "customer": encode(o["customerId"].astype("string").fillna(""), customers)[0],
        "product": encode(o["sku"].astype(str), product_index)[0],
        "order": order_codes,
        "store": encode(o["storeId"].astype("string").fillna(""), stores)[0],
        "day": o["at"].to_numpy(np.float64) / SECONDS_PER_DAY,
        "quantity": o["quantity"].to_numpy(np.float64),
        "value": o["quantity"].to_numpy(np.float64) * o["unitPrice"].fillna(0).to_numpy(np.float64),
    })
    purchases = purchases[purchases["product"] >= 0].reset_index(drop=True)
    session_codes, _ = encode(events["sessionId"].astype(str))
    coded_events = pd.DataFrame({
        "customer": encode(events["customerId"].astype("string").fillna(""), customers)[0],
        "product": encode(events["sku"].astype(str), product_index)[0],
        "session": session_codes,
        "type": events["type"].astype(str).to_numpy(dtype=object),
        "day": events["at"].to_numpy(np.float64) / SECONDS_PER_DAY,
    })
    coded_events = coded_events[coded_events["product"] >= 0].reset_index(drop=True)
    coded_visits = pd.DataFrame({
        "customer": encode(visits["customerId"].astype("string").fillna(""), customers)[0],
        "store": encode(visits["storeId"].astype("string").fillna(""), stores)[0],
        "day": visits["at"].to_numpy(np.float64) / SECONDS_PER_DAY,
    })
    if as_of is None:
        days = [frame["day"].max() for frame in (purchases, coded_events, coded_visits) if len(frame)]
        as_of_day = float(max(days)) if days else 0.0
    else:
        as_of_day = as_of / SECONDS_PER_DAY
    homes = (encode(home_store.reindex(customers).astype("string").fillna(""), stores)[0] if home_store is not None
             else np.full(len(customers), -1, dtype=np.int64))
    return Interactions(customers=customers, products=product_index, stores=stores, product_names=names,
                        home_store=homes, purchases=purchases, events=coded_events, visits=coded_visits,
                        as_of_day=as_of_day, personalisation=_consent_column(consent, "personalisation", customers),
                        analytics=_consent_column(consent, "analytics", customers),
                        aggregates_without_analytics=aggregates_without_analytics)
