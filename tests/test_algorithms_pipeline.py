"""The pipeline against a real Neo4j: a tiny graph with known answers, results read back with plain Cypher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from algorithms.run import AlgorithmsError, parse_only, run_all
from graph_model import connection
from graph_model.connection import run_query
from graph_model.database import clear_graph

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)

PRODUCTS = {f"P{i}": name for i, name in enumerate(
    ["", "RED TEAPOT", "TEA CUPS", "SUGAR BOWL", "MILK JUG", "BISCUIT TIN", "LAMP", "LAMP SHADE", "BULB", "CANDLE"])
    if i}

# (order, customer, days before NOW, store, products)
ORDERS = [
    ("O1", "C1", 200, None, ["P1", "P2", "P3"]),
    ("O2", "C2", 150, "S1", ["P1", "P2"]),
    ("O3", "C3", 120, None, ["P1", "P2", "P4"]),
    ("O4", "C4", 100, "S1", ["P3", "P5"]),
    ("O5", "C4", 10, None, ["P1", "P2"]),
    ("O6", "C3", 5, "S2", ["P5", "P9"]),
    ("O7", "C5", 60, None, ["P6", "P7"]),
    ("O8", "C6", 60, None, ["P6", "P7"]),
    ("O9", "C5", 3, None, ["P9"]),
    ("O10", "C6", 3, None, ["P9"]),
    ("O11", "C2", 20, None, ["P4", "P3"]),
    ("O12", "C1", 2, "S1", ["P9", "P5"]),
]
# (session, customer, days before NOW, viewed products)
SESSIONS = [
    ("S-1", "C1", 30, ["P8", "P6"]),
    ("S-2", "C2", 25, ["P8", "P6"]),
    ("S-3", "C5", 15, ["P8", "P6"]),
]
CUSTOMERS = ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]

SETUP = [
    ("UNWIND $rows AS r CREATE (:Product {sku: r.sku, name: r.name, price: 5.0})",
     lambda: [{"sku": s, "name": n} for s, n in PRODUCTS.items()]),
    ("UNWIND $rows AS r CREATE (:Store {storeId: r, name: 'Store ' + r, location: point({longitude: 0, latitude: 51})})",
     lambda: ["S1", "S2"]),
    ("UNWIND $rows AS r CREATE (:Customer {customerId: r})", lambda: CUSTOMERS),
    ("MATCH (c:Customer {customerId: 'C7'}), (s:Store {storeId: 'S1'}) CREATE (c)-[:HOME_STORE]->(s)", lambda: []),
    ("""UNWIND $rows AS r MATCH (c:Customer {customerId: r.c})
        CREATE (c)-[:PLACED {at: r.at}]->(o:Order {orderId: r.o, channel: 'web', placedAt: r.at, cancelled: false})
        WITH o, r UNWIND range(0, size(r.p) - 1) AS i MATCH (p:Product {sku: r.p[i]})
        CREATE (o)-[:INCLUDES {line: i + 1, quantity: 1, unitPrice: 5.0}]->(p)""",
     lambda: [{"o": o, "c": c, "at": NOW - timedelta(days=d), "p": p} for o, c, d, _, p in ORDERS]),
    ("UNWIND $rows AS r MATCH (o:Order {orderId: r.o}), (s:Store {storeId: r.s}) CREATE (o)-[:AT_STORE]->(s)",
     lambda: [{"o": o, "s": s} for o, _, _, s, _ in ORDERS if s]),
    ("""UNWIND $rows AS r MATCH (c:Customer {customerId: r.c})
        CREATE (c)-[:HAD_SESSION {at: r.at}]->(s:Session {sessionId: r.s, channel: 'web', startedAt: r.at})
        WITH s, r UNWIND range(0, size(r.p) - 1) AS i MATCH (p:Product {sku: r.p[i]})
        CREATE (s)-[:CONTAINS {at: r.at}]->(e:Event {eventId: r.s + '-' + i, type: 'product_view', at: r.at})
               -[:ABOUT_PRODUCT {at: r.at}]->(p)""",
     lambda: [{"s": s, "c": c, "at": NOW - timedelta(days=d), "p": p} for s, c, d, p in SESSIONS]),
    ("""MATCH (c:Customer {customerId: 'C4'}), (s:Store {storeId: 'S2'})
        CREATE (c)-[:MADE_VISIT {at: $at}]->(:Visit {visitId: 'V1', arrivedAt: $at, source: 'location_ping'})
               -[:TO_STORE]->(s)""", lambda: []),
]


def build_tiny_graph() -> None:
    for statement, rows in SETUP:
        run_query(statement, {"rows": rows(), "at": NOW - timedelta(days=40)})


def current_runs() -> dict[str, str]:
    """The current run's id of each algorithm family."""
    rows = run_query("MATCH (r:AlgorithmRun {status: 'current'}) RETURN r.family AS family, r.runId AS id")
    return {row["family"]: row["id"] for row in rows}


