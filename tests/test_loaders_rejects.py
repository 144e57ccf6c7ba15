"""A bad row of each kind lands in the rejects file (file, line, row, reason, message); good rows still load."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from graph_model.connection import run_query
from loaders.cli import _finish
from loaders.exports import write_table
from loaders.pipeline import LoadOptions, load_drop
from loaders.report import summary_text

T0 = "2026-11-01T10:00:00Z"


def _drop(folder: Path) -> None:
    write_table(pd.DataFrame([{"storeId": "S1", "name": "Leeds", "latitude": 53.8, "longitude": -1.55}]),
                folder / "stores.csv")
    write_table(pd.DataFrame([{"sku": "P1", "name": "Mug", "price": 4.5}]), folder / "products.csv")
    write_table(pd.DataFrame([{"customerId": "C1", "name": "Ann", "cty": "Leeds", "shoeSize": 38}]),
                folder / "customers.csv")  # columns the format does not know: named in the report
    write_table(pd.DataFrame([
        {"sessionId": "S-OK", "channel": "web", "startedAt": T0, "customerId": "C1"},
        {"sessionId": "S-OK2", "channel": "web", "startedAt": T0, "customerId": "C1"},
        {"sessionId": "S-NOCHANNEL", "channel": None, "startedAt": T0, "customerId": "C1"},   # line 4
    ]), folder / "sessions.csv")
    (folder / "events.jsonl").write_text("\n".join([
        json.dumps({"eventId": "E1", "sessionId": "S-OK", "type": "page_view", "at": T0}),
        '{"eventId": "E2", "sessionId": ',                                                       # line 2
        json.dumps({"eventId": "E3", "sessionId": "S-OK", "type": "teleport", "at": T0}),       # line 3
        json.dumps({"eventId": "E4", "sessionId": "S-OK", "type": "product_view", "at": T0, "sku": "NOPE"}),
        json.dumps({"eventId": "E5", "sessionId": "S-OK", "type": "product_view", "at": T0}),   # line 5: no sku
        json.dumps({"eventId": "E1", "sessionId": "S-OK2", "type": "page_view", "at": T0}),     # line 6: E1 again
        json.dumps({"eventId": "E7", "sessionId": "S-OK", "type": "page_view",                 # line 7: year 0 in UTC
                    "at": "0001-01-01T00:00:00+01:00"}),
    ]) + "\n", encoding="utf-8")
    write_table(pd.DataFrame([
        {"orderId": "O1", "line": 1, "placedAt": T0, "channel": "web", "sku": "P1", "quantity": 1, "unitPrice": 4.5,
         "customerId": "C1"},
        {"orderId": "O1", "line": 2, "placedAt": T0, "channel": "web", "sku": "P1", "quantity": 1, "unitPrice": -1,
         "customerId": "C1"},                                                                    # row 2
    ]), folder / "orders.parquet")
    write_table(pd.DataFrame([
        {"scanId": "L1", "loyaltyCard": "CARD-UNKNOWN", "storeId": "S1", "at": T0},
        {"scanId": "L2", "loyaltyCard": "CARD-NEW", "storeId": "S1", "at": T0, "customerId": "C1"},
    ]), folder / "loyalty_scans.csv.gz")
    write_table(pd.DataFrame([
        {"customerId": "C-GHOST", "latitude": 53.8, "longitude": -1.55, "at": T0},
    ]), folder / "pings.csv")
    (folder / "visits.parquet").write_text("visitId\nV1\n")  # not Parquet: one unreadable row, the rest loads
    (folder / "readme.txt").write_text("not an export")


def test_each_kind_of_bad_row_is_rejected_with_its_reason(graph, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    _drop(drop)
    report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run", batch_size=50, writers=1))
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    found = {(r["file"], r["line"], r["reason"]) for r in rejects}
    assert found == {
        ("sessions.csv", 4, "missing_field"),
        ("events.jsonl", 2, "unreadable"),
        ("events.jsonl", 3, "invalid_value"),
        ("events.jsonl", 4, "unknown_reference"),
        ("events.jsonl", 5, "invalid_value"),
        ("events.jsonl", 6, "write_failed"),
        ("events.jsonl", 7, "invalid_value"),
        ("orders.parquet", 2, "invalid_value"),
        ("loyalty_scans.csv.gz", 2, "unknown_identifier"),
        ("pings.csv", 2, "unknown_customer"),
        ("visits.parquet", 1, "unreadable"),
    }
    by_line = {(r["file"], r["line"]): r for r in rejects}
    assert by_line[("events.jsonl", 4)]["row"]["sku"] == "NOPE"
    assert "NOPE" in by_line[("events.jsonl", 4)]["message"]
    assert "channel" in by_line[("sessions.csv", 4)]["message"]
    assert "already exists" in by_line[("events.jsonl", 6)]["message"]
    assert by_line[("events.jsonl", 7)]["message"] == (
        "at: Value error, 0001-01-01T00:00:00+01:00 is out of range once in UTC (years 1 to 9999)")
    assert by_line[("orders.parquet", 2)]["row"]["unitPrice"] == -1

    assert by_line[("visits.parquet", 1)]["message"].startswith("the file cannot be read as Parquet: ArrowInvalid")
    assert report["unrecognisedFiles"] == ["readme.txt"]
    assert report["ignoredColumns"] == {"customers.csv": {"cty": "city", "shoeSize": None}}
    assert "columns not loaded (not in the format) of customers.csv: cty (city?), shoeSize" in summary_text(report)
    events = report["entities"]["events"]
    assert (events["read"], events["loaded"], events["rejected"]) == (7, 1, 6)
    assert sum(s["read"] for s in report["entities"].values()) == report["totals"]["read"]
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["totals"] == report["totals"]
    # the good rows are in the graph, the bad ones are not
    assert run_query("MATCH (e:Event) RETURN collect(e.eventId) AS ids")[0]["ids"] == ["E1"]
    assert run_query("MATCH (:Customer {customerId: 'C1'})-[:MADE_VISIT]->(v:Visit {source: 'loyalty_scan'}) "
                     "RETURN count(v) AS n")[0]["n"] == 1
    assert run_query("MATCH (o:Order {orderId: 'O1'}) RETURN o.total AS t")[0]["t"] == 4.5
    # 11 of 19 rows rejected is more than the default 5 %: the command exits with code 3
    assert report["rejectShare"] == pytest.approx(11 / 19, abs=1e-6) and report["ok"] is False
    with pytest.raises(SystemExit) as stop:
        _finish(report)
    assert stop.value.code == 3


def test_a_line_no_parser_can_take_never_stops_the_drop(graph, tmp_path: Path) -> None:
    """An undecodable byte and ``[`` x 100,000 (deeper than Python's JSON recursion) in the first file."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "categories.jsonl").write_bytes(b"\n".join([
        json.dumps({"categoryId": "K1", "name": "Kitchen"}).encode(),
        b'{"categoryId": "K-BAD", "name": "Caf\xe9"}',                                          # line 2: Latin-1
        b"[" * 100_000,                                                                         # line 3
        json.dumps({"categoryId": "K2", "name": "Garden", "parentId": "K1"}).encode(),
    ]) + b"\n")
    write_table(pd.DataFrame([{"sku": "P1", "name": "Mug", "price": 4.5, "categoryIds": "K1|K2"}]),
                drop / "products.csv.gz")
    write_table(pd.DataFrame([{"storeId": "S1", "name": "Leeds", "latitude": 53.8, "longitude": -1.55}]),
                drop / "stores.jsonl.gz")
    write_table(pd.DataFrame([{"customerId": "C1", "name": "Ann"}]), drop / "customers.csv")

    report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run", batch_size=50, writers=1))

    saved = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    assert saved["totals"] == report["totals"]
    assert report["entities"]["categories"]["rejectReasons"] == {"unreadable": 2}
    assert {name: report["entities"][name]["loaded"] for name in ("categories", "products", "stores", "customers")} \
        == {"categories": 2, "products": 1, "stores": 1, "customers": 1}
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text("utf-8").splitlines()]
    assert [(r["file"], r["line"], r["reason"]) for r in rejects] == [
        ("categories.jsonl", 2, "unreadable"), ("categories.jsonl", 3, "unreadable")]
    assert rejects[0]["message"] == "not UTF-8: byte 0xe9 at byte 36 of line 2"
    assert rejects[0]["row"] == "[unreadable line of 39 characters, redacted]"  # it may hold anything personal
    assert rejects[1]["message"] == "invalid JSON: nested too deeply to parse"
    assert run_query("MATCH (p:Product {sku: 'P1'})-[:IN_CATEGORY]->(c:Category) "
                     "RETURN collect(c.categoryId) AS ids")[0]["ids"] in (["K1", "K2"], ["K2", "K1"])
    assert run_query("MATCH (c:Category) RETURN count(c) AS n")[0]["n"] == 2
    assert run_query("MATCH (s:Store), (c:Customer) RETURN count(*) AS n")[0]["n"] == 1


