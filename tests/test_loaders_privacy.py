"""The loaders obey the privacy rules: erased people stay erased, pings need location consent, an
``unsubscribed`` withdraws consent through the one consent writer, rejects keep no personal value."""

from __future__ import annotations

import json
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from graph_model.connection import execute_write, run_query
from graph_model.privacy.erasure import ErasureResult, erase_customer
from graph_model.privacy.keys import customer_hash
from graph_model.privacy.policy import GDPR_DEFAULTS, ConsentPolicy, set_policy
from graph_model.privacy.redaction import purge_person, value_token
from graph_model.privacy.tombstone import Tombstones
from loaders.exports import write_table
from loaders.online_retail import load_online_retail
from loaders.pipeline import Loader, LoadOptions, load_drop

T0 = "2026-11-01T10:00:00Z"
STORE = {"storeId": "S1", "name": "Leeds", "latitude": 53.8, "longitude": -1.55}
# the erased person's values: distinctive, so a trace of any of them in a file is found
ANN = "CUST-ANN"
ANN_EMAIL = "af3fb924bfccd4c891f360a3c4ab8cbde6e91f11a7a06609b1fa6d184007e960"  # an e-mail hash, as exports carry it
ANN_COOKIE = "COOKIE-ANN-77"
ANN_DEVICE = "DEVICE-ANN-12"
ANN_CARD = "CARD-ANN-9001"


def erase_while_loading(monkeypatch: pytest.MonkeyPatch, runs: Path, customer_id: str, before: str, *,
                        fail_at: str | None = None, failure: Exception | None = None) -> list[ErasureResult]:
    """Have ``customer_id`` erased (as by another process) just before the run loads its file of entity ``before``;
    with ``fail_at``, the run then fails with ``failure`` before loading that entity's file. The erasures made."""
    real_load_export = Loader.load_export
    erasures: list[ErasureResult] = []

    def load_export(loader: Loader, export) -> None:  # type: ignore[no-untyped-def]
        if export.entity == before:
            erasures.append(erase_customer(customer_id, actor="officer", reject_roots=[runs]))
            assert erasures[-1].found
        if export.entity == fail_at:
            assert failure is not None
            raise failure
        real_load_export(loader, export)

    monkeypatch.setattr(Loader, "load_export", load_export)
    return erasures


