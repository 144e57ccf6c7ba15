"""The UCI Online Retail history (2010-12 to 2011-12) mapped onto the export schema and loaded through the pipeline.

Source: ``data/online-retail/online_retail_all.csv.xz`` (CC BY 4.0, credit in its README); columns
``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country``.

Mapping (each source line is an order line; customers and products are derived from the lines):

* ``customers``: ``customerId`` = CustomerID without the ``.0``; ``country``; ``createdAt`` = first invoice.
* ``products``: ``sku`` = StockCode as written; ``name`` = its most frequent description (none when the
  source never describes it); ``price`` = its latest unit price on a sale.
* ``orders``: ``orderId`` = InvoiceNo, ``line`` = position of the line in its invoice, ``channel`` = web,
  ``placedAt`` = InvoiceDate read as UK local time (Europe/London) and stored in UTC, GBP.

The source's mess, kept with meaning or rejected with a reason, never dropped silently:

* **guest checkouts** (no CustomerID, 135,080 lines): kept as guest orders, without a ``PLACED`` customer;
* **cancellations** (InvoiceNo ``C...``, negative quantities): kept as orders with ``cancelled = true``;
* **non-product lines** (postage ``POST``/``DOT``/``C2``, manual ``M``, discount ``D``, samples ``S``, fees,
  ``BANK CHARGES``, ``CRUK``, bad-debt ``B`` / ``A...`` invoices, gift vouchers ``gift_0001_*``):
  rejected as ``non_product_line``;
* **stock adjustments** (negative quantity on a non-cancellation, or a zero-price line of no customer;
  these are also the lines without a description): rejected as ``stock_adjustment``;
* **missing descriptions** on lines that are sales: the line is kept; the product's name comes from its
  other lines, or stays empty.

``by_day=True`` replays the history as nightly drops: one load per calendar day, in date order.

Erased customers stay erased: their customer and order rows are dropped as ``erased`` by the pipeline
(:meth:`loaders.pipeline.Loader.erased`), and so are their non-product lines, without the row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from graph_model.settings import project_root
from loaders.garbage_collection import few_collections
from loaders.pipeline import (
    ERASED_CUSTOMER,
    Loader,
    LoadOptions,
    default_report_dir,
    drop_exports,
    make_loader,
)
from loaders.report import Reject, RejectReason, RunReport

log = logging.getLogger("loaders")

DEFAULT_CSV = Path("data/online-retail/online_retail_all.csv.xz")
NON_PRODUCT_CODES = frozenset({"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B"})
SOURCE_TIMEZONE = "Europe/London"


def default_csv() -> Path:
    """The copy of the history inside the repository."""
    return project_root() / DEFAULT_CSV


def read_source(path: Path) -> pd.DataFrame:
    """The source lines with their CSV line numbers, line-in-invoice numbers and UTC times."""
    frame = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "Description": str, "Country": str},
                        keep_default_na=False, na_values={"CustomerID": [""], "Description": [""]})
    frame["csvLine"] = frame.index + 2
    frame["line"] = frame.groupby("InvoiceNo", sort=False).cumcount() + 1
    local = pd.to_datetime(frame["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    frame["placedAt"] = local.dt.tz_localize(SOURCE_TIMEZONE, ambiguous="NaT", nonexistent="shift_forward")
    fallback = local.dt.tz_localize("UTC") - pd.Timedelta(hours=1)  # the repeated hour of the autumn change
    frame["placedAt"] = frame["placedAt"].dt.tz_convert("UTC").fillna(fallback)
    frame["day"] = local.dt.date
    frame["Description"] = frame["Description"].str.strip()
    ids = frame["CustomerID"].astype("Int64")  # 17850.0 is customer 17850; whole columns, not a call per line
    frame["customerId"] = ids.astype("string").astype(object).where(ids.notna(), None)
    return frame


def classify(frame: pd.DataFrame) -> pd.Series:
    """The reject reason of each source line, or ``None`` for a line that is loaded."""
    code = frame["StockCode"].str.upper()
    non_product = (code.isin(NON_PRODUCT_CODES) | code.str.startswith("GIFT_0001")
                   | frame["InvoiceNo"].str.startswith("A"))
    cancelled = frame["InvoiceNo"].str.startswith("C")
    adjustment = ~cancelled & ((frame["Quantity"] < 0) | ((frame["UnitPrice"] == 0) & frame["customerId"].isna()))
    reason = pd.Series(None, index=frame.index, dtype=object)
    reason[adjustment] = str(RejectReason.STOCK_ADJUSTMENT)
    reason[non_product] = str(RejectReason.NON_PRODUCT_LINE)
    return reason


_MESSAGES = {
    str(RejectReason.NON_PRODUCT_LINE): "not a product: postage, fee, manual entry, discount or voucher",
    str(RejectReason.STOCK_ADJUSTMENT): "no sale: negative quantity outside a cancellation, or zero price without a customer",
}
_SOURCE_COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
                   "Country"]


def _raw(row: Any) -> dict[str, Any]:
    return {c: (None if pd.isna(getattr(row, c)) else getattr(row, c)) for c in _SOURCE_COLUMNS}


def _customers(lines: pd.DataFrame) -> Iterator[tuple[int, dict[str, Any]]]:
    known = lines[lines["customerId"].notna()]
    grouped = known.groupby("customerId", sort=True).agg(
        line=("csvLine", "min"), country=("Country", "last"), createdAt=("placedAt", "min"))
    for customer_id, row in grouped.iterrows():
        yield int(row["line"]), {"customerId": customer_id, "country": row["country"] or None,
                                 "createdAt": row["createdAt"].to_pydatetime()}


def _products(lines: pd.DataFrame) -> Iterator[tuple[int, dict[str, Any]]]:
    names = (lines.dropna(subset=["Description"]).groupby(["StockCode", "Description"]).size()
             .reset_index(name="n").sort_values(["StockCode", "n", "Description"], ascending=[True, False, True])
             .drop_duplicates("StockCode").set_index("StockCode")["Description"])
    sales = lines[lines["Quantity"] > 0]
    prices = sales.groupby("StockCode")["UnitPrice"].last()
    first = lines.groupby("StockCode")["csvLine"].min()
    for sku, line in first.items():
        product: dict[str, Any] = {"sku": sku}
        if sku in names.index:
            product["name"] = names[sku]
        if sku in prices.index:
            product["price"] = float(prices[sku])
        yield int(line), product


def _orders(lines: pd.DataFrame) -> Iterator[tuple[int, dict[str, Any]]]:
    # whole columns as Python lists: iterating the frame row by row took longer than validating the rows
    columns = [lines[name].tolist() for name in ("csvLine", "InvoiceNo", "line", "StockCode", "Quantity",
                                                 "UnitPrice", "customerId")]
    columns.append(list(lines["placedAt"].dt.to_pydatetime()))
    for csv_line, invoice, line, sku, quantity, price, customer_id, placed_at in zip(*columns, strict=True):
        order = {"orderId": invoice, "line": line, "placedAt": placed_at, "channel": "web", "sku": sku,
                 "quantity": quantity, "unitPrice": price, "currency": "GBP", "cancelled": invoice.startswith("C")}
        if isinstance(customer_id, str):
            order["customerId"] = customer_id
        yield csv_line, order


def _reject(loader: Loader, source: str, row: Any, reason: str) -> Reject:
    if isinstance(row.customerId, str) and loader.tombstones.customer_erased(row.customerId):
        return Reject(source, int(row.csvLine), "orders", RejectReason.ERASED, ERASED_CUSTOMER, None)
    return Reject(source, int(row.csvLine), "orders", RejectReason(reason), _MESSAGES[reason], _raw(row))


def _load_unit(loader: Loader, frame: pd.DataFrame, source: str) -> None:
    reason = classify(frame)
    kept = frame[reason.isna()]
    refused = frame[reason.notna()]
    rejects = [_reject(loader, source, row, r)
               for row, r in zip(refused.itertuples(index=False), reason[reason.notna()], strict=True)]
    loader.load_rows("customers", _customers(kept), source)
    loader.load_rows("products", _products(kept), source)
    loader.load_rows("orders", _orders(kept), source, prefilter_rejects=rejects)


@few_collections()
def load_online_retail(csv_path: Path | None = None, *, by_day: bool = False, limit_days: int | None = None,
                       options: LoadOptions | None = None, then: Sequence[Path] = ()) -> dict[str, Any]:
    """Load the Online Retail history (whole, or replayed day by day), then the drop folders ``then`` in the
    same run (one bulk import for all of them); return the run report."""
    path = csv_path or default_csv()
    options = options or LoadOptions()
    frame = read_source(path)
    days = sorted(frame["day"].unique())
    if limit_days is not None:
        days = days[:limit_days]
        frame = frame[frame["day"].isin(set(days))]
    report = RunReport(options.report_dir or default_report_dir("online-retail"), str(path), options.max_reject_share)
    loader = make_loader(report, options)
    with loader.writing():
        if by_day:
            for day, lines in frame.groupby("day", sort=True):
                log.info("online retail: day %s, %s lines", day, f"{len(lines):,}")
                _load_unit(loader, lines, f"{path.name}@{day}")
        else:
            _load_unit(loader, frame, path.name)
        report.stats("orders").extra["days"] = len(days)
        for directory in then:
            for export in drop_exports(directory)[0]:
                loader.load_export(export)
    loader.complete()
    return report.finish()
