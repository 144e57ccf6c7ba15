"""A deterministic synthetic nightly drop: catalogue, stores, customers and a few days of multi-channel activity.

Everything is drawn from one ``numpy`` generator seeded with ``seed``, vectorised per table, so the same
arguments always write the same files, and 100,000 customers with 5 million events take a minute or two.

What it models: skewed (Zipf) product popularity; customers living around UK cities, with a home store
(the nearest) and an activity level; web and app sessions with a landing page, searches, product views,
carts that convert or are abandoned; anonymous web sessions on a second cookie that the customer later
logs in with (identity stitching); store visits near home with till orders, loyalty scans and phone
location pings; campaigns, offers, messages and the customers' responses. ``dirty_share`` appends a few
broken rows of each kind, to exercise the rejects.

Consent follows the shipped policy (:mod:`graph_model.privacy.policy`: location needs an explicit grant):
app users have a ``location`` record on the ``app`` channel, granted for ``location_share`` (85 %) of the
customers whose phone sends pings and withdrawn for the others, so most pings become visits and the
rest show up as ``no_consent`` in the run report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from loaders.exports import FORMATS, isoformat_times, write_table

CITIES = (
    ("London", 51.5074, -0.1278, 9.0), ("Birmingham", 52.4862, -1.8904, 2.5), ("Manchester", 53.4808, -2.2426, 2.5),
    ("Leeds", 53.8008, -1.5491, 1.8), ("Glasgow", 55.8642, -4.2518, 1.6), ("Liverpool", 53.4084, -2.9916, 1.3),
    ("Bristol", 51.4545, -2.5879, 1.2), ("Sheffield", 53.3811, -1.4701, 1.1), ("Edinburgh", 55.9533, -3.1883, 1.0),
    ("Cardiff", 51.4816, -3.1791, 0.8), ("Newcastle", 54.9783, -1.6178, 0.8), ("Nottingham", 52.9548, -1.1581, 0.8),
)
DEPARTMENTS = {
    "Home": ("Kitchen", "Lighting", "Bedding", "Storage"),
    "Garden": ("Plants", "Tools", "Outdoor Living"),
    "Fashion": ("Women", "Men", "Kids", "Accessories"),
    "Beauty": ("Skincare", "Fragrance", "Makeup"),
    "Electronics": ("Audio", "Phones", "Computing", "Smart Home"),
    "Toys": ("Games", "Puzzles", "Outdoor Toys"),
    "Gifts": ("Cards", "Party", "Seasonal"),
    "Food": ("Pantry", "Snacks", "Drinks"),
}
ADJECTIVES = ("Classic", "Vintage", "Modern", "Rustic", "Deluxe", "Mini", "Large", "Organic", "Retro", "Bright",
              "Soft", "Smart", "Wooden", "Ceramic", "Glass", "Cotton", "Silver", "Golden", "Eco", "Cosy")
NOUNS = ("Mug", "Lamp", "Candle", "Cushion", "Basket", "Jar", "Frame", "Clock", "Bag", "Scarf", "Speaker",
         "Bottle", "Bowl", "Plate", "Blanket", "Planter", "Puzzle", "Notebook", "Tin", "Tray", "Hat", "Serum")
ZONES = ("entrance", "home", "fashion", "beauty", "electronics", "toys", "food", "tills", "cafe")
SEGMENT_TYPES = ("page_view", "search", "product_view", "add_to_cart", "remove_from_cart", "checkout", "purchase")
HOUR_WEIGHTS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 4.5, 5, 5.5, 5, 4.5, 4.5, 5, 5.5, 6.5, 7.5, 8, 7,
                         5, 2.5])


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. ``session_rate`` is the mean number of web/app sessions per customer and day."""

    customers: int = 1_000
    days: int = 7
    seed: int = 42
    start: date = date(2026, 11, 1)
    session_rate: float = 0.25
    store_visit_rate: float = 0.04
    message_rate: float = 0.03
    home_pings_per_day: float = 1.0
    fmt: str = "csv"
    dirty_share: float = 0.0
    location_share: float = 0.85  # of the customers with pings, the share who granted location consent


def _ts(base: np.datetime64, seconds: np.ndarray) -> np.ndarray:
    return base + np.asarray(np.round(seconds), dtype="int64").astype("timedelta64[s]")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    if np.size(numbers) == 0:
        return np.array([], dtype=f"<U{len(prefix) + width}")
    return np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(str), width))


