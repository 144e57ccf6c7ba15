"""Shared loading of the real UCI Online Retail file for the benchmarks (no database needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
ONLINE_RETAIL = ROOT / "data" / "online-retail" / "online_retail_all.csv.xz"


def load_online_retail(path: Path = ONLINE_RETAIL) -> pd.DataFrame:
    """Every non-cancelled line with a positive quantity (guest orders kept, ``customerId`` empty)."""
    raw = pd.read_csv(path, compression="xz", dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "float64"})
    raw = raw[~raw.InvoiceNo.str.startswith("C") & (raw.Quantity > 0)]
    at = (pd.to_datetime(raw.InvoiceDate) - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    customer = raw.CustomerID.astype("Int64").astype("string")
    return pd.DataFrame({
        "orderId": raw.InvoiceNo.to_numpy(), "customerId": customer.to_numpy(), "storeId": None,
        "at": at.to_numpy(np.int64), "cancelled": False, "sku": raw.StockCode.str.strip().str.upper().to_numpy(),
        "quantity": raw.Quantity.to_numpy(np.float64), "unitPrice": raw.UnitPrice.to_numpy(np.float64),
        "description": raw.Description.fillna("").str.strip().to_numpy(),
    })