def _rejects(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


def _write_day1(drop: Path) -> None:
    write_table(pd.DataFrame([STORE]), drop / "stores.csv")
    write_table(pd.DataFrame([{"sku": "P1", "name": "Mug", "price": 4.5}]), drop / "products.csv")
    write_table(pd.DataFrame([{"customerId": ANN, "name": "Ann Erased", "emailHash": ANN_EMAIL},
                              {"customerId": "C2", "name": "Bob"}]), drop / "customers.csv")
    write_table(pd.DataFrame([
        {"customerId": ANN, "type": "cookie", "value": ANN_COOKIE, "seenAt": T0},
        {"customerId": ANN, "type": "device_id", "value": ANN_DEVICE, "seenAt": T0},
        {"customerId": ANN, "type": "loyalty_card", "value": ANN_CARD, "seenAt": T0},
    ]), drop / "identifiers.csv")


def _write_day2(drop: Path) -> None:
    """Every entity that names a customer or identifier, with the erased person's values."""
    write_table(pd.DataFrame([
        {"customerId": ANN, "name": "Ann Erased", "emailHash": ANN_EMAIL, "homeLatitude": 53.811111,
         "homeLongitude": -1.522222},
        {"customerId": ANN, "loyaltyTier": "diamond"},                      # broken too: still only "erased"
        {"customerId": "C3", "name": "New Name", "emailHash": ANN_EMAIL},  # a new id with the erased email
        {"customerId": "C4", "name": "Cleo"},
    ]), drop / "customers.csv")
    write_table(pd.DataFrame([
        {"customerId": "C2", "type": "cookie", "value": ANN_COOKIE, "seenAt": T0},
        {"customerId": "C2", "type": "cookie", "value": "COOKIE-BOB", "seenAt": T0},
    ]), drop / "identifiers.csv")
    write_table(pd.DataFrame([
        {"customerId": ANN, "channel": "email", "purpose": "marketing", "granted": True, "updatedAt": T0},
    ]), drop / "consents.csv")
    write_table(pd.DataFrame([
        {"sessionId": "WS-ANN", "channel": "web", "startedAt": T0, "customerId": ANN},
        {"sessionId": "WS-COOKIE", "channel": "web", "startedAt": T0, "cookie": ANN_COOKIE},
        {"sessionId": "APP-DEVICE", "channel": "app", "startedAt": T0, "deviceId": ANN_DEVICE},
        {"sessionId": "WS-BOB", "channel": "web", "startedAt": T0, "customerId": "C2", "cookie": "COOKIE-BOB"},
    ]), drop / "sessions.csv")
    write_table(pd.DataFrame([
        {"orderId": "O-ANN", "line": 1, "placedAt": T0, "channel": "web", "sku": "P1", "quantity": 1,
         "unitPrice": 4.5, "customerId": ANN},
        {"orderId": "O-BOB", "line": 1, "placedAt": T0, "channel": "web", "sku": "P1", "quantity": 1,
         "unitPrice": 4.5, "customerId": "C2"},
    ]), drop / "orders.csv")
    write_table(pd.DataFrame([{"visitId": "V-ANN", "customerId": ANN, "storeId": "S1", "arrivedAt": T0,
                               "source": "purchase"}]), drop / "visits.csv")
    write_table(pd.DataFrame([{"scanId": "L-ANN", "loyaltyCard": ANN_CARD, "storeId": "S1", "at": T0}]),
                drop / "loyalty_scans.csv")
    write_table(pd.DataFrame([{"customerId": ANN, "latitude": 53.8, "longitude": -1.55, "at": T0}]),
                drop / "pings.csv")
    write_table(pd.DataFrame([{"messageId": "M-ANN", "customerId": ANN, "channel": "email", "sentAt": T0}]),
                drop / "messages.csv")
    write_table(pd.DataFrame([{"messageId": "M-ANN", "customerId": ANN, "type": "opened", "at": T0}]),
                drop / "responses.csv")


def test_rows_of_erased_customers_and_identifiers_are_dropped_without_a_trace(graph, tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    _write_day1(day1)
    load_drop(day1, LoadOptions(report_dir=tmp_path / "runs" / "day1"))
    assert erase_customer(ANN, actor="test", reject_roots=[tmp_path / "runs"]).found

    _write_day2(day2)
    report = load_drop(day2, LoadOptions(report_dir=tmp_path / "runs" / "day2", writers=1))
    reasons = {name: stats["rejectReasons"] for name, stats in report["entities"].items()}
    assert reasons == {
        "customers": {"erased": 3}, "identifiers": {"erased": 1}, "consents": {"erased": 1},
        "sessions": {"erased": 3}, "orders": {"erased": 1}, "visits": {"erased": 1},
        "loyalty_scans": {"erased": 1}, "pings": {"erased": 1}, "messages": {"erased": 1},
        "responses": {"erased": 1},
    }
    # expected drops, not data errors: 14 of 18 rows rejected and the run is still ok
    assert report["totals"]["rejected"] == report["totals"]["withheld"] == 14
    assert report["rejectShare"] == 0 and report["ok"] is True

    rejects = _rejects(tmp_path / "runs" / "day2")
    assert all(r["row"] is None and r["reason"] == "erased" for r in rejects)
    assert {r["message"] for r in rejects} == {"row of an erased customer", "erased identifier"}
    by_line = {(r["file"], r["line"]): r["message"] for r in rejects}
    assert by_line[("customers.csv", 4)] == "erased identifier"  # C3 carries the erased email hash
    assert by_line[("sessions.csv", 3)] == by_line[("sessions.csv", 4)] == "erased identifier"
    text = (tmp_path / "runs" / "day2" / "rejects.jsonl").read_text(encoding="utf-8")
    for value in (ANN, ANN_EMAIL, ANN_COOKIE, ANN_DEVICE, ANN_CARD, "Ann Erased", "53.811111", "New Name"):
        assert value not in text

    # the person is not back, nor any of their identifiers; the others loaded
    assert run_query("MATCH (c:Customer) RETURN c.customerId AS id ORDER BY id") == [{"id": "C2"}, {"id": "C4"}]
    keys = {r["k"] for r in run_query("MATCH (i:Identity) RETURN i.identityKey AS k")}
    assert not keys & {f"email_hash:{ANN_EMAIL}", f"cookie:{ANN_COOKIE}", f"device_id:{ANN_DEVICE}",
                       f"loyalty_card:{ANN_CARD}", f"customer_ref:{ANN}"}
    assert "cookie:COOKIE-BOB" in keys
    assert run_query("MATCH (s:Session) RETURN s.sessionId AS s") == [{"s": "WS-BOB"}]
    assert run_query("MATCH (o:Order) RETURN o.orderId AS o") == [{"o": "O-BOB"}]
    assert run_query("MATCH (n) WHERE n:Visit OR n:Message OR n:Consent RETURN count(n) AS n")[0]["n"] == 0


def _write_browsing(drop: Path, *, ann_cookie_when_logged_in: bool = False) -> None:
    """The person's logged-in session and a cookie-only one, with free text (a search, a URL query), and Bob's."""
    ann = {"customerId": ANN, **({"cookie": ANN_COOKIE} if ann_cookie_when_logged_in else {})}
    write_table(pd.DataFrame([
        {"sessionId": "WS-ANN", "channel": "web", "startedAt": T0, **ann},
        {"sessionId": "WS-COOKIE", "channel": "web", "startedAt": T0, "cookie": ANN_COOKIE},
        {"sessionId": "WS-BOB", "channel": "web", "startedAt": T0, "customerId": "C2"},
    ]), drop / "sessions.csv")
    write_table(pd.DataFrame([
        {"eventId": "E1", "sessionId": "WS-ANN", "type": "search", "at": T0, "query": "ann private search"},
        {"eventId": "E2", "sessionId": "WS-COOKIE", "type": "page_view", "at": T0, "page": "/account?email=ann"},
        {"eventId": "E3", "sessionId": "WS-BOB", "type": "search", "at": T0, "query": "mugs"},
    ]), drop / "events.csv")


def test_reloaded_events_of_an_erased_persons_sessions_bring_no_free_text_back(graph, tmp_path: Path) -> None:
    day1 = tmp_path / "day1"
    _write_day1(day1)
    _write_browsing(day1)
    load_drop(day1, LoadOptions(report_dir=tmp_path / "runs" / "day1"))
    assert erase_customer(ANN, actor="test", reject_roots=[tmp_path / "runs"]).found
    texts = ("MATCH (e:Event) OPTIONAL MATCH (e)-[:SEARCHED]->(q) "
             "RETURN e.eventId AS id, e.query AS query, e.page AS page, q.text AS searched ORDER BY id")
    scrubbed = run_query(texts)
    assert scrubbed == [{"id": "E1", "query": None, "page": None, "searched": None},
                        {"id": "E2", "query": None, "page": "/account", "searched": None},
                        {"id": "E3", "query": "mugs", "page": None, "searched": "mugs"}]

    # tonight's export repeats the sessions and their events: the erased person's stay anonymous
    report = load_drop(day1, LoadOptions(report_dir=tmp_path / "runs" / "again", writers=1))
    assert report["entities"]["events"]["rejectReasons"] == {"erased": 2}
    assert report["entities"]["sessions"]["rejectReasons"] == {"erased": 2}
    assert run_query(texts) == scrubbed
    rejects = _rejects(tmp_path / "runs" / "again")
    assert {r["message"] for r in rejects if r["file"] == "events.csv"} == {"session of an erased customer"}
    text = (tmp_path / "runs" / "again" / "rejects.jsonl").read_text(encoding="utf-8")
    assert "ann private search" not in text and "email=ann" not in text


SAMPLE = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,17850.0,United Kingdom
536366,71053,WHITE METAL LANTERN,2,2010-12-01 09:00:00,3.39,13047.0,France
C536369,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,2011-06-02 10:00:00,2.55,17850.0,United Kingdom
"""


def test_online_retail_does_not_bring_an_erased_customer_back(graph, tmp_path: Path) -> None:
    csv = tmp_path / "retail.csv"
    csv.write_text(SAMPLE, encoding="utf-8")
    load_online_retail(csv, options=LoadOptions(report_dir=tmp_path / "first"))
    assert erase_customer("17850", actor="test", reject_roots=[tmp_path]).found

    report = load_online_retail(csv, options=LoadOptions(report_dir=tmp_path / "again"))
    assert report["entities"]["customers"]["rejectReasons"] == {"erased": 1}
    assert report["entities"]["orders"]["rejectReasons"] == {"erased": 3}  # two sales lines and the postage
    assert report["ok"] is True and report["rejectShare"] == 0
    assert run_query("MATCH (c:Customer) RETURN c.customerId AS c") == [{"c": "13047"}]
    # the erased customer's orders stay anonymous facts: nobody PLACED them
    placed = run_query("MATCH (c:Customer)-[:PLACED]->(o:Order) RETURN o.orderId AS o")
    assert placed == [{"o": "536366"}]
    rejects = _rejects(tmp_path / "again")
    assert len(rejects) == 4 and all(r["row"] is None for r in rejects)
    assert "17850" not in (tmp_path / "again" / "rejects.jsonl").read_text(encoding="utf-8")


def _ping_drop(drop: Path) -> None:
    write_table(pd.DataFrame([STORE]), drop / "stores.csv")
    write_table(pd.DataFrame([{"customerId": c} for c in ("C-GRANT", "C-NONE", "C-WITHDRAWN")]),
                drop / "customers.csv")
    write_table(pd.DataFrame([
        {"customerId": "C-GRANT", "channel": "app", "purpose": "location", "granted": True, "updatedAt": T0},
        {"customerId": "C-WITHDRAWN", "channel": "app", "purpose": "location", "granted": True, "updatedAt": T0},
        {"customerId": "C-WITHDRAWN", "channel": "web", "purpose": "location", "granted": False, "updatedAt": T0},
        {"customerId": "C-NONE", "channel": "email", "purpose": "marketing", "granted": True, "updatedAt": T0},
    ]), drop / "consents.csv")
    pings = [{"customerId": c, "latitude": 53.800123 + i * 1e-6, "longitude": -1.550321, "at": f"2026-11-01T10:{m:02d}:00Z"}
             for i, c in enumerate(("C-GRANT", "C-NONE", "C-WITHDRAWN")) for m in range(0, 21, 4)]
    write_table(pd.DataFrame(pings), drop / "pings.csv")


def test_pings_without_location_consent_are_neither_stored_nor_geofenced(graph, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    _ping_drop(drop)
    report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run"))
    pings = report["entities"]["pings"]
    assert (pings["read"], pings["loaded"], pings["rejected"]) == (18, 6, 12)
    assert pings["rejectReasons"] == {"no_consent": 12} and pings["visitsFromPings"] == 1
    assert report["ok"] is True and report["rejectShare"] == 0  # expected, not data errors
    visits = run_query("MATCH (c:Customer)-[:MADE_VISIT]->(v:Visit) RETURN c.customerId AS c")
    assert visits == [{"c": "C-GRANT"}]
    rejects = _rejects(tmp_path / "run")
    assert len(rejects) == 12
    assert all(r["row"] is None and r["message"] == "no location consent" for r in rejects)
    text = (tmp_path / "run" / "rejects.jsonl").read_text(encoding="utf-8")
    assert "53.8001" not in text and "1.550321" not in text

    # the decision is the policy's: with location granted by default, a customer without a record is in
    set_policy(ConsentPolicy(defaults={**GDPR_DEFAULTS, "location": True}))
    try:
        report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run2"))
    finally:
        set_policy(None)
    assert report["entities"]["pings"]["rejectReasons"] == {"no_consent": 6}  # the withdrawal still counts
    visits = run_query("MATCH (c:Customer)-[:MADE_VISIT]->(v:Visit) RETURN c.customerId AS c ORDER BY c")
    assert visits == [{"c": "C-GRANT"}, {"c": "C-NONE"}]


def test_an_unsubscribed_response_withdraws_marketing_on_its_channel(graph, tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    write_table(pd.DataFrame([{"customerId": "C1"}]), day1 / "customers.csv")
    write_table(pd.DataFrame([
        {"customerId": "C1", "channel": "sms", "purpose": "marketing", "granted": True,
         "updatedAt": "2026-10-01T00:00:00Z"},
        {"customerId": "C1", "channel": "sms", "purpose": "personalisation", "granted": True,
         "updatedAt": "2026-10-01T00:00:00Z"},
        {"customerId": "C1", "channel": "email", "purpose": "marketing", "granted": True,
         "updatedAt": "2026-10-01T00:00:00Z"},
    ]), day1 / "consents.csv")
    write_table(pd.DataFrame([{"messageId": "M1", "customerId": "C1", "channel": "sms", "sentAt": T0}]),
                day1 / "messages.csv")
    write_table(pd.DataFrame([
        {"messageId": "M1", "customerId": "C1", "type": "opened", "at": "2026-11-01T11:00:00Z"},
        {"messageId": "M1", "customerId": "C1", "type": "unsubscribed", "at": "2026-11-01T11:05:00Z"},
    ]), day1 / "responses.csv")
    report = load_drop(day1, LoadOptions(report_dir=tmp_path / "run1"))
    assert report["entities"]["responses"]["loaded"] == 2
    consents = ("MATCH (:Customer {customerId: 'C1'})-[:HAS_CONSENT]->(k:Consent) "
                "RETURN k.channel AS channel, k.purpose AS purpose, k.granted AS granted, k.updatedAt AS at "
                "ORDER BY channel, purpose")

    def stored() -> list[tuple]:
        return [(r["channel"], r["purpose"], r["granted"], r["at"].to_native()) for r in run_query(consents)]

    unsubscribed = datetime(2026, 11, 1, 11, 5, tzinfo=UTC)
    expected = [("email", "marketing", True, datetime(2026, 10, 1, tzinfo=UTC)),
                ("sms", "marketing", False, unsubscribed),
                ("sms", "personalisation", True, datetime(2026, 10, 1, tzinfo=UTC))]
    assert stored() == expected
    assert run_query("MATCH (:Customer)-[r:RESPONDED {type: 'unsubscribed'}]->(:Message) RETURN count(r) AS n")[0]["n"] == 1

    # a later file replays an older grant: it never re-grants
    write_table(pd.DataFrame([{"customerId": "C1", "channel": "sms", "purpose": "marketing", "granted": True,
                               "updatedAt": "2026-11-01T09:00:00Z"}]), day2 / "consents.csv")
    load_drop(day2, LoadOptions(report_dir=tmp_path / "run2"))
    assert stored() == expected
    # audited: each record created by the file, and the withdrawal; the replayed old grant changed nothing
    audit = run_query("MATCH (a:AuditEntry {action: 'consent'}) RETURN a.actor AS actor, a.detail AS detail, "
                      "a.subject AS subject ORDER BY detail")
    assert [(a["actor"], a["detail"]) for a in audit] == [
        ("loader", "channel=email purpose=marketing granted=true"),
        ("loader", "channel=sms purpose=marketing granted=false"),
        ("loader", "channel=sms purpose=marketing granted=true"),
        ("loader", "channel=sms purpose=personalisation granted=true")]
    assert {a["subject"] for a in audit} == {customer_hash("C1")}  # the keyed hash, never the id
    load_drop(day1, LoadOptions(report_dir=tmp_path / "run3"))  # a reload of the same file: nothing new
    assert run_query("MATCH (a:AuditEntry {action: 'consent'}) RETURN count(a) AS n")[0]["n"] == 4


def test_a_consent_or_customer_dated_in_the_future_is_a_reject_so_later_changes_count(graph, tmp_path: Path) -> None:
    """Found by hand (stop 37): a grant dated 2062 (a typo for 2026) outranked every later withdrawal, the API's
    ``setConsent`` (dated now) included, since the latest ``updatedAt`` wins; so would a customer row every
    later correction of the profile."""
    drop = tmp_path / "drop"
    drop.mkdir()
    write_table(pd.DataFrame([{"customerId": "C1", "name": "Ann"},
                              {"customerId": "C2", "name": "Bo", "updatedAt": "2062-03-01T00:00:00Z"}]),
                drop / "customers.csv")
    soon = (datetime.now(UTC) + timedelta(hours=12)).isoformat()  # within the clock tolerance
    write_table(pd.DataFrame([
        {"customerId": "C1", "channel": "email", "purpose": "marketing", "granted": True, "updatedAt": "2062-03-01T00:00:00Z"},
        {"customerId": "C1", "channel": "sms", "purpose": "marketing", "granted": True, "updatedAt": soon},
    ]), drop / "consents.csv")
    load_drop(drop, LoadOptions(report_dir=tmp_path / "run"))
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["file"], r["line"], r["reason"], r["message"][:54]) for r in rejects] == [
        ("customers.csv", 3, "invalid_value", "updatedAt: 2062-03-01T00:00:00+00:00 is in the future;"),
        ("consents.csv", 2, "invalid_value", "updatedAt: 2062-03-01T00:00:00+00:00 is in the future;")]
    assert run_query("MATCH (:Customer {customerId: 'C1'})-[:HAS_CONSENT]->(k:Consent) RETURN k.channel AS channel"
                     ) == [{"channel": "sms"}]


def test_rejected_rows_keep_no_personal_value_and_are_private(graph, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    monkeypatch.delenv("CUSTOMER_GRAPH_REJECTS_REDACT", raising=False)
    drop = tmp_path / "drop"
    person = {"customerId": "CUST-REJECTED-77", "name": "Annabel Leeworth", "city": "Harrogate",
              "emailHash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
              "homeLatitude": 53.991357, "homeLongitude": -1.541771, "loyaltyTier": "diamond"}
    write_table(pd.DataFrame([person, {"customerId": "C-OK", "name": "Fine"}]), drop / "customers.csv")
    report = load_drop(drop)  # the default report folder: under the runs dir
    folder = Path(report["rejectsFile"]).parent
    assert folder.parent == runs
    assert report["entities"]["customers"]["rejectReasons"] == {"invalid_value": 1}

    rejects_file, report_file = folder / "rejects.jsonl", folder / "report.json"
    assert stat.S_IMODE(rejects_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o600
    text = rejects_file.read_text(encoding="utf-8")
    [reject] = _rejects(folder)
    assert reject["reason"] == "invalid_value" and "loyaltyTier" in reject["message"]
    assert reject["row"]["loyaltyTier"] == "diamond"  # what is not personal stays, to see why it failed
    for value in ("CUST-REJECTED-77", "Annabel", "Leeworth", "Harrogate", person["emailHash"], "53.991357",
                  "1.541771"):
        assert value not in text, value

    assert purge_person(["CUST-REJECTED-77"], [runs]) == 1
    assert rejects_file.read_text(encoding="utf-8") == ""


def test_files_without_a_header_free_text_properties_and_spaced_ids_leak_nothing_into_rejects(
        graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by an audit (stop 40): a customers file without its header line put names, e-mails and phone numbers
    in clear into the rejects (as column names and values), the report's ignored columns and the summary; a
    custom event's properties were kept in clear; a reject message quoted a spaced customer id in clear."""
    monkeypatch.delenv("CUSTOMER_GRAPH_REJECTS_REDACT", raising=False)
    drop, run = tmp_path / "drop", tmp_path / "run"
    drop.mkdir()
    (drop / "customers.csv").write_text("Jane Doe,jane.doe@example.com,+44 7700 900123\n"
                                        "John Roe,john.roe@example.com,+44 7700 900999\n", encoding="utf-8")
    write_table(pd.DataFrame([{"sessionId": "S1", "channel": "web", "startedAt": T0}]), drop / "sessions.csv")
    write_table(pd.DataFrame([{"eventId": "E1", "sessionId": "S1", "type": "custom", "name": "signup",
                               "at": "2031-01-01T00:00:00Z",
                               "properties": json.dumps({"email": "jane.doe@example.com"})}]), drop / "events.csv")
    write_table(pd.DataFrame([{"orderId": "O1", "line": 1, "placedAt": T0, "channel": "web", "sku": "NOPE",
                               "quantity": 1, "unitPrice": 1.0, "customerId": " CUST-SPACED-9"}]), drop / "orders.csv")
    report = load_drop(drop, LoadOptions(report_dir=run, max_reject_share=1.0))
    assert report["entities"]["customers"]["rejectReasons"] == {"unreadable": 1}
    assert report["ignoredColumns"] == {}
    text = (run / "rejects.jsonl").read_text(encoding="utf-8") + (run / "report.json").read_text(encoding="utf-8")
    for value in ("Jane", "John", "example.com", "7700", "CUST-SPACED-9"):
        assert value not in text, value


def test_a_person_erased_while_a_load_runs_is_erased_again_when_it_ends(graph, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Until stop 39 a load read the tombstones when it started: a person erased from another process while a
    nightly load ran was written back by the load's later rows (their sessions, searches, cookie, orders)."""
    runs = tmp_path / "runs"
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    _write_day1(day1)
    load_drop(day1, LoadOptions(report_dir=runs / "day1"))
    write_table(pd.DataFrame([{"customerId": "C2", "name": "Bob"},
                              {"customerId": ANN, "name": "Ann Again", "emailHash": ANN_EMAIL}]), day2 / "customers.csv")
    _write_browsing(day2, ann_cookie_when_logged_in=True)
    write_table(pd.DataFrame([
        {"orderId": "O-ANN", "line": 1, "placedAt": T0, "channel": "web", "sku": "P1", "quantity": 1,
         "unitPrice": 4.5, "customerId": ANN},
        {"orderId": "O-BAD", "line": 1, "placedAt": T0, "channel": "web", "sku": "P1", "quantity": "many",
         "unitPrice": 4.5, "customerId": ANN},  # a reject line naming the person, written after the erasure
    ]), day2 / "orders.csv")

    erase_while_loading(monkeypatch, runs, ANN, before="customers")  # the run read the tombstones when it started
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    report = load_drop(day2, LoadOptions(report_dir=runs / "day2", writers=1))

    assert report["erasedDuringRun"] == {"customers": 1, "identities": 0, "sessions": 0}  # their cookie with them
    assert run_query("MATCH (c:Customer) RETURN c.customerId AS id") == [{"id": "C2"}]
    keys = {r["k"] for r in run_query("MATCH (i:Identity) RETURN i.identityKey AS k")}
    assert not keys & {f"cookie:{ANN_COOKIE}", f"customer_ref:{ANN}", f"email_hash:{ANN_EMAIL}"}
    texts = run_query("MATCH (e:Event) OPTIONAL MATCH (e)-[:SEARCHED]->(q) "
                      "RETURN e.eventId AS id, e.query AS query, e.page AS page, q.text AS searched ORDER BY id")
    assert texts == [{"id": "E1", "query": None, "page": None, "searched": None},
                     {"id": "E2", "query": None, "page": "/account", "searched": None},
                     {"id": "E3", "query": "mugs", "page": None, "searched": "mugs"}]
    assert run_query("MATCH (s:Session)-[:IDENTIFIED_BY]->() RETURN collect(s.sessionId) AS s") == [{"s": ["WS-BOB"]}]
    assert run_query("MATCH (:Customer)-[:PLACED]->(o:Order {orderId: 'O-ANN'}) RETURN count(o) AS n") == [{"n": 0}]
    erasures = run_query("MATCH (a:AuditEntry {action: 'erase', subject: $s}) RETURN a.actor AS actor ORDER BY actor",
                         {"s": customer_hash(ANN)})
    assert erasures == [{"actor": "loader:day2"}, {"actor": "officer"}]
    text = (runs / "day2" / "rejects.jsonl").read_text(encoding="utf-8")
    assert ANN not in text and "many" not in text  # the run's own reject of the person went with the erasure
    # the report's later lines still land in the file the erasure rewrote
    assert Path(report["rejectsFile"]) == runs / "day2" / "rejects.jsonl"


def test_the_end_of_a_run_waits_for_an_erasure_in_flight(graph) -> None:
    """A run that asked before an erasure in flight committed would miss it: the erasure counts itself under a
    lock first, and the run's question waits for that lock."""
    from graph_model.connection import session
    from graph_model.privacy.tombstone import COUNT_ERASURE, tombstone_rows, write_tombstones

    before = execute_write(Tombstones.read)
    answers: list[Tombstones] = []
    with session() as s:
        tx = s.begin_transaction()
        tx.run(COUNT_ERASURE).consume()  # an erasure has started and not committed
        asking = threading.Thread(target=lambda: answers.append(execute_write(before.current)))
        asking.start()
        asking.join(1.5)
        assert asking.is_alive()  # waits: answering now would miss the erasure's tombstone
        write_tombstones(tx, tombstone_rows("GONE-1", []))
        tx.commit()
    asking.join(30)
    [after] = answers
    assert after.erasures == before.erasures + 1 and after.customer_erased("GONE-1")
    assert not before.customer_erased("GONE-1")
    assert after.current is not None and execute_write(after.current) is after  # nothing since: the same


def test_an_identifier_erased_while_a_load_runs_is_deleted_again_with_its_sessions_scrubbed(
        graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    _write_day1(day1)
    load_drop(day1, LoadOptions(report_dir=runs / "day1"))
    write_table(pd.DataFrame([
        {"sessionId": "WS-COOKIE", "channel": "web", "startedAt": T0, "cookie": ANN_COOKIE},
    ]), day2 / "sessions.csv")
    write_table(pd.DataFrame([
        {"eventId": "E2", "sessionId": "WS-COOKIE", "type": "page_view", "at": T0, "page": "/account?email=ann"},
    ]), day2 / "events.csv")
    erase_while_loading(monkeypatch, runs, ANN, before="sessions")
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    report = load_drop(day2, LoadOptions(report_dir=runs / "day2", writers=1))

    assert report["erasedDuringRun"] == {"customers": 0, "identities": 1, "sessions": 1}
    assert run_query("MATCH (i:Identity {identityKey: $k}) RETURN count(i) AS n", {"k": f"cookie:{ANN_COOKIE}"}) \
        == [{"n": 0}]
    assert run_query("MATCH (e:Event {eventId: 'E2'}) RETURN e.page AS page") == [{"page": "/account"}]
    assert execute_write(Tombstones.read).session_erased("WS-COOKIE")  # tonight's repeat of it stays anonymous
    assert run_query("MATCH (a:AuditEntry {action: 'erase', actor: 'loader:day2'}) RETURN a.detail AS d") == [
        {"d": "again after a run that wrote meanwhile: identities deleted=1 sessions scrubbed=1"}]


def test_a_load_that_fails_after_an_erasure_still_erases_again_what_it_wrote(graph, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    _write_day1(day1)
    load_drop(day1, LoadOptions(report_dir=runs / "day1"))
    write_table(pd.DataFrame([{"customerId": ANN, "name": "Ann Again", "emailHash": ANN_EMAIL}]),
                day2 / "customers.csv")
    write_table(pd.DataFrame([{"sessionId": "WS-ANN", "channel": "web", "startedAt": T0, "customerId": ANN}]),
                day2 / "sessions.csv")
    erase_while_loading(monkeypatch, runs, ANN, before="customers", fail_at="sessions",
                        failure=OSError("the export's disk went away"))
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    with pytest.raises(OSError, match="went away"):  # the run's own error, as it was
        load_drop(day2, LoadOptions(report_dir=runs / "day2", writers=1))
    assert run_query("MATCH (c:Customer) RETURN c.customerId AS id ORDER BY id") == [{"id": "C2"}]


def test_a_person_erased_while_a_load_runs_leaves_none_of_its_reject_lines(graph, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by an audit (stop 40): a person only in a run's rejects, erased while the run went on, kept their
    lines (the erasure missed the buffered ones, the run wrote later ones, and erasing again purged nothing)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    _write_day1(day1)
    load_drop(day1, LoadOptions(report_dir=runs / "day1"))
    order = {"line": 1, "placedAt": T0, "channel": "web", "quantity": 1, "unitPrice": 4.5, "customerId": ANN}
    write_table(pd.DataFrame([{**order, "orderId": "O-ANN-BAD", "sku": "NOPE"}]), day2 / "orders.csv")
    write_table(pd.DataFrame([{"sessionId": "WS-BOB", "channel": "web", "startedAt": T0, "customerId": "C2"}]),
                day2 / "sessions.csv")
    write_table(pd.DataFrame([{"eventId": "E1", "sessionId": "WS-BOB", "type": "page_view", "at": T0}]),
                day2 / "events.csv")
    write_table(pd.DataFrame([{"visitId": "V-ANN", "customerId": ANN, "storeId": "NO-STORE", "arrivedAt": T0,
                               "source": "purchase"}]), day2 / "visits.csv")
    erasures = erase_while_loading(monkeypatch, runs, ANN, before="events")  # after the order's reject, before the visit's
    report = load_drop(day2, LoadOptions(report_dir=runs / "day2", writers=1, max_reject_share=1.0))
    assert erasures[0].reject_lines_removed == 1  # the order's line, on disk when the erasure looked
    assert report["erasedDuringRun"] == {"rejectLines": 1}  # the visit's, written after it
    assert (runs / "day2" / "rejects.jsonl").read_text(encoding="utf-8") == ""

    # a line naming an erased person written by a run that read the tombstones before: erasing again purges it
    lines = (runs / "day1" / "rejects.jsonl")
    lines.write_text((runs / "day1" / "rejects.jsonl").read_text(encoding="utf-8") + json.dumps(
        {"row": {"customerId": value_token(ANN)}}) + "\n", encoding="utf-8")
    again = erase_customer(ANN, actor="officer", reject_roots=[runs])
    assert again.already_erased and again.reject_lines_removed == 1


def test_an_erased_id_spelled_another_way_is_still_erased(graph, tmp_path: Path) -> None:
    """Found by an audit (stop 40): after erasing `ZOË-1`, its decomposed spelling (E + a combining diaeresis, as
    some systems write it) loaded as a new customer; so did a spaced one through the API. Ids are read in
    composed form (NFC) and without surrounding whitespace, everywhere."""
    composed, decomposed = "ZO\u00cb-1", "ZOE\u0308-1"
    write_table(pd.DataFrame([{"customerId": composed, "name": "Zoë"}]), tmp_path / "day1" / "customers.csv")
    load_drop(tmp_path / "day1", LoadOptions(report_dir=tmp_path / "runs" / "day1"))
    erased = erase_customer(f" {decomposed}", actor="officer", reject_roots=[tmp_path / "runs"])  # as typed
    assert erased.found and erased.customer_id == composed
    write_table(pd.DataFrame([{"customerId": decomposed, "name": "Zoë"}, {"customerId": f" {composed} "},
                              {"customerId": f"{composed}\u200b"}]),  # a zero-width space: found by a re-audit
                tmp_path / "day2" / "customers.csv")
    report = load_drop(tmp_path / "day2", LoadOptions(report_dir=tmp_path / "runs" / "day2"))
    assert report["entities"]["customers"]["rejectReasons"] == {"erased": 3}
    assert run_query("MATCH (c:Customer) RETURN count(c) AS n") == [{"n": 0}]


def test_a_customer_erased_between_a_load_s_customers_and_sessions_leaves_no_identifier(
        graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by a re-audit (stop 40): erased after the run wrote their customer row and before their sessions,
    a customer's own `customer_ref:<id>` identifier (written by the session rows) stayed in the graph in clear."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    drop = tmp_path / "drop"
    write_table(pd.DataFrame([{"customerId": ANN, "name": "Ann"}, {"customerId": "C2", "name": "Bob"}]),
                drop / "customers.csv")
    write_table(pd.DataFrame([{"sessionId": "WS-ANN", "channel": "web", "startedAt": T0, "customerId": ANN}]),
                drop / "sessions.csv")
    erase_while_loading(monkeypatch, runs, ANN, before="sessions")
    report = load_drop(drop, LoadOptions(report_dir=runs / "day1", writers=1))
    assert report["erasedDuringRun"]["identities"] == 1
    keys = {r["k"] for r in run_query("MATCH (i:Identity) RETURN i.identityKey AS k")}
    assert keys == set()  # Bob has no session, so no identifier; Ann's own went with her
