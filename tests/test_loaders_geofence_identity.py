"""Location pings become store visits; identifiers stitch anonymous sessions, cards and devices to customers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from graph_model.connection import run_query
from loaders.exports import write_table
from loaders.geofence import GeofenceConfig, visit_id, visits_from_pings
from loaders.pipeline import LoadOptions, load_drop

STORE = ("S1", 53.8000, -1.5500)
H1 = "0b9f7b6731535f033fb4bea21042d7f999100eaf17d8c19eedeef94d5f8a7cde"  # C1's e-mail hash
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _ping(customer: str, minutes: float, lat: float = STORE[1], lon: float = STORE[2]) -> dict:
    return {"customerId": customer, "latitude": lat, "longitude": lon, "at": T0 + timedelta(minutes=minutes)}


def test_visits_from_pings_needs_radius_dwell_and_no_long_gap() -> None:
    near = STORE[1] + 0.0005  # ~55 m north
    far = STORE[1] + 0.0030  # ~330 m north
    pings = [
        _ping("A", 0, far), *[_ping("A", m, near) for m in (2, 5, 9, 14)], _ping("A", 16, far),  # 12 min at S1
        *[_ping("B", m) for m in (0, 3)],  # 3 minutes: too short
        _ping("C", 0), _ping("C", 40), _ping("C", 44),  # a 40 minute gap splits the stay: 0 and 4 minutes
        *[_ping("D", m, far) for m in range(0, 30, 3)],  # never inside the radius
    ]
    key = b"k" * 32
    visits = visits_from_pings(pings[::-1], [STORE], GeofenceConfig(radius_m=100, min_dwell_minutes=5,
                                                                      max_gap_minutes=15), key=key)
    assert [(v["customerId"], v["storeId"], v["dwellMinutes"], v["pings"]) for v in visits] == [("A", "S1", 12.0, 4)]
    assert visits[0]["arrivedAt"] == T0 + timedelta(minutes=2)
    # stable across runs, and naming no customer: ping: + 24 hex digits of a keyed hash
    assert visits[0]["visitId"] == visit_id("A", "S1", T0 + timedelta(minutes=2), key=key)
    assert visits[0]["visitId"] != visit_id("B", "S1", T0 + timedelta(minutes=2), key=key)
    assert visits[0]["visitId"].startswith("ping:") and len(visits[0]["visitId"]) == 29
    assert int(visits[0]["visitId"][5:], 16) >= 0 and ":A:" not in visits[0]["visitId"]
    wider = visits_from_pings(pings, [STORE], GeofenceConfig(radius_m=400, min_dwell_minutes=5))
    assert {v["customerId"] for v in wider} == {"A", "D"}


def test_pings_become_visits_and_unknown_customers_are_rejected(graph, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    write_table(pd.DataFrame([{"storeId": "S1", "name": "Leeds", "latitude": STORE[1], "longitude": STORE[2]}]),
                drop / "stores.csv")
    write_table(pd.DataFrame([{"customerId": "C1"}]), drop / "customers.csv")
    write_table(pd.DataFrame([{"customerId": "C1", "channel": "app", "purpose": "location", "granted": True,
                               "updatedAt": "2026-10-01T00:00:00Z"}]), drop / "consents.csv")
    pings = [_ping("C1", m, STORE[1] + 0.0002) for m in range(0, 21, 4)] + [_ping("GHOST", 0), _ping("GHOST", 10)]
    write_table(pd.DataFrame(pings), drop / "pings.parquet")
    report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run"))
    stats = report["entities"]["pings"]
    assert (stats["read"], stats["loaded"], stats["rejected"]) == (8, 6, 2)
    assert stats["rejectReasons"] == {"unknown_customer": 2} and stats["visitsFromPings"] == 1
    visit = run_query("MATCH (:Customer {customerId: 'C1'})-[m:MADE_VISIT]->(v:Visit)-[:TO_STORE]->(s:Store) "
                      "RETURN v.source AS source, v.dwellMinutes AS dwell, s.storeId AS store, m.at = v.arrivedAt AS ok")
    assert visit == [{"source": "location_ping", "dwell": 20.0, "store": "S1", "ok": True}]
    ids = run_query("MATCH (v:Visit) RETURN v.visitId AS id")
    assert ids[0]["id"].startswith("ping:") and "C1" not in ids[0]["id"]
    load_drop(drop, LoadOptions(report_dir=tmp_path / "run2"))
    assert run_query("MATCH (v:Visit) RETURN v.visitId AS id") == ids  # the same visit, not a second one


def test_an_anonymous_session_joins_the_customer_who_later_logs_in(graph, tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    write_table(pd.DataFrame([{"storeId": "S1", "name": "Leeds", "latitude": STORE[1], "longitude": STORE[2]}]),
                day1 / "stores.csv")
    write_table(pd.DataFrame([{"customerId": "C1", "emailHash": H1}, {"customerId": "C2"}]), day1 / "customers.csv")
    write_table(pd.DataFrame([
        {"customerId": "C2", "type": "device_id", "value": "DEV-2", "seenAt": "2026-10-01T00:00:00Z"},
        {"customerId": "C2", "type": "loyalty_card", "value": "CARD-2", "seenAt": "2026-10-01T00:00:00Z"},
    ]), day1 / "identifiers.csv")
    write_table(pd.DataFrame([
        {"sessionId": "ANON", "channel": "web", "startedAt": "2026-11-01T09:00:00Z", "cookie": "K1"},
        {"sessionId": "APP", "channel": "app", "startedAt": "2026-11-01T09:30:00Z", "deviceId": "DEV-2"},
    ]), day1 / "sessions.csv")
    write_table(pd.DataFrame([{"scanId": "L1", "loyaltyCard": "CARD-2", "storeId": "S1",
                               "at": "2026-11-01T12:00:00Z"}]), day1 / "loyalty_scans.csv")
    load_drop(day1, LoadOptions(report_dir=tmp_path / "run1"))
    owner = "MATCH (c:Customer)-[h:HAD_SESSION]->(:Session {sessionId: $s}) RETURN c.customerId AS c, h.at AS at"
    assert run_query(owner, {"s": "ANON"}) == []
    assert run_query(owner, {"s": "APP"})[0]["c"] == "C2"  # a known device resolves at once
    assert run_query("MATCH (:Identity {identityKey: 'email_hash:' + $h})-[:IDENTIFIES]->(c) RETURN c.customerId AS c",
                     {"h": H1}) \
        == [{"c": "C1"}]
    assert run_query("MATCH (c:Customer)-[:MADE_VISIT]->(:Visit {source: 'loyalty_scan'}) RETURN c.customerId AS c") \
        == [{"c": "C2"}]

    write_table(pd.DataFrame([{"sessionId": "LOGIN", "channel": "web", "startedAt": "2026-11-02T18:00:00Z",
                               "cookie": "K1", "customerId": "C1"}]), day2 / "sessions.csv")
    report = load_drop(day2, LoadOptions(report_dir=tmp_path / "run2"))
    assert report["entities"]["sessions"]["sessionsStitched"] == 1
    anon = run_query(owner, {"s": "ANON"})
    assert anon[0]["c"] == "C1" and anon[0]["at"].to_native() == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    link = run_query("MATCH (a:Identity)-[l:LINKED_TO]->(b:Identity) RETURN a.identityKey AS a, b.identityKey AS b, "
                     "l.origin AS origin")
    assert link == [{"a": "cookie:K1", "b": "customer_ref:C1", "origin": "login"}]
    cookie = run_query("MATCH (:Identity {identityKey: 'cookie:K1'})-[x:IDENTIFIES]->(c) RETURN c.customerId AS c")
    assert cookie == [{"c": "C1"}]
    history = run_query("MATCH (:Customer {customerId: 'C1'})-[:HAD_SESSION]->(s) RETURN s.sessionId AS s ORDER BY s")
    assert [r["s"] for r in history] == ["ANON", "LOGIN"]


def test_the_sessions_writer_follows_up_only_identifiers_that_other_sessions_share(graph) -> None:
    """The backfill after a sessions file looks at the anonymous rows' identifiers and at those of the logged-in
    rows that another session shows (the writer reports them): here the cookie of an earlier anonymous
    session, not the new cookie nor the customers' own references."""
    from graph_model.connection import execute_write
    from loaders.entities import SPECS
    from loaders.writers.sessions import write_sessions

    spec = SPECS["sessions"]

    def rows(*raws: dict[str, str]) -> list[dict]:
        return [spec.params(spec.schema.model_validate({"channel": "web", **raw})) for raw in raws]

    run_query("CREATE (:Customer {customerId: 'C1'}), (:Customer {customerId: 'C2'})")
    earlier = execute_write(write_sessions, rows({"sessionId": "A0", "startedAt": "2026-11-01T09:00:00Z",
                                                  "cookie": "K0"}))
    assert earlier.follow_up == []  # an anonymous row: the pipeline itself follows up its identifiers
    later = execute_write(write_sessions, rows(
        {"sessionId": "L1", "startedAt": "2026-11-02T09:00:00Z", "cookie": "K0", "customerId": "C1"},
        {"sessionId": "L2", "startedAt": "2026-11-02T10:00:00Z", "cookie": "K2", "customerId": "C2"}))
    assert later.follow_up == ["cookie:K0"]


