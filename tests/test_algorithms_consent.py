"""The algorithms obey the consent policy, against a real Neo4j (issue 15).

The tiny graph of ``test_algorithms_pipeline``; a consent is withdrawn by writing the ``Consent`` node the
loaders write, then the algorithms run again and the results are read back with plain Cypher. Each test
removes its consent records at the end, so every test starts from the inputs of the first run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_algorithms_pipeline import build_tiny_graph

from algorithms.run import run_all
from graph_model import connection
from graph_model.connection import run_query
from graph_model.database import clear_graph
from graph_model.privacy.policy import GDPR_DEFAULTS, ConsentPolicy, set_policy

CONSENT = """
MATCH (c:Customer {customerId: $id})
MERGE (k:Consent {consentId: $id + '|web|' + $purpose})
SET k.channel = 'web', k.purpose = $purpose, k.granted = $granted, k.updatedAt = datetime()
MERGE (c)-[:HAS_CONSENT]->(k)
"""


def consent(customer_id: str, purpose: str, granted: bool = False) -> None:
    run_query(CONSENT, {"id": customer_id, "purpose": purpose, "granted": granted})


def current(query: str, family: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of ``query`` where ``r`` is a result of the current run of ``family``."""
    return run_query(f"MATCH (run:AlgorithmRun {{family: '{family}', status: 'current'}}) {query}",
                     {"family": family, **params})


def affinities() -> list[tuple]:
    rows = current("""MATCH (a:Product)-[r:AFFINITY]->(b:Product) WHERE r.version = run.runId
                      RETURN a.sku AS a, b.sku AS b, r.kind AS kind, r.rank AS rank, r.score AS score,
                             r.support AS support, r.confidence AS confidence, r.lift AS lift""", "affinity")
    return sorted(tuple(row.values()) for row in rows)


def recommended() -> set[str]:
    rows = current("""MATCH (c:Customer)-[r:RECOMMENDED]->() WHERE r.version = run.runId
                      RETURN DISTINCT c.customerId AS id""", "recommend")
    return {row["id"] for row in rows}


def similar_pairs() -> set[tuple[str, str]]:
    rows = current("""MATCH (a:Customer)-[r:SIMILAR_TO]->(b:Customer) WHERE r.version = run.runId
                      RETURN a.customerId AS a, b.customerId AS b""", "similarity")
    return {(row["a"], row["b"]) for row in rows}


def evidence() -> list[str]:
    rows = run_query("MATCH ()-[r:RECOMMENDED]->() UNWIND r.evidence AS code RETURN code")
    return [row["code"] for row in rows]


def profile(customer_id: str) -> dict[str, Any]:
    return run_query("""MATCH (c:Customer {customerId: $id})
                        RETURN COUNT { (c)-[:IN_SEGMENT]->() } AS segments, c.churnRisk AS churnRisk,
                               c.pAlive AS pAlive, c.expectedPurchases90d AS expected, c.retentionModel AS model,
                               c.pastValue AS pastValue, c.atStake AS atStake,
                               c.retentionVersion AS retentionVersion, c.rfmScore AS rfmScore,
                               c.rfmSegment AS rfmSegment""", {"id": customer_id})[0]


def popularity() -> dict[str, int]:
    return {row["sku"]: row["n"] for row in run_query("MATCH (p:Product) RETURN p.sku AS sku, p.popularity AS n")}


@pytest.fixture(scope="module")
def baseline(neo4j_settings) -> dict[str, Any]:
    """The tiny graph after one full run with everyone's consent at the defaults."""
    connection.configure(neo4j_settings)
    set_policy(None)
    clear_graph()
    build_tiny_graph()
    run_all()
    return {"affinities": affinities(), "recommended": recommended(), "similar": similar_pairs(),
            "popularity": popularity(), "profiles": {c: profile(c) for c in ("C5", "C6")}}


@pytest.fixture
def fresh_consent(baseline) -> Iterator[dict[str, Any]]:
    """The baseline; afterwards every consent record is removed and the shipped policy restored."""
    yield baseline
    set_policy(None)
    run_query("MATCH (k:Consent) DETACH DELETE k")


def test_personalisation_withdrawn_means_no_recommendations_and_nobodys_similar_shopper(fresh_consent):
    before = fresh_consent
    assert "C6" in before["recommended"]
    assert any("C6" in pair for pair in before["similar"])
    consent("C6", "personalisation")
    run_all()
    assert "C6" not in recommended()
    assert not any("C6" in pair for pair in similar_pairs())
    assert similar_pairs()  # the others still have similar shoppers
    codes = evidence()
    assert codes and not any("C6" in code or code.startswith("similar:") for code in codes)
    # C6's purchases still count in the product-level aggregates; C6 stays in the customer-level models
    assert affinities() == before["affinities"]
    assert popularity() == before["popularity"]
    after = profile("C6")
    assert after["segments"] >= 1 and after["rfmScore"] == before["profiles"]["C6"]["rfmScore"]
    assert after["churnRisk"] == pytest.approx(before["profiles"]["C6"]["churnRisk"])
    assert recommended() == before["recommended"] - {"C6"}


