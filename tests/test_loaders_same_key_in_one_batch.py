"""Rows of one node in one batch are judged one after the other, as in a file loaded row by row.

One Cypher statement judges all its rows against the graph as it was before the statement (an ``Eager``
between its reads and writes), so before :func:`graph_model.rounds.rounds` an older row after a newer one in
the same 5,000-row batch won: a customer's older name came back, and an old consent grant replayed after
the customer's withdrawal granted it again, with no audit entry for the withdrawal. Each file below holds
its rows in one batch. The stitching's claim step had the same shape: a cookie two customers logged in on in
one chunk of sessions identified both.
"""

from __future__ import annotations

from pathlib import Path

from graph_model.connection import run_query
from graph_model.rounds import rounds
from graph_model.settings import Settings
from loaders.identity import stitch_sessions
from loaders.pipeline import LoadOptions, load_drop

FILES = {
    "stores.csv": "storeId,name,latitude,longitude\nS1,Store,51.5,-0.1\n",
    "products.csv": "sku,name,updatedAt\nP1,New name,2026-11-02T00:00:00Z\nP1,Old name,2026-11-01T00:00:00Z\n",
    "stock.csv": "storeId,sku,quantity,updatedAt\nS1,P1,7,2026-11-02T00:00:00Z\nS1,P1,3,2026-11-01T00:00:00Z\n",
    "customers.csv": "customerId,name,updatedAt\nC1,New name,2026-11-02T00:00:00Z\nC1,Old name,2026-11-01T00:00:00Z\n"
                     "C2,Other,2026-11-01T00:00:00Z\n",
    "identifiers.csv": "customerId,type,value,seenAt\nC1,device_id,D1,2026-11-01T00:00:00Z\n"
                       "C2,device_id,D1,2026-11-02T00:00:00Z\n",
    # granted, withdrawn a day later, then the old grant replayed
    "consents.csv": "customerId,channel,purpose,granted,updatedAt\n"
                    "C1,email,marketing,true,2026-11-01T00:00:00Z\n"
                    "C1,email,marketing,false,2026-11-02T00:00:00Z\n"
                    "C1,email,marketing,true,2026-11-01T00:00:00Z\n",
}


def test_rounds_keep_each_keys_rows_in_order() -> None:
    assert rounds(["a", "b", "a", "c", "a"]) == [[0, 1, 3], [2], [4]]
    assert rounds(["a", None, "a", None]) == [[0, 1, 3], [2]]
    assert rounds([]) == []


def test_an_older_row_after_a_newer_one_in_one_batch_changes_nothing(graph: Settings, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for name, text in FILES.items():
        (drop / name).write_text(text)
    report = load_drop(drop, LoadOptions(report_dir=tmp_path / "run", progress=False))
    assert report["totals"]["rejected"] == 0
    assert run_query("MATCH (c:Customer {customerId: 'C1'}) RETURN c.name AS n")[0]["n"] == "New name"
    assert run_query("MATCH (p:Product {sku: 'P1'}) RETURN p.name AS n")[0]["n"] == "New name"
    assert run_query("MATCH (:Store)-[k:STOCKS]->(:Product) RETURN k.quantity AS n")[0]["n"] == 7
    # the identifier moved to C2 by the later row: it identifies one customer
    assert run_query("MATCH (:Identity {identityKey: 'device_id:D1'})-[:IDENTIFIES]->(c) "
                     "RETURN collect(c.customerId) AS c")[0]["c"] == ["C2"]
    consent = run_query("MATCH (k:Consent {consentId: 'C1|email|marketing'}) RETURN k.granted AS granted, "
                        "toString(k.updatedAt) AS at")[0]
    assert consent == {"granted": False, "at": "2026-11-02T00:00:00Z"}
    # audited: the record created, then turned over; the replay changed nothing
    details = sorted(r["d"] for r in run_query("MATCH (a:AuditEntry {action: 'consent'}) RETURN a.detail AS d"))
    assert details == ["channel=email purpose=marketing granted=false", "channel=email purpose=marketing granted=true"]


def test_a_cookie_two_customers_logged_in_on_identifies_the_first(graph: Settings, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "customers.csv").write_text("customerId,name\nC1,A\nC2,B\n")
    (drop / "sessions.csv").write_text("sessionId,channel,startedAt,customerId,cookie\n"
                                       "S1,web,2026-11-01T10:00:00Z,C1,K\nS2,web,2026-11-01T11:00:00Z,C2,K\n"
                                       "S3,web,2026-11-01T12:00:00Z,,K\n")
    load_drop(drop, LoadOptions(report_dir=tmp_path / "run", progress=False))
    owners = run_query("MATCH (:Identity {identityKey: 'cookie:K'})-[:IDENTIFIES]->(c) RETURN collect(c.customerId) AS c")
    sessions = run_query("MATCH (c:Customer)-[:HAD_SESSION]->(s) RETURN c.customerId AS c, s.sessionId AS s ORDER BY s")
    assert (owners, sessions) == ([{"c": ["C1"]}], [{"c": "C1", "s": "S1"}, {"c": "C2", "s": "S2"}, {"c": "C1", "s": "S3"}])


def test_stitching_gives_a_cookie_two_customers_logged_in_on_to_the_first(graph: Settings) -> None:
    """The stitching of the bulk import and of identifiers files: one chunk, two customers' sessions on one
    cookie; the first session's customer claims it, the anonymous session joins that customer."""
    run_query("""CREATE (c1:Customer {customerId: 'C1'}), (c2:Customer {customerId: 'C2'}),
                        (k:Identity {identityKey: 'cookie:K', type: 'cookie', value: 'K'}),
                        (s1:Session {sessionId: 'S1', startedAt: datetime('2026-11-01T10:00:00Z')}),
                        (s2:Session {sessionId: 'S2', startedAt: datetime('2026-11-01T11:00:00Z')}),
                        (s3:Session {sessionId: 'S3', startedAt: datetime('2026-11-01T12:00:00Z')}),
                        (c1)-[:HAD_SESSION]->(s1), (c2)-[:HAD_SESSION]->(s2),
                        (s1)-[:IDENTIFIED_BY]->(k), (s2)-[:IDENTIFIED_BY]->(k), (s3)-[:IDENTIFIED_BY]->(k)""")
    assert stitch_sessions(["S1", "S2", "S3"]) == {"sessionsStitched": 1}
    owners = run_query("MATCH (:Identity {identityKey: 'cookie:K'})-[:IDENTIFIES]->(c) RETURN collect(c.customerId) AS c")
    assert owners == [{"c": ["C1"]}]
    assert run_query("MATCH (c:Customer)-[:HAD_SESSION]->(:Session {sessionId: 'S3'}) RETURN c.customerId AS c") == [
        {"c": "C1"}]