def test_a_claim_holds_the_identifier_until_its_transaction_ends(graph) -> None:
    """``CLAIM_IDENTIFIER`` looks at the identifier's claims, then creates one: it takes the identifier's write
    lock first, so another writer cannot claim the same identifier for someone else in between."""
    import neo4j

    from graph_model.connection import get_driver
    from loaders.identity import CLAIM_IDENTIFIER

    run_query("""CREATE (:Customer {customerId: 'C1'})-[:HAD_SESSION]->(s:Session {sessionId: 'S1',
                 startedAt: datetime('2026-11-01T09:00:00Z')})-[:IDENTIFIED_BY]->(:Identity {identityKey: 'cookie:K1'})""")
    claim = ("MATCH (c:Customer {customerId: 'C1'})-[:HAD_SESSION]->(s:Session)-[:IDENTIFIED_BY]->(i:Identity) "
             "CALL (c, s, i) {" + CLAIM_IDENTIFIER + "}")
    driver = get_driver()
    with driver.session() as first, driver.session() as second:
        claiming = first.begin_transaction()
        claiming.run(claim).consume()
        other = second.begin_transaction(timeout=1.0)
        try:
            with pytest.raises(neo4j.exceptions.Neo4jError):  # waits for the claim's lock until its timeout
                other.run("MATCH (i:Identity {identityKey: 'cookie:K1'}) SET i.probe = 1").consume()
        finally:
            other.close()
            claiming.commit()
    assert run_query("MATCH (:Identity)-[x:IDENTIFIES]->(c:Customer) RETURN c.customerId AS c, x.at AS at") \
        == [{"c": "C1", "at": run_query("MATCH (s:Session) RETURN s.startedAt AS at")[0]["at"]}]