def test_reference_checks_read_only_the_keys_the_file_refers_to(graph, tmp_path: Path) -> None:
    """A file's reference checks read the keys its rows name, not every key of the label (reads that grew
    with the graph); a key of the graph is found, one nowhere is a reject."""
    from loaders.pipeline import Loader
    from loaders.report import RunReport

    run_query("UNWIND range(1, 500) AS i CREATE (:Session {sessionId: 'G' + i, channel: 'web'})")
    rows = [(1, {"eventId": "E1", "sessionId": "G7", "type": "page_view", "at": T0}),
            (2, {"eventId": "E2", "sessionId": "NOWHERE", "type": "page_view", "at": T0})]
    report = RunReport(tmp_path / "run", "test", 1.0)
    loader = Loader(report, LoadOptions(progress=False))
    loader.load_rows("events", iter(rows), "events.jsonl")
    assert loader.keys.keys("Session") == {"G7"}
    assert run_query("MATCH (:Session {sessionId: 'G7'})-[:CONTAINS]->(e:Event) RETURN e.eventId AS id") == [{"id": "E1"}]
    assert report.stats("events").rejected == 1


def test_numbers_neo4j_cannot_store_are_rejects_not_a_stopped_load(graph, tmp_path: Path) -> None:
    """Found by hand (stop 37): an integer over 64 bits stopped the whole load with an OverflowError at the
    write, and `1e400` or `nan` went in as a price."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "stores.csv").write_text("storeId,name,latitude,longitude\nS1,Leeds,53.8,-1.55\n")
    (drop / "products.csv").write_text("sku,name,price\nP1,Mug,4.5\nP2,Cup,1e400\nP3,Jar,nan\n")
    (drop / "stock.csv").write_text(f"storeId,sku,quantity,updatedAt\nS1,P1,{2**63},{T0}\nS1,P1,{2**63 - 1},{T0}\n")
    load_drop(drop, LoadOptions(report_dir=tmp_path / "run", batch_size=50, writers=1))
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    assert {(r["file"], r["line"], r["message"]) for r in rejects} == {
        ("products.csv", 3, "price: Input should be a finite number"),
        ("products.csv", 4, "price: Input should be a finite number"),
        ("stock.csv", 2, f"quantity: Input should be less than or equal to {2**63 - 1}")}
    assert run_query("MATCH (:Store)-[s:STOCKS]->(p:Product) RETURN p.sku AS sku, s.quantity AS n") == [
        {"sku": "P1", "n": 2**63 - 1}]


def test_rows_dated_in_the_future_and_addresses_for_hashes_are_rejects(graph, tmp_path: Path) -> None:
    """Products and stock counts keep the row with the latest ``updatedAt``, as customers and consents do: one
    dated 2062 would keep every later change out (customers and consents: tests/test_loaders_privacy.py)."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "stores.csv").write_text("storeId,name,latitude,longitude\nS1,Leeds,53.8,-1.55\n")
    (drop / "products.csv").write_text(f"sku,name,updatedAt\nP1,Mug,{T0}\nP2,Cup,2062-01-01T00:00:00Z\n")
    (drop / "stock.csv").write_text(f"storeId,sku,quantity,updatedAt\nS1,P1,4,2062-01-01T00:00:00Z\nS1,P1,5,{T0}\n")
    # an e-mail address where its hash belongs (found by the stop-37 audit): refused, never stored
    (drop / "customers.csv").write_text("customerId,name,emailHash\nC1,Alice,alice@example.com\nC2,Bo,\n")
    (drop / "identifiers.csv").write_text(f"customerId,type,value,seenAt\nC2,email_hash,bob@example.com,{T0}\n"
                                          f"C2,email_hash,{'a' * 64},{T0}\n")
    # interactions: one dated 2062 would top every timeline and never age out under retention
    (drop / "sessions.csv").write_text(f"sessionId,channel,startedAt,endedAt\nW1,web,{T0},\nW2,web,{T0},2062-01-01T00:00:00Z\n")
    (drop / "events.csv").write_text(f"eventId,sessionId,type,at,page\nE1,W1,page_view,{T0},/\nE2,W1,page_view,"
                                     "2062-01-01T00:00:00Z,/\n")
    load_drop(drop, LoadOptions(report_dir=tmp_path / "run", batch_size=50, writers=1))
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    assert {(r["file"], r["line"], r["message"].split(";")[0]) for r in rejects} == {
        ("products.csv", 3, "updatedAt: 2062-01-01T00:00:00+00:00 is in the future"),
        ("stock.csv", 2, "updatedAt: 2062-01-01T00:00:00+00:00 is in the future"),
        ("customers.csv", 2, "emailHash: String should match pattern '^[0-9a-f]{64}$'"),
        ("identifiers.csv", 2, "value: an email_hash is the SHA-256 of the address as 64 lower-case hex digits, "
                               "not the address"),
        ("sessions.csv", 3, "endedAt: 2062-01-01T00:00:00+00:00 is in the future"),
        ("events.csv", 3, "at: 2062-01-01T00:00:00+00:00 is in the future")}
    assert run_query("MATCH (:Store)-[s:STOCKS]->(p:Product) RETURN p.sku AS sku, s.quantity AS n") == [
        {"sku": "P1", "n": 5}]
    assert run_query("MATCH (i:Identity {type: 'email_hash'}) RETURN i.value AS v") == [{"v": "a" * 64}]