def test_similar_shoppers_who_withdrew_are_no_evidence(fresh_consent):
    """C5 and C6 both bought the lamp shade P7, which is recommended to C1: two of C1's similar shoppers
    bought it until C5 withdraws personalisation, then one."""
    def shopper_counts(customer_id: str) -> dict[str, int]:
        rows = current("""MATCH (:Customer {customerId: $id})-[r:RECOMMENDED]->(p:Product) WHERE r.version = run.runId
                          UNWIND r.evidence AS code WITH p, code WHERE code STARTS WITH 'similar_shoppers:'
                          RETURN p.sku AS sku, toInteger(split(code, ':')[1]) AS n""", "recommend", id=customer_id)
        return {row["sku"]: row["n"] for row in rows}

    run_all()  # from the baseline's inputs (an earlier test may have left other results current)
    assert shopper_counts("C1")["P7"] == 2
    consent("C5", "personalisation")
    run_all()
    assert shopper_counts("C1")["P7"] == 1
    assert not any("C5" in pair for pair in similar_pairs())


def test_analytics_withdrawn_means_no_segments_no_retention_but_aggregates_stay(fresh_consent):
    before = fresh_consent
    old = before["profiles"]["C5"]
    assert old["segments"] >= 1 and old["churnRisk"] is not None and old["rfmScore"] is not None
    # with the churn risk, the past net value as the analysts' library counts it, and what is at stake
    [library] = run_query("""MATCH (c:Customer {customerId: 'C5'})
                             WITH c, [(c)-[:PLACED]->(o:Order) | o] AS orders
                             RETURN reduce(total = 0.0, o IN orders | total + coalesce(o.total, 0.0)) AS pastValue""")
    assert old["pastValue"] == library["pastValue"]  # (this graph's orders carry no totals: 0.0)
    assert old["atStake"] == pytest.approx(old["churnRisk"] * old["pastValue"])
    consent("C5", "analytics")
    run_all()
    assert profile("C5") == {"segments": 0, "churnRisk": None, "pAlive": None, "expected": None, "model": None,
                             "pastValue": None, "atStake": None, "retentionVersion": None, "rfmScore": None,
                             "rfmSegment": None}
    assert not any("C5" in pair for pair in similar_pairs())
    rfm = current("""MATCH (s:Segment {kind: 'rfm'}) WHERE s.version = run.runId
                     RETURN sum(s.size) AS n""", "segments")
    assert rfm == [{"n": 5}]  # six buyers, less C5
    assert affinities() == before["affinities"]
    assert popularity() == before["popularity"]
    assert "C5" in recommended()  # personalisation is still granted: C5's own history recommends


def test_without_aggregates_the_analytics_withdrawn_leave_the_affinities(fresh_consent):
    before = fresh_consent
    set_policy(ConsentPolicy(aggregates_without_analytics=False))
    consent("C5", "analytics")
    run_all()
    pairs = {(a, b, kind) for a, b, kind, *_ in affinities()}
    # P6 + P7 were bought together by C5 and C6 only: once is below the minimum count of 2
    assert ("P6", "P7", "bought_together") in {(a, b, kind) for a, b, kind, *_ in before["affinities"]}
    assert ("P6", "P7", "bought_together") not in pairs
    assert popularity()["P9"] == before["popularity"]["P9"] - 1  # C5 bought P9
    assert affinities() != before["affinities"]


def test_the_policy_defaults_reach_the_projection(fresh_consent):
    set_policy(ConsentPolicy(defaults={**GDPR_DEFAULTS, "personalisation": False}))
    consent("C4", "personalisation", granted=True)
    run_all()
    assert recommended() == {"C4"}
    assert similar_pairs() == set()  # one eligible shopper has nobody to be similar to


def test_a_skipped_retention_run_still_clears_the_withdrawn(fresh_consent, monkeypatch):
    from algorithms import retention, run

    def no_fit(data, params):
        raise retention.RetentionError("no repeat buyers")

    run_all("retention")  # make sure C5 is scored
    assert profile("C5")["churnRisk"] is not None
    consent("C5", "analytics")
    monkeypatch.setattr(run, "compute_retention", no_fit)
    summary = run_all("retention")
    assert any("retention skipped" in note for note in summary["notes"])
    assert profile("C5")["churnRisk"] is None and profile("C5")["retentionVersion"] is None
    assert profile("C5")["pastValue"] is None and profile("C5")["atStake"] is None  # off the keep-in-touch list
    assert profile("C6")["churnRisk"] is not None  # the others keep their scores
