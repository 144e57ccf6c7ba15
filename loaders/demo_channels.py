"""The demo's multi-channel layer: SYNTHETIC web/app sessions, store visits, pings, loyalty scans, campaigns,
messages, responses and consents for REAL Online Retail customers and products.

The UCI Online Retail history holds purchases only (one online shop, no sessions, stores or messages). So that
``make demo`` shows the cross-channel company memory the project is for, this module draws one nightly drop with
the project's seeded generator (:mod:`loaders.generator`) and maps it onto the real history before it is
loaded through the ordinary pipeline (the same validation, consent policy, tombstones and writers):

* the generator's customers ``C0000001…`` become the ``customers`` most active UK customers of the history
  (by number of invoices, ties by id), in that order; their real ``createdAt`` (first invoice) is kept, and
  they get a synthetic home location, city, home store, loyalty tier and email hash, but no name;
* the generator's products become the history's best-selling products, rank for rank (the generated
  product with the most views in the drop is the real best seller), so the clickstream, carts, store tills
  and offers name real products; the generated catalogue (products, categories, brands) is not loaded;
* every id the generator invents carries the prefix :data:`SYNTHETIC` (``SYN-WS00000001``, ``SYN-V…``,
  ``SYN-M…``, ``SYN-CK…``, …) and every campaign's name ends in ``(synthetic)``, so the data says what it
  is: ``MATCH (s:Session) WHERE s.sessionId STARTS WITH 'SYN-'`` finds all of it.

The activity starts on :data:`START` (two weeks up to the history's last day), so it reads as the recent
multi-channel life of the same customers. The same arguments always give the same rows.

>>> SYNTHETIC
'SYN-'
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from loaders.exports import write_table
from loaders.generator import GeneratorConfig, build_tables
from loaders.online_retail import classify, default_csv, read_source
from loaders.pipeline import LoadOptions, load_drop

SYNTHETIC = "SYN-"
START = date(2011, 11, 26)
DAYS = 14
CATALOGUE_TABLES = ("products", "categories", "brands")
# columns holding ids the generator invents (prefixed); customer, product and category ids are mapped instead
INVENTED_ID_COLUMNS = ("sessionId", "eventId", "orderId", "visitId", "messageId", "scanId", "campaignId", "offerId",
                       "storeId", "homeStoreId", "cookie", "deviceId", "loyaltyCard")
INVENTED_IDENTIFIER_TYPES = ("cookie", "device_id", "loyalty_card")


@dataclass(frozen=True)
class LayerConfig:
    """How much synthetic activity to draw: ``customers`` real customers over ``days`` days from ``start``."""

    customers: int = 1_500
    days: int = DAYS
    start: date = START
    seed: int = 7
    session_rate: float = 0.35


def real_customers_and_products(source: pd.DataFrame, customers: int, products: int) -> tuple[list[str], list[str], dict[str, object]]:
    """The most active UK customers (by invoices) and the best-selling products (by sale lines) of the history,
    and each chosen customer's first invoice time."""
    sales = source[classify(source).isna() & ~source["InvoiceNo"].str.startswith("C")]
    uk = sales[(sales["Country"] == "United Kingdom") & sales["customerId"].notna()]
    invoices = uk.groupby("customerId")["InvoiceNo"].nunique().reset_index()
    invoices = invoices.sort_values(["InvoiceNo", "customerId"], ascending=[False, True], kind="stable")
    chosen = invoices["customerId"].head(customers).tolist()
    first = uk[uk["customerId"].isin(chosen)].groupby("customerId")["placedAt"].min()
    lines = sales.groupby("StockCode").size().reset_index(name="n")
    best = lines.sort_values(["n", "StockCode"], ascending=[False, True], kind="stable")["StockCode"]
    return chosen, best.head(products).tolist(), first.to_dict()


def _prefixed(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    return text.where(text.isna() | (text == ""), SYNTHETIC + text).astype(object)


def _map_skus(values: pd.Series, mapping: dict[str, str]) -> pd.Series:
    def one(value: object) -> object:
        if not isinstance(value, str) or not value:
            return value
        return "|".join(mapping.get(part, part) for part in value.split("|"))
    return values.map(one)


def map_onto_history(tables: dict[str, pd.DataFrame], customers: list[str], skus: list[str],
                     first_seen: dict[str, object]) -> dict[str, pd.DataFrame]:
    """The generated ``tables`` with real customer ids and SKUs, invented ids prefixed, the catalogue left out."""
    generated_customers = tables["customers"]["customerId"].tolist()
    customer_map = dict(zip(generated_customers, customers, strict=True))
    events = tables["events"]
    views = events.loc[events["sku"].notna() & (events["sku"] != ""), "sku"].value_counts()
    generated_skus = tables["products"]["sku"].tolist()
    ranked = sorted(generated_skus, key=lambda sku: (-int(views.get(sku, 0)), sku))
    sku_map = dict(zip(ranked, skus, strict=False))
    out: dict[str, pd.DataFrame] = {}
    for name, frame in tables.items():
        if name in CATALOGUE_TABLES:
            continue
        frame = frame.copy()
        for column in frame.columns:
            if column == "customerId":
                frame[column] = frame[column].map(lambda v: customer_map.get(v, v) if isinstance(v, str) else v)
            elif column in ("sku", "skus"):
                frame[column] = _map_skus(frame[column], sku_map)
            elif column in INVENTED_ID_COLUMNS:
                frame[column] = _prefixed(frame[column])
        out[name] = frame
    ids = out["identifiers"]
    invented = ids["type"].isin(INVENTED_IDENTIFIER_TYPES)
    ids.loc[invented, "value"] = SYNTHETIC + ids.loc[invented, "value"].astype(str)
    out["campaigns"]["name"] = out["campaigns"]["name"] + " (synthetic)"
    people = out["customers"]
    people["name"] = None
    for table, columns in (("customers", ("createdAt", "updatedAt")), ("identifiers", ("seenAt",)),
                           ("consents", ("updatedAt",))):
        for column in columns:  # nobody is known, identified or asked before their first invoice
            out[table][column] = out[table]["customerId"].map(first_seen)
    out["offers"]["categoryIds"] = ""
    if "categoryId" in out["events"].columns:
        out["events"]["categoryId"] = None
    return out


def write_layer(out: Path, config: LayerConfig = LayerConfig(), source_csv: Path | None = None) -> dict[str, int]:
    """Draw the layer and write it as a nightly drop (CSV) into ``out``; return the rows written per file."""
    generator = GeneratorConfig(customers=config.customers, days=config.days, seed=config.seed, start=config.start,
                                session_rate=config.session_rate)
    tables = build_tables(generator)
    source = read_source(source_csv or default_csv())
    customers, skus, first_seen = real_customers_and_products(source, config.customers, len(tables["products"]))
    if len(customers) < config.customers:
        raise ValueError(f"the history has only {len(customers)} UK customers, {config.customers} asked")
    written: dict[str, int] = {}
    for name, frame in map_onto_history(tables, customers, skus, first_seen).items():
        path = write_table(frame, out / f"{name}.csv")
        written[path.name] = len(frame)
    return written


def load_layer(config: LayerConfig = LayerConfig(), options: LoadOptions | None = None,
               source_csv: Path | None = None) -> dict[str, Any]:
    """Draw the layer into a temporary folder and load it through the nightly-drop pipeline; the run report."""
    with tempfile.TemporaryDirectory(prefix="demo-channels-") as folder:
        write_layer(Path(folder), config, source_csv)
        return load_drop(Path(folder), options or LoadOptions())
