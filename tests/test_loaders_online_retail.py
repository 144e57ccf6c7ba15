"""The Online Retail adapter keeps or rejects each kind of mess with a reason, through the common pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from graph_model.connection import run_query
from loaders.fingerprint import graph_fingerprint
from loaders.online_retail import default_csv, load_online_retail
from loaders.pipeline import LoadOptions

SAMPLE = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,17850.0,United Kingdom
536366,71053,,2,2010-12-01 09:00:00,3.39,,United Kingdom
536367,22139,,-12,2010-12-01 09:10:00,0.0,,United Kingdom
536368,22139,"RETROSPOT TEA SET, CERAMIC ",3,2011-06-01 15:00:00,4.95,13047.0,France
C536369,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,2011-06-02 10:00:00,2.55,17850.0,United Kingdom
A563185,B,Adjust bad debt,1,2011-06-02 11:00:00,11062.06,,United Kingdom
"""


def test_mess_is_kept_with_meaning_or_rejected_with_a_reason(graph, tmp_path: Path) -> None:
    csv = tmp_path / "retail.csv"
    csv.write_text(SAMPLE, encoding="utf-8")
    report = load_online_retail(csv, options=LoadOptions(report_dir=tmp_path / "run"))
    assert report["entities"]["orders"]["read"] == 8
    assert report["entities"]["orders"]["loaded"] == 5
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    assert sorted((r["line"], r["reason"]) for r in rejects) == [
        (4, "non_product_line"), (6, "stock_adjustment"), (9, "non_product_line")]
    assert rejects[0]["row"]["StockCode"] in {"POST", "22139", "B"}

    orders = {r["id"]: r for r in run_query(
        "MATCH (o:Order) OPTIONAL MATCH (c:Customer)-[:PLACED]->(o) "
        "RETURN o.orderId AS id, o.cancelled AS cancelled, o.total AS total, c.customerId AS customer, "
        "o.placedAt AS placedAt")}
    assert set(orders) == {"536365", "536366", "536368", "C536369"}
    assert orders["536365"]["total"] == round(6 * 2.55 + 6 * 3.39, 2) and orders["536365"]["customer"] == "17850"
    assert orders["536366"]["customer"] is None  # guest checkout, kept
    assert orders["C536369"]["cancelled"] is True and orders["C536369"]["total"] == -5.1
    # UK summer time: 15:00 local is 14:00 UTC
    assert orders["536368"]["placedAt"].iso_format().startswith("2011-06-01T14:00:00")
    product = run_query("MATCH (p:Product {sku: '22139'}) RETURN p.name AS name, p.price AS price")
    assert product == [{"name": "RETROSPOT TEA SET, CERAMIC", "price": 4.95}]
    assert run_query("MATCH (p:Product {sku: '71053'}) RETURN p.name AS n")[0]["n"] == "WHITE METAL LANTERN"
    countries = run_query("MATCH (c:Customer)-[:IN_COUNTRY]->(k) RETURN c.customerId AS c, k.name AS k ORDER BY c")
    assert countries == [{"c": "13047", "k": "France"}, {"c": "17850", "k": "United Kingdom"}]

    whole = graph_fingerprint()
    load_online_retail(csv, by_day=True, options=LoadOptions(report_dir=tmp_path / "by-day"))
    assert graph_fingerprint() == whole  # replaying the same history day by day changes nothing


def test_the_real_history_loads_day_by_day(graph, tmp_path: Path) -> None:
    report = load_online_retail(default_csv(), by_day=True, limit_days=2,
                                options=LoadOptions(report_dir=tmp_path / "run"))
    orders = report["entities"]["orders"]
    assert orders["days"] == 2 and orders["read"] > 5_000
    assert orders["loaded"] + orders["rejected"] == orders["read"]
    assert set(orders["rejectReasons"]) <= {"non_product_line", "stock_adjustment"}
    counts = run_query("MATCH (o:Order) RETURN count(o) AS orders, sum(CASE WHEN o.cancelled THEN 1 ELSE 0 END) AS c")
    assert counts[0]["orders"] > 200 and counts[0]["c"] > 0