def _zipf_weights(rng: np.random.Generator, n: int, exponent: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    rng.shuffle(weights)
    return weights / weights.sum()


def _haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * np.arcsin(np.sqrt(a))


class _Drop:
    """Builds the tables of one drop; each ``_make_*`` method adds one or more tables to ``self.tables``."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.c = config
        self.rng = np.random.default_rng(config.seed)
        self.start = np.datetime64(datetime(config.start.year, config.start.month, config.start.day), "s")
        self.tables: dict[str, pd.DataFrame] = {}

    # ---------------------------------------------------------------- reference data
    def make_catalogue(self) -> None:
        rng = self.rng
        cat_ids, cat_names, cat_parents, leaves = [], [], [], []
        for d, (dept, subs) in enumerate(DEPARTMENTS.items()):
            cat_ids.append(f"CAT{d:02d}")
            cat_names.append(dept)
            cat_parents.append(None)
            for s, sub in enumerate(subs):
                cat_ids.append(f"CAT{d:02d}{s:02d}")
                cat_names.append(sub)
                cat_parents.append(f"CAT{d:02d}")
                leaves.append(f"CAT{d:02d}{s:02d}")
        self.tables["categories"] = pd.DataFrame({"categoryId": cat_ids, "name": cat_names, "parentId": cat_parents})
        n_brands = 40
        brand_ids = _ids("B", np.arange(n_brands), 3)
        brand_names = [f"{ADJECTIVES[i % len(ADJECTIVES)]} {NOUNS[(i * 7) % len(NOUNS)]} Co" for i in range(n_brands)]
        self.tables["brands"] = pd.DataFrame({"brandId": brand_ids, "name": brand_names})
        n = max(100, min(20_000, self.c.customers // 5))
        self.leaves = np.array(leaves)
        self.skus = _ids("P", np.arange(n), 6)
        self.product_leaf = rng.integers(0, len(leaves), n)
        self.prices = np.round(np.exp(rng.normal(2.6, 0.8, n)), 2)
        self.popularity = _zipf_weights(rng, n)
        adjective = np.array(ADJECTIVES)[rng.integers(0, len(ADJECTIVES), n)]
        noun = np.array(NOUNS)[rng.integers(0, len(NOUNS), n)]
        self.product_names = np.char.add(np.char.add(adjective, " "), noun)
        created = _ts(self.start, -rng.integers(1, 3 * 365, n) * 86_400.0)
        self.tables["products"] = pd.DataFrame({
            "sku": self.skus, "name": self.product_names,
            "description": np.char.add(self.product_names, " for everyday use"),
            "price": self.prices, "categoryIds": self.leaves[self.product_leaf],
            "brandId": brand_ids[rng.integers(0, n_brands, n)], "createdAt": created, "updatedAt": created,
        })

    def make_stores(self) -> None:
        rng = self.rng
        n = max(3, min(200, self.c.customers // 2_500))
        city = np.arange(n) % len(CITIES)
        base = np.array([(lat, lon) for _, lat, lon, _ in CITIES])[city]
        self.store_lat = np.round(base[:, 0] + rng.normal(0, 0.03, n), 6)
        self.store_lon = np.round(base[:, 1] + rng.normal(0, 0.05, n), 6)
        self.store_ids = _ids("S", np.arange(n), 4)
        names = [f"{CITIES[c][0]} {['Central', 'North', 'South', 'East', 'West', 'Retail Park'][i // len(CITIES) % 6]}"
                 for i, c in enumerate(city)]
        self.tables["stores"] = pd.DataFrame({
            "storeId": self.store_ids, "name": names, "latitude": self.store_lat, "longitude": self.store_lon,
            "city": [CITIES[c][0] for c in city], "country": "United Kingdom",
            "openedAt": _ts(self.start, -rng.integers(365, 20 * 365, n) * 86_400.0),
        })
        per_store = min(len(self.skus), 300)
        store_idx = np.repeat(np.arange(n), per_store)
        prods = np.concatenate([rng.choice(len(self.skus), per_store, replace=False, p=self.popularity)
                                for _ in range(n)])
        self.tables["stock"] = pd.DataFrame({
            "storeId": self.store_ids[store_idx], "sku": self.skus[prods],
            "quantity": rng.integers(0, 60, len(prods)), "updatedAt": _ts(self.start, np.full(len(prods), -3600.0)),
        })

    def make_campaigns(self) -> None:
        purposes = ("welcome", "winback", "launch", "loyalty", "seasonal", "clearance")
        self.campaign_ids = _ids("CMP", np.arange(len(purposes)), 2)
        self.tables["campaigns"] = pd.DataFrame({
            "campaignId": self.campaign_ids, "name": [f"{p.title()} campaign" for p in purposes], "purpose": purposes,
            "startsAt": _ts(self.start, np.full(len(purposes), -7 * 86_400.0)),
            "endsAt": _ts(self.start, np.full(len(purposes), (self.c.days + 30) * 86_400.0)),
        })
        n = 12
        self.offer_ids = _ids("OF", np.arange(n), 3)
        top = np.argsort(-self.popularity)[: 5 * n]
        self.tables["offers"] = pd.DataFrame({
            "offerId": self.offer_ids,
            "description": [f"{pct}% off selected lines" for pct in (10, 15, 20, 25) * (n // 4)],
            "discountPct": [float(pct) for pct in (10, 15, 20, 25) * (n // 4)],
            "validFrom": _ts(self.start, np.zeros(n)), "validTo": _ts(self.start, np.full(n, (self.c.days + 14) * 86_400.0)),
            "campaignId": self.campaign_ids[np.arange(n) % len(self.campaign_ids)],
            "skus": ["|".join(self.skus[top[i * 5:(i + 1) * 5]]) for i in range(n)],
            "categoryIds": "", "storeId": None,
        })

    # ---------------------------------------------------------------- customers
    def make_customers(self) -> None:
        rng, n = self.rng, self.c.customers
        self.customer_ids = _ids("C", np.arange(1, n + 1), 7)
        weights = np.array([w for *_, w in CITIES])
        city = rng.choice(len(CITIES), n, p=weights / weights.sum())
        centre = np.array([(lat, lon) for _, lat, lon, _ in CITIES])[city]
        self.home_lat = np.round(centre[:, 0] + rng.normal(0, 0.04, n), 6)
        self.home_lon = np.round(centre[:, 1] + rng.normal(0, 0.07, n), 6)
        # the three stores nearest to home (few stores: a dense distance matrix is fine)
        dist = _haversine_m(self.home_lat[:, None], self.home_lon[:, None], self.store_lat[None, :],
                            self.store_lon[None, :])
        self.near_stores = np.argsort(dist, axis=1)[:, :3]
        self.activity = rng.gamma(0.8, 1 / 0.8, n)
        self.app_user = rng.random(n) < 0.5
        self.location_ok = self.app_user & (rng.random(n) < 0.7)  # the phone sends location pings
        # drawn from a generator of its own, so the rest of the drop is the same whatever the share
        consent_rng = np.random.default_rng((self.c.seed, 1))
        self.location_granted = self.location_ok & (consent_rng.random(n) < self.c.location_share)
        self.has_card = rng.random(n) < 0.6
        self.second_cookie = rng.random(n) < 0.3
        emails = [f"customer{i}@example.com" for i in range(1, n + 1)]
        self.email_hash = np.array([hashlib.sha256(e.encode()).hexdigest() for e in emails])
        self.cards = _ids("L", rng.permutation(n) + 10_000_000, 9)
        self.devices = _ids("DEV", np.arange(1, n + 1), 8)
        self.cookie_a = _ids("CK", rng.permutation(n) + 1, 9)
        self.cookie_b = _ids("CX", rng.permutation(n) + 1, 9)
        first_names = np.array(["Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Kim", "Lee", "Max", "Charlie"])
        last_names = np.array(["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker", "Wright"])
        names = np.char.add(np.char.add(first_names[rng.integers(0, 10, n)], " "), last_names[rng.integers(0, 9, n)])
        tiers = np.array(["none", "bronze", "silver", "gold", "platinum"])
        created = _ts(self.start, -rng.integers(1, 5 * 365, n) * 86_400.0)
        self.tables["customers"] = pd.DataFrame({
            "customerId": self.customer_ids, "name": names, "emailHash": self.email_hash,
            "city": [CITIES[c][0] for c in city], "country": "United Kingdom",
            "homeLatitude": self.home_lat, "homeLongitude": self.home_lon,
            "loyaltyTier": np.where(self.has_card, tiers[rng.choice(5, n, p=[0.1, 0.4, 0.3, 0.15, 0.05])], "none"),
            "homeStoreId": self.store_ids[self.near_stores[:, 0]], "createdAt": created, "updatedAt": created,
        })
        idx = np.arange(n)
        parts = [("email_hash", idx, self.email_hash), ("cookie", idx, self.cookie_a),
                 ("loyalty_card", idx[self.has_card], self.cards[self.has_card]),
                 ("device_id", idx[self.app_user], self.devices[self.app_user])]
        self.tables["identifiers"] = pd.DataFrame({
            "customerId": np.concatenate([self.customer_ids[i] for _, i, _ in parts]),
            "type": np.concatenate([np.full(len(i), t) for t, i, _ in parts]),
            "value": np.concatenate([v[i] if len(v) == n else v for _, i, v in parts]),
            "seenAt": np.concatenate([created[i] for _, i, _ in parts]),
        })
        consent_specs = [("email", "marketing", np.ones(n, bool), 0.7), ("sms", "marketing", np.ones(n, bool), 0.3),
                         ("push", "marketing", self.app_user, 0.6), ("app", "location", self.app_user, 1.0),
                         ("web", "personalisation", np.ones(n, bool), 0.8)]
        frames = []
        for channel, purpose, who, share in consent_specs:
            granted = rng.random(n) < share
            if purpose == "location":
                granted = self.location_granted
            frames.append(pd.DataFrame({"customerId": self.customer_ids[who], "channel": channel, "purpose": purpose,
                                        "granted": granted[who], "updatedAt": created[who]}))
        self.tables["consents"] = pd.concat(frames, ignore_index=True)

    # ---------------------------------------------------------------- sessions and clickstream
    def make_sessions(self) -> None:
        rng, c = self.rng, self.c
        n_cust, days = c.customers, c.days
        counts = rng.poisson(c.session_rate * self.activity[:, None], size=(n_cust, days))
        cust = np.repeat(np.repeat(np.arange(n_cust), days), counts.ravel())
        day = np.repeat(np.tile(np.arange(days), n_cust), counts.ravel())
        n = len(cust)
        hours = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
        start_s = day * 86_400.0 + hours * 3600.0 + rng.integers(0, 3600, n)
        order = np.argsort(start_s, kind="stable")
        cust, day, start_s = cust[order], day[order], start_s[order]
        app = self.app_user[cust] & (rng.random(n) < 0.5)
        anonymous = ~app & (rng.random(n) < 0.25)
        # anonymous sessions use the second cookie when the customer has one; some logged-in sessions later use it
        use_b = self.second_cookie[cust] & (anonymous | (rng.random(n) < 0.15))
        cookie = np.where(app, None, np.where(use_b, self.cookie_b[cust], self.cookie_a[cust]))
        # segment lengths per session: landing, search, product views, carts, removals, checkout, purchase
        search = (rng.random(n) < 0.4).astype(int)
        views = np.minimum(rng.geometric(0.35, n), 15)
        carts = np.where(rng.random(n) < 0.35, np.minimum(rng.geometric(0.6, n), views), 0)
        removes = ((carts >= 2) & (rng.random(n) < 0.2)).astype(int)
        checkout = ((carts > 0) & (rng.random(n) < 0.55)).astype(int)
        purchase = ((checkout > 0) & (rng.random(n) < 0.8)).astype(int)
        segments = np.stack([np.ones(n, int), search, views, carts, removes, checkout, purchase], axis=1)
        lengths = segments.sum(axis=1)
        m = int(lengths.sum())
        seg_flat = segments.ravel()
        etype = np.repeat(np.tile(np.arange(7), n), seg_flat)
        sess = np.repeat(np.arange(n), lengths)
        seg_start = np.cumsum(seg_flat) - seg_flat
        pos_in_seg = np.arange(m) - np.repeat(seg_start, seg_flat)
        view_start = seg_start.reshape(n, 7)[:, 2]
        cart_start = seg_start.reshape(n, 7)[:, 3]
        gaps = rng.exponential(40.0, m) + 2
        sess_first = np.cumsum(lengths) - lengths
        gaps[sess_first] = 0
        cum = np.cumsum(gaps)
        offset = cum - np.repeat(cum[sess_first], lengths)
        at_s = start_s[sess] + offset
        product = np.full(m, -1)
        is_view = etype == 2
        product[is_view] = rng.choice(len(self.skus), int(is_view.sum()), p=self.popularity)
        is_cart = etype == 3
        product[is_cart] = product[view_start[sess[is_cart]] + pos_in_seg[is_cart]]
        is_remove = etype == 4
        product[is_remove] = product[cart_start[sess[is_remove]]]
        quantity = np.where(is_cart | is_remove, rng.integers(1, 4, m), 0)
        quantity[is_remove] = quantity[cart_start[sess[is_remove]]]
        landing_cat = rng.random(m) < 0.5
        is_landing = etype == 0
        category = np.where(is_landing & landing_cat, self.leaves[rng.integers(0, len(self.leaves), m)], None)
        sku_text = np.where(product >= 0, self.skus[np.maximum(product, 0)], None)
        page = np.select(
            [is_landing & landing_cat, is_landing, etype == 1, is_view | is_cart | is_remove, etype == 5, etype == 6],
            [np.char.add("/c/", category.astype(str)), "/", "/search", np.char.add("/p/", sku_text.astype(str)),
             "/checkout", "/checkout/done"], default="/")
        words = np.char.lower(self.product_names[rng.integers(0, len(self.skus), m)])
        query = np.where(etype == 1, words, None)
        results = np.where(etype == 1, rng.integers(0, 120, m), -1)
        self.session_ids = _ids("WS", np.arange(1, n + 1), 8)
        order_no = np.cumsum(purchase) * purchase
        order_ids = np.where(purchase > 0, _ids("WO", order_no, 8), None)
        sess_times = _ts(self.start, start_s)
        self.tables["sessions"] = pd.DataFrame({
            "sessionId": self.session_ids, "channel": np.where(app, "app", "web"),
            "startedAt": sess_times, "endedAt": _ts(self.start, start_s + offset[sess_first + lengths - 1]),
            "device": np.where(app, "mobile", np.array(["desktop", "mobile", "tablet"])[rng.choice(3, n, p=[.5, .4, .1])]),
            "customerId": np.where(anonymous, None, self.customer_ids[cust]), "cookie": cookie,
            "deviceId": np.where(app, self.devices[cust], None), "storeId": None,
        })
        self.tables["events"] = pd.DataFrame({
            "eventId": _ids("E", np.arange(1, m + 1), 9), "sessionId": self.session_ids[sess],
            "type": np.array(SEGMENT_TYPES)[etype], "at": _ts(self.start, at_s), "page": page, "query": query,
            "resultsCount": pd.array(np.where(results >= 0, results, None), dtype="Int64"),
            "sku": sku_text, "categoryId": category,
            "quantity": pd.array(np.where(quantity > 0, quantity, None), dtype="Int64"),
            "orderId": np.where(etype == 6, order_ids[sess], None),
        })
        # web/app orders: the cart lines that were not removed
        line_mask = is_cart & (purchase[sess] > 0) & ~((removes[sess] > 0) & (pos_in_seg == 0))
        self._orders_from(order_ids[sess[line_mask]], at_s[line_mask] + 5, product[line_mask],
                          quantity[line_mask], np.where(app, "app", "web")[sess[line_mask]],
                          self.customer_ids[cust[sess[line_mask]]], None)  # buyers log in at checkout

    def _orders_from(self, order_ids: np.ndarray, at_s: np.ndarray, product: np.ndarray, quantity: np.ndarray,
                     channel: np.ndarray | str, customer: np.ndarray, store: np.ndarray | None) -> None:
        frame = pd.DataFrame({"orderId": order_ids, "placedAt": _ts(self.start, at_s), "channel": channel,
                              "sku": self.skus[product], "quantity": quantity, "unitPrice": self.prices[product],
                              "customerId": customer, "storeId": store, "currency": "GBP", "cancelled": False})
        first_at = frame.groupby("orderId", sort=False)["placedAt"].transform("min")
        frame["placedAt"] = first_at
        frame.insert(1, "line", frame.groupby("orderId", sort=False).cumcount() + 1)
        old = self.tables.get("orders")
        self.tables["orders"] = frame if old is None else pd.concat([old, frame], ignore_index=True)

    # ---------------------------------------------------------------- stores: visits, scans, pings
    def make_store_activity(self) -> None:
        rng, c = self.rng, self.c
        counts = rng.random((c.customers, c.days)) < np.minimum(c.store_visit_rate * self.activity[:, None], 0.5)
        cust, day = np.nonzero(counts)
        n = len(cust)
        choice = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 3, n))
        store = self.near_stores[cust, choice]
        arrive_s = day * 86_400.0 + rng.uniform(9 * 3600, 19 * 3600, n)
        dwell_min = np.clip(rng.lognormal(3.0, 0.5, n), 5, 120)
        buys = rng.random(n) < 0.6
        scan = buys & self.has_card[cust] & (rng.random(n) < 0.8)
        # till orders
        n_lines = np.where(buys, rng.integers(1, 5, n), 0)
        v_of_line = np.repeat(np.arange(n), n_lines)
        order_ids = _ids("SO", np.arange(1, n + 1), 8)
        self._orders_from(order_ids[v_of_line], arrive_s[v_of_line] + dwell_min[v_of_line] * 50,
                          rng.choice(len(self.skus), len(v_of_line), p=self.popularity),
                          rng.integers(1, 3, len(v_of_line)), "store", self.customer_ids[cust[v_of_line]],
                          self.store_ids[store[v_of_line]])
        visit = buys & ~scan
        zones = np.array(["|".join(sorted(set(rng.choice(ZONES, 3)))) for _ in range(int(visit.sum()))], dtype=object)
        self.tables["visits"] = pd.DataFrame({
            "visitId": _ids("V", np.nonzero(visit)[0] + 1, 8), "customerId": self.customer_ids[cust[visit]],
            "storeId": self.store_ids[store[visit]], "arrivedAt": _ts(self.start, arrive_s[visit]),
            "dwellMinutes": np.round(dwell_min[visit], 1), "source": "purchase", "zones": zones,
        })
        self.tables["loyalty_scans"] = pd.DataFrame({
            "scanId": _ids("LS", np.nonzero(scan)[0] + 1, 8), "loyaltyCard": self.cards[cust[scan]],
            "storeId": self.store_ids[store[scan]], "at": _ts(self.start, arrive_s[scan] + dwell_min[scan] * 50),
            "customerId": None,
        })
        # pings: every ~3 minutes from 10 minutes before arrival to 10 minutes after leaving
        pinging = self.location_ok[cust]
        v = np.nonzero(pinging)[0]
        n_pings = ((dwell_min[v] + 20) / 3).astype(int) + 1
        pv = np.repeat(v, n_pings)
        k = np.arange(len(pv)) - np.repeat(np.cumsum(n_pings) - n_pings, n_pings)
        t_rel = -600 + k * 180 + rng.uniform(-20, 20, len(pv))
        inside = (t_rel >= 0) & (t_rel <= dwell_min[pv] * 60)
        spread = np.where(inside, 0.00015, 0.006)
        lat = self.store_lat[store[pv]] + rng.normal(0, 1, len(pv)) * spread + np.where(inside, 0, 0.006)
        lon = self.store_lon[store[pv]] + rng.normal(0, 1, len(pv)) * spread
        # a few pings a day around home
        n_home = rng.poisson(c.home_pings_per_day, (c.customers, c.days)) * self.location_ok[:, None]
        hc = np.repeat(np.repeat(np.arange(c.customers), c.days), n_home.ravel())
        hd = np.repeat(np.tile(np.arange(c.days), c.customers), n_home.ravel())
        self.tables["pings"] = pd.DataFrame({
            "customerId": np.concatenate([self.customer_ids[cust[pv]], self.customer_ids[hc]]),
            "latitude": np.round(np.concatenate([lat, self.home_lat[hc] + rng.normal(0, 0.001, len(hc))]), 6),
            "longitude": np.round(np.concatenate([lon, self.home_lon[hc] + rng.normal(0, 0.0015, len(hc))]), 6),
            "at": _ts(self.start, np.concatenate([arrive_s[pv] + t_rel, hd * 86_400.0 + rng.uniform(0, 86_400, len(hc))])),
            "accuracyMeters": np.round(rng.uniform(5, 30, len(pv) + len(hc)), 1),
        }).sort_values(["customerId", "at"], kind="stable", ignore_index=True)

    # ---------------------------------------------------------------- conversation
    def make_messages(self) -> None:
        rng, c = self.rng, self.c
        sent = rng.random((c.customers, c.days)) < c.message_rate
        cust, day = np.nonzero(sent)
        n = len(cust)
        channel = np.where(self.app_user[cust] & (rng.random(n) < 0.4), "push",
                           np.where(rng.random(n) < 0.2, "sms", "email"))
        sent_s = day * 86_400.0 + rng.uniform(8 * 3600, 11 * 3600, n)
        campaign = rng.integers(0, len(self.campaign_ids), n)
        has_offer = rng.random(n) < 0.5
        offer = np.where(has_offer, self.offer_ids[rng.integers(0, len(self.offer_ids), n)], None)
        message_ids = _ids("M", np.arange(1, n + 1), 8)
        self.tables["messages"] = pd.DataFrame({
            "messageId": message_ids, "customerId": self.customer_ids[cust], "channel": channel,
            "sentAt": _ts(self.start, sent_s),
            "subject": [f"News from the {p} team" for p in np.array(["welcome", "winback", "launch", "loyalty",
                                                                      "seasonal", "clearance"])[campaign]],
            "campaignId": self.campaign_ids[campaign], "offerId": offer,
        })
        delivered = rng.random(n) < 0.95
        opened = delivered & (rng.random(n) < 0.35)
        clicked = opened & (rng.random(n) < 0.3)
        redeemed = clicked & has_offer & (rng.random(n) < 0.25)
        unsub = opened & (rng.random(n) < 0.01)
        replied = (channel == "sms") & delivered & (rng.random(n) < 0.05)
        frames = []
        for kind, mask, delay in (("delivered", delivered, 60.0), ("opened", opened, 6 * 3600.0),
                                  ("clicked", clicked, 6 * 3600.0 + 120), ("redeemed", redeemed, 30 * 3600.0),
                                  ("unsubscribed", unsub, 6 * 3600.0 + 60), ("replied", replied, 1800.0)):
            frames.append(pd.DataFrame({
                "messageId": message_ids[mask], "customerId": self.customer_ids[cust[mask]], "type": kind,
                "at": _ts(self.start, sent_s[mask] + delay * rng.uniform(0.5, 1.5, int(mask.sum()))),
                "text": "STOP" if kind == "replied" else None,
            }))
        self.tables["responses"] = pd.concat(frames, ignore_index=True)

    # ---------------------------------------------------------------- broken rows
    def make_dirty(self) -> None:
        share = self.c.dirty_share
        if share <= 0:
            return
        breakers = {
            "events": [("at", "not-a-time"), ("sku", "P-UNKNOWN"), ("sessionId", "WS-UNKNOWN"), ("type", "teleport")],
            "orders": [("unitPrice", "-3"), ("sku", "P-UNKNOWN"), ("customerId", "C-UNKNOWN")],
            "sessions": [("channel", None), ("customerId", "C-UNKNOWN")],
            "pings": [("customerId", "C-UNKNOWN"), ("latitude", "123.0")],
            "loyalty_scans": [("loyaltyCard", "L-UNKNOWN")],
            "customers": [("loyaltyTier", "diamond")],
        }
        for entity, breaks in breakers.items():
            frame = isoformat_times(self.tables[entity]).astype(object)
            k = max(len(breaks), int(len(frame) * share))
            sample = frame.sample(n=min(k, len(frame)), random_state=self.c.seed).reset_index(drop=True)
            for i in range(len(sample)):
                column, value = breaks[i % len(breaks)]
                sample.at[i, column] = value
            self.tables[entity] = pd.concat([frame, sample], ignore_index=True)


def build_tables(config: GeneratorConfig) -> dict[str, pd.DataFrame]:
    """The tables of one drop, by entity name (what :func:`generate` writes)."""
    drop = _Drop(config)
    drop.make_catalogue()
    drop.make_stores()
    drop.make_campaigns()
    drop.make_customers()
    drop.make_sessions()
    drop.make_store_activity()
    drop.make_messages()
    drop.make_dirty()
    return drop.tables


def generate(config: GeneratorConfig, out: Path) -> dict[str, int]:
    """Write one drop into ``out`` (a file per entity, in ``config.fmt``); return the rows written per file."""
    if config.fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    tables = build_tables(config)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for entity, frame in tables.items():
        path = write_table(frame, out / f"{entity}.{config.fmt}")
        written[path.name] = len(frame)
    return written