def counts() -> dict[str, int]:
    out = {}
    for rel in ("AFFINITY", "SIMILAR_TO", "RECOMMENDED", "IN_SEGMENT", "POPULAR_AT", "POPULAR_IN"):
        out[rel] = run_query(f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")[0]["n"]
    out["Segment"] = run_query("MATCH (s:Segment) RETURN count(s) AS n")[0]["n"]
    out["AlgorithmRun"] = run_query("MATCH (r:AlgorithmRun) RETURN count(r) AS n")[0]["n"]
    out["churn"] = run_query("MATCH (c:Customer) WHERE c.churnRisk IS NOT NULL RETURN count(c) AS n")[0]["n"]
    return out


@pytest.fixture(scope="module")
def computed(neo4j_settings):
    """The tiny graph after one full run; computed once for this module (tests that rerun come last and
    leave the current results equivalent)."""
    connection.configure(neo4j_settings)
    clear_graph()
    build_tiny_graph()
    return run_all()


def test_run_writes_every_family_as_current(computed):
    rows = run_query("MATCH (r:AlgorithmRun) RETURN r.family AS family, r.status AS status, r.runId AS runId")
    assert sorted(r["family"] for r in rows) == sorted(["affinity", "similarity", "segments", "retention", "trends",
                                                         "recommend"])
    assert {r["status"] for r in rows} == {"current"}
    assert set(computed["runs"].values()) == {r["runId"] for r in rows}


def test_always_bought_together_is_top_affinity(computed):
    rows = run_query("""
        MATCH (run:AlgorithmRun {family: 'affinity', status: 'current'})
        MATCH (:Product {sku: 'P1'})-[a:AFFINITY {kind: 'bought_together', rank: 1}]->(p:Product)
        WHERE a.version = run.runId
        RETURN p.sku AS sku, a.confidence AS confidence, a.support AS support, a.lift AS lift, a.score AS score""")
    assert rows == [{"sku": "P2", "confidence": 1.0, "support": 4 / 12, "lift": 3.0, "score": pytest.approx(1.0)}]
    viewed = run_query("""MATCH (:Product {sku: 'P8'})-[a:AFFINITY {kind: 'viewed_together', rank: 1}]->(p)
                          RETURN p.sku AS sku""")
    assert viewed == [{"sku": "P6"}]


def test_identical_histories_are_most_similar(computed):
    rows = run_query("""
        MATCH (run:AlgorithmRun {family: 'similarity', status: 'current'})
        MATCH (a:Customer)-[s:SIMILAR_TO {rank: 1}]->(b:Customer)
        WHERE a.customerId IN ['C5', 'C6'] AND s.version = run.runId
        RETURN a.customerId AS a, b.customerId AS b, s.score AS score ORDER BY a""")
    assert [(r["a"], r["b"]) for r in rows] == [("C5", "C6"), ("C6", "C5")]
    # C5 also viewed products, so not exactly 1, but the best there is
    assert all(r["score"] > 0.5 for r in rows)


def test_bought_products_are_never_recommended(computed):
    assert run_query("MATCH ()-[r:RECOMMENDED]->() RETURN count(r) AS n")[0]["n"] > 0
    leaks = run_query("""MATCH (c:Customer)-[:RECOMMENDED]->(p:Product)
                         WHERE EXISTS { (c)-[:PLACED]->(:Order)-[:INCLUDES]->(p) } RETURN c.customerId, p.sku""")
    assert leaks == []


def test_recommendation_for_teapot_buyer_explains_with_real_nodes(computed):
    # C4 bought P1 (teapot) and P2 (cups) 10 days ago, and P3, P5; P4 is often bought with them
    rows = run_query("""
        MATCH (run:AlgorithmRun {family: 'recommend', status: 'current'})
        MATCH (c:Customer {customerId: 'C4'})-[r:RECOMMENDED]->(p:Product) WHERE r.version = run.runId
        RETURN p.sku AS sku, r.rank AS rank, r.reason AS reason, r.evidence AS evidence, r.score AS score
        ORDER BY r.rank""")
    assert rows and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["score"] >= rows[-1]["score"]
    for row in rows:
        for code in row["evidence"]:
            kind, _, key = code.partition(":")
            if kind == "affinity":
                # the product named as evidence is one C4 really bought or viewed, and the reason names it
                assert run_query("""MATCH (c:Customer {customerId: 'C4'}), (p:Product {sku: $sku})
                                    RETURN EXISTS { (c)-[:PLACED]->()-[:INCLUDES]->(p) } AS bought,
                                           p.name AS name""", {"sku": key})[0]["bought"]
            elif kind == "similar_shoppers":  # how many similar shoppers bought it, never who
                assert 1 <= int(key) <= 10
            else:
                assert code == "popular"
    item_reasons = [r for r in rows if r["reason"].startswith("often bought with")]
    assert item_reasons
    reason = item_reasons[0]
    sku = next(code.split(":", 1)[1] for code in reason["evidence"] if code.startswith("affinity:"))
    assert PRODUCTS[sku] in reason["reason"]
    bought_on = run_query("""MATCH (:Customer {customerId: 'C4'})-[:PLACED]->(o)-[:INCLUDES]->(:Product {sku: $sku})
                             RETURN max(o.placedAt) AS at""", {"sku": sku})[0]["at"]
    assert bought_on.to_native().strftime("%Y-%m-%d") in reason["reason"]


def test_customer_without_history_gets_the_fallback(computed):
    assert run_query("MATCH (:Customer {customerId: 'C7'})-[r:RECOMMENDED]->() RETURN count(r) AS n")[0]["n"] == 0
    fallback = run_query("""
        MATCH (c:Customer {customerId: 'C7'})-[:HOME_STORE]->(s:Store)
        MATCH (run:AlgorithmRun {family: 'trends', status: 'current'})
        MATCH (s)-[r:POPULAR_AT]->(p:Product) WHERE r.version = run.runId
        RETURN p.sku AS sku, r.rank AS rank ORDER BY r.rank""")
    assert fallback and fallback[0]["rank"] == 1
    trending = run_query("MATCH (p:Product) WHERE p.trendRank = 1 RETURN p.sku AS sku")
    assert trending == [{"sku": "P9"}]  # bought by four customers in the last weeks, never before


def test_segments_retention_and_rfm_are_visible(computed):
    segs = run_query("""
        MATCH (run:AlgorithmRun {family: 'segments', status: 'current'})
        MATCH (s:Segment) WHERE s.version = run.runId
        RETURN s.kind AS kind, s.name AS name, s.description AS description, s.size AS size,
               COUNT { (:Customer)-[:IN_SEGMENT {version: run.runId}]->(s) } AS members""")
    assert {s["kind"] for s in segs} == {"rfm"} | ({"community"} if any(s["kind"] == "community" for s in segs)
                                                   else set())
    assert all(s["size"] == s["members"] and s["description"] for s in segs)
    assert sum(s["size"] for s in segs if s["kind"] == "rfm") == 6
    rows = run_query("""MATCH (c:Customer) WHERE c.customerId <> 'C7'
                        RETURN c.customerId AS id, c.rfmScore AS score, c.rfmSegment AS segment, c.churnRisk AS churn,
                               c.pAlive AS alive, c.expectedPurchases90d AS expected, c.retentionModel AS model
                        ORDER BY id""")
    for row in rows:
        assert len(row["score"]) == 3 and row["segment"]
        assert 0.0 <= row["churn"] <= 1.0 and 0.0 <= row["alive"] <= 1.0
        assert row["expected"] >= 0 and row["model"] == "paretonbd"
    [run] = run_query("""MATCH (r:AlgorithmRun {family: 'retention', status: 'current'})
                         RETURN r.model AS model, r.fit AS fit, r.logLikelihood AS ll""")
    assert run["model"] == "paretonbd" and run["fit"].startswith("r=") and " beta=" in run["fit"] and run["ll"] < 0
    [recommend] = run_query("""MATCH (r:AlgorithmRun {family: 'recommend', status: 'current'})
                               RETURN r.buyAgainModel AS model, r.buyAgainTrainingPairs AS pairs""")
    assert recommend["model"] in ("gradient-boosted", "share of days") and recommend["pairs"] >= 0


def test_rerun_is_idempotent_and_leaves_no_superseded_results(computed):
    first = counts()
    run_all()
    second = counts()
    assert second == first
    stale = run_query("""
        MATCH ()-[r]->() WHERE r.version IS NOT NULL
        AND NOT EXISTS { MATCH (run:AlgorithmRun {status: 'current'}) WHERE run.runId = r.version }
        RETURN type(r) AS type, count(*) AS n""")
    assert stale == []
    assert run_query("MATCH (r:AlgorithmRun) WHERE r.status <> 'current' RETURN count(r) AS n")[0]["n"] == 0


def test_only_one_family(computed):
    before = run_query("MATCH (r:AlgorithmRun) RETURN r.family AS f, r.runId AS id")
    run_all("affinities")
    after = run_query("MATCH (r:AlgorithmRun) RETURN r.family AS f, r.runId AS id")
    changed = {a["f"] for a in after if a not in before}
    assert changed == {"affinity"}
    with pytest.raises(AlgorithmsError):
        parse_only("affinity,nonsense")


def test_failed_run_keeps_the_current_results_and_leaves_nothing_behind(computed):
    from algorithms import writeback

    before = counts()
    current = run_query("MATCH (r:AlgorithmRun {family: 'affinity', status: 'current'}) RETURN r.runId AS id")
    with pytest.raises(RuntimeError), writeback.versioned_run("affinity") as run_id:
        writeback.write_affinity([{"source": "P1", "target": "P9", "kind": "bought_together", "score": 1.0,
                                   "lift": 1.0, "support": 1.0, "confidence": 1.0, "rank": 1}], run_id)
        raise RuntimeError("boom")
    assert counts() == before
    assert run_query("MATCH (r:AlgorithmRun {family: 'affinity'}) RETURN r.runId AS id") == current


def test_cli_runs_and_prints_a_summary(computed):
    from click.testing import CliRunner

    from customer_graph.cli import cli

    result = CliRunner().invoke(cli, ["algorithms", "run", "--only", "affinity,trends"])
    assert result.exit_code == 0, result.output
    assert "summary:" in result.output and "AFFINITY" in result.output and "POPULAR_AT" in result.output
    assert "recommend" not in result.output.split("summary:")[1]


def test_a_failed_write_stops_the_writes_queued_after_it(computed, monkeypatch):
    from algorithms import writeback

    before, counted = current_runs(), counts()

    def broken(rows, version):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writeback, "write_similarity", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_all()
    after = current_runs()
    assert after["affinity"] != before["affinity"]  # queued before the failure: written and switched
    for family in ("similarity", "recommend", "segments", "retention", "trends"):  # failed, or never run
        assert after[family] == before[family]
    assert counts() == counted
    assert run_query("MATCH (r:AlgorithmRun) WHERE r.status <> 'current' RETURN count(r) AS n")[0]["n"] == 0


def test_a_failed_buy_again_computation_fails_the_recommend_run_written_meanwhile(computed, monkeypatch):
    from algorithms import run

    before, counted = current_runs(), counts()
    recommended = run_query("MATCH (c)-[r:RECOMMENDED]->(p) RETURN c.customerId AS c, p.sku AS p, r.version AS v "
                            "ORDER BY c, p")

    def broken(data, params):
        raise RuntimeError("model diverged")

    monkeypatch.setattr(run, "compute_buy_again", broken)
    with pytest.raises(RuntimeError, match="model diverged"):
        run_all()
    after = current_runs()
    assert after["affinity"] != before["affinity"] and after["similarity"] != before["similarity"]
    for family in ("recommend", "segments", "retention", "trends"):  # failed (its RECOMMENDED deleted), or never run
        assert after[family] == before[family]
    assert counts() == counted
    assert run_query("MATCH (c)-[r:RECOMMENDED]->(p) RETURN c.customerId AS c, p.sku AS p, r.version AS v "
                     "ORDER BY c, p") == recommended
    assert run_query("MATCH (r:AlgorithmRun) WHERE r.status <> 'current' RETURN count(r) AS n")[0]["n"] == 0