def test_an_event_id_another_session_holds_is_refused_not_taken_over(graph, tmp_path: Path) -> None:
    """Found by the stop-37 audit: a collected message reusing another customer's event id rewrote that event
    (type, page, time) and joined it to its own session, when its session already held events."""
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
    (first / "sessions.csv").write_text(f"sessionId,channel,startedAt\nS1,web,{T0}\nS2,web,{T0}\n")
    (first / "events.csv").write_text(f"eventId,sessionId,type,at,page\nE1,S1,page_view,{T0},/mine\n"
                                      f"E2,S2,page_view,{T0},/other\n")
    load_drop(first, LoadOptions(report_dir=tmp_path / "run1", batch_size=50, writers=1))
    (second / "events.csv").write_text("eventId,sessionId,type,at,page\nE1,S2,page_view,2026-11-02T10:00:00Z,/pwned\n"
                                       "E3,S2,page_view,2026-11-02T10:01:00Z,/fine\n")
    report = load_drop(second, LoadOptions(report_dir=tmp_path / "run2", batch_size=50, writers=1))
    rejects = [json.loads(line) for line in (tmp_path / "run2" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [(2, "write_failed")] and "already exists" in rejects[0]["message"]
    assert report["entities"]["events"]["loaded"] == 1
    assert run_query("""MATCH (s:Session)-[:CONTAINS]->(e:Event) RETURN s.sessionId AS s, e.eventId AS e, e.page AS page
                        ORDER BY e""") == [{"s": "S1", "e": "E1", "page": "/mine"}, {"s": "S2", "e": "E2", "page": "/other"},
                                          {"s": "S2", "e": "E3", "page": "/fine"}]


def test_lines_that_sell_nothing_negative_cart_units_and_overlong_keys_are_rejects(graph, tmp_path: Path) -> None:
    """Found by an audit (stop 40): the public collection key attached an order of -1,000,000 units (total
    -2.55 M) to a customer, and a 28 KB search text failed its whole batch at the index, retried row by row."""
    drop = tmp_path / "drop"
    write_table(pd.DataFrame([{"sku": "P1", "name": "Mug", "price": 4.5}]), drop / "products.csv")
    write_table(pd.DataFrame([{"customerId": "C1", "name": "Ann"},
                              {"customerId": "C2", "name": "Bob", "country": "X" * 201},
                              {"customerId": "\u200b", "name": "Ghost"}]), drop / "customers.csv")
    write_table(pd.DataFrame([{"sessionId": "S1", "channel": "web", "startedAt": T0, "customerId": "C1"}]),
                drop / "sessions.csv")
    order = {"placedAt": T0, "channel": "web", "sku": "P1", "unitPrice": 2.55, "customerId": "C1"}
    write_table(pd.DataFrame([
        {**order, "orderId": "O-NEG", "line": 1, "quantity": -1_000_000},
        {**order, "orderId": "O-ZERO", "line": 1, "quantity": 0},
        {**order, "orderId": "C-O1", "line": 1, "quantity": -2, "cancelled": True},  # a cancellation takes back
        {**order, "orderId": "O-OK", "line": 1, "quantity": 3},
    ]), drop / "orders.csv")
    write_table(pd.DataFrame([
        {"eventId": "E1", "sessionId": "S1", "type": "add_to_cart", "at": T0, "sku": "P1", "quantity": -5},
        {"eventId": "E2", "sessionId": "S1", "type": "search", "at": T0, "query": "q" * 2_001},
        {"eventId": "E3", "sessionId": "S1", "type": "search", "at": T0, "query": "mugs"},
        {"eventId": "E4", "sessionId": "S1", "type": "add_to_cart", "at": T0, "sku": "P1", "quantity": 2},
    ]), drop / "events.csv")
    report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run", writers=1, max_reject_share=1.0))
    rejects = {(r["file"], r["line"]): r for r in
               map(json.loads, (tmp_path / "run" / "rejects.jsonl").read_text().splitlines())}
    assert {key: r["reason"] for key, r in rejects.items()} == {
        ("customers.csv", 3): "invalid_value", ("customers.csv", 4): "invalid_value",
        ("orders.csv", 2): "invalid_value", ("orders.csv", 3): "invalid_value",
        ("events.csv", 2): "invalid_value", ("events.csv", 3): "invalid_value"}
    assert rejects[("orders.csv", 2)]["message"] == (
        "quantity: a line of an order that is not cancelled sells at least one unit")
    assert rejects[("events.csv", 3)]["message"].startswith("query: String should have at most 2000 characters")
    # a key of a zero-width space alone is nothing once read as a key (stop 41: it loaded as the empty key)
    assert rejects[("customers.csv", 4)]["message"] == "customerId: Value error, a key of invisible characters only"
    assert run_query("MATCH (c:Customer) RETURN c.customerId AS id ORDER BY id") == [{"id": "C1"}]
    assert report["entities"]["orders"]["loaded"] == 2 and report["entities"]["events"]["loaded"] == 2
    assert run_query("MATCH (o:Order) RETURN o.orderId AS id, o.total AS total ORDER BY id") == [
        {"id": "C-O1", "total": -5.1}, {"id": "O-OK", "total": 7.65}]
