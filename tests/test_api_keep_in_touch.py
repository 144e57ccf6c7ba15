"""The keep-in-touch list of a store (issue 20): its valuable customers at risk, most at stake first, with
the channels the consent policy lets us reach them on; bounded, never for a customer token, and nobody
whose consent withdrew analytics.

The graph is written as the application writes it: home stores by the customers writer (which keeps
``Customer.homeStoreId``), churn risk by the algorithms' retention write-back (which stores ``pastValue`` and
``atStake`` with it), so that the list reads what a real run leaves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, WRITER, codes, data, make_app, post, seed

from algorithms import writeback
from api.queries.clienteling import KEEP_IN_TOUCH
from api.tokens import TokenSettings
from graph_model import run_query
from graph_model.connection import execute_write, session
from graph_model.privacy.policy import current_policy
from graph_model.settings import Settings, project_root
from loaders.writers.customers import write_customers

SECRET = "a-shared-secret-of-the-retailer-backend-0123456789"
KEEP = """query($store: ID!, $min: Float! = 0.5, $first: Int! = 20) {
  keepInTouch(storeId: $store, minChurnRisk: $min, first: $first) {
    customer { id churnRisk } pastValue lastOrderAt contactableOn } }"""
SET_CONSENT = "mutation($input: SetConsentInput!) { setConsent(input: $input) { granted } }"
AT_RISK = """
MATCH (p:Product {sku: 'P1'})
CREATE (c5:Customer {customerId: 'C5', name: 'Mary Somerville'})
CREATE (c6:Customer {customerId: 'C6'})
CREATE (c7:Customer {customerId: 'C7'})
CREATE (c5)-[:HAS_CONSENT]->(:Consent {consentId: 'C5|sms|marketing', channel: 'sms', purpose: 'marketing',
                                        granted: true, updatedAt: datetime()})
CREATE (c5)-[:PLACED {at: datetime('2025-02-01T10:00:00Z')}]->(:Order {orderId: 'O501', placedAt: datetime('2025-02-01T10:00:00Z'), total: 500.0, cancelled: false})
CREATE (c5)-[:PLACED {at: datetime('2025-02-03T10:00:00Z')}]->(:Order {orderId: 'O502', placedAt: datetime('2025-02-03T10:00:00Z'), total: -50.0, cancelled: true})
CREATE (c6)-[:PLACED {at: datetime('2025-01-01T10:00:00Z')}]->(:Order {orderId: 'O601', placedAt: datetime('2025-01-01T10:00:00Z'), total: 100.0, cancelled: false})
"""
HOMES = {"C1": "S1", "C3": "S2", "C5": "S1", "C6": "S1", "C7": "S2"}
CHURN = {"C1": 0.25, "C2": 0.6, "C5": 0.8, "C6": 0.9, "C7": 0.95}


def home_stores(homes: dict[str, str]) -> None:
    """Point each customer at a home store through the customers writer (the loaders' one HOME_STORE writer)."""
    execute_write(write_customers, [{"customerId": customer, "homeStoreId": store, "props": {}}
                                    for customer, store in homes.items()])


def retention(churn: dict[str, float]) -> None:
    """One retention run of the algorithms' write-back with these churn risks."""
    with writeback.versioned_run("retention") as version:
        writeback.write_retention([{"customerId": customer, "churnRisk": risk, "pAlive": 1.0 - risk,
                                    "expectedPurchases90d": 1.0} for customer, risk in churn.items()],
                                  version, "paretonbd")


def seed_at_risk() -> None:
    """Three more customers at risk (C5 and C6 of S1, C7 of S2) on the small graph, C1 of S1 and C3 of S2."""
    run_query(AT_RISK)
    home_stores(HOMES)
    retention(CHURN)


@pytest.fixture
def api(graph: Settings) -> Iterator[TestClient]:
    """A client on the small graph plus three customers at risk (C5 and C6 of S1, C7 of S2)."""
    seed(graph)
    seed_at_risk()
    with TestClient(make_app(graph)) as client:
        yield client


def keep(client: TestClient, store: str, **variables: object) -> list[dict]:
    return data(client, KEEP, {"store": store, **variables})["keepInTouch"]


def test_most_at_stake_first_with_the_channels_they_may_be_reached_on(api: TestClient) -> None:
    listed = keep(api, "S1")
    assert [(row["customer"]["id"], row["pastValue"], row["contactableOn"]) for row in listed] == [
        ("C5", 450.0, ["SMS"]),  # 0.8 x 450 before 0.9 x 100; marketing granted on sms only
        ("C6", 100.0, []),
    ]
    assert listed[0]["lastOrderAt"].startswith("2025-02-01T10:00:00")  # the cancelled order is not the last
    lower = keep(api, "S1", min=0.2)  # C1: 0.25 x 1050 between C5 (360) and C6 (90)
    assert [(row["customer"]["id"], row["contactableOn"]) for row in lower] == [
        ("C5", ["SMS"]), ("C1", ["EMAIL"]), ("C6", [])]
    assert [row["customer"]["id"] for row in keep(api, "S1", first=1)] == ["C5"]
    assert [row["customer"]["id"] for row in keep(api, "S2")] == ["C7"]


def test_nobody_whose_consent_withdrew_analytics(api: TestClient) -> None:
    data(api, SET_CONSENT, {"input": {"customerId": "C5", "channel": "web", "purpose": "analytics",
                                      "granted": False}}, key=WRITER)
    assert [row["customer"]["id"] for row in keep(api, "S1")] == ["C6"]


def test_bounded_checked_and_named(api: TestClient) -> None:
    assert codes(post(api, KEEP, {"store": "S1", "first": 101}).json()) == ["BAD_USER_INPUT"]
    assert codes(post(api, KEEP, {"store": "S1", "min": 1.5}).json()) == ["BAD_USER_INPUT"]
    body = post(api, KEEP, {"store": "NOPE"}).json()
    assert codes(body) == ["NOT_FOUND"] and body["data"] is None
    names = data(api, '{ keepInTouch(storeId: "S1") { customer { name } } }', key=ADMIN)["keepInTouch"]
    assert names == [{"customer": {"name": "Mary Somerville"}}, {"customer": {"name": None}}]
    hidden = post(api, '{ keepInTouch(storeId: "S1") { customer { id name } } }', key=READER).json()
    assert set(codes(hidden)) == {"FORBIDDEN"} and [row["customer"]["id"] for row in hidden["data"]["keepInTouch"]] == ["C5", "C6"]


def test_a_customer_token_may_not_ask(graph: Settings) -> None:
    seed(graph)
    now = int(time.time())
    token = jwt.encode({"sub": "C1", "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")
    with TestClient(make_app(graph, tokens=TokenSettings(secret=SECRET))) as client:
        answer = client.post("/graphql", json={"query": KEEP, "variables": {"store": "S1"}},
                             headers={"Authorization": f"Bearer {token}"})
    assert codes(answer.json()) == ["FORBIDDEN"]


def test_a_new_home_store_moves_the_customer_at_once(api: TestClient) -> None:
    home_stores({"C5": "S2"})  # the customers writer re-points HOME_STORE and its mirror together
    assert [row["customer"]["id"] for row in keep(api, "S1")] == ["C6"]
    assert [row["customer"]["id"] for row in keep(api, "S2")] == ["C5", "C7"]  # 0.8 x 450, then C7's 0.95 x 0


def test_a_graph_loaded_before_the_mirror_gets_it_with_the_schema(api: TestClient) -> None:
    from graph_model.schema import apply_schema

    # a graph written by a version without the index or its key (HOME_STORE only)
    run_query("DROP INDEX customer_home_store_at_stake")
    run_query("MATCH (c:Customer {customerId: 'C6'}) REMOVE c.homeStoreId")
    apply_schema()  # every start (customer-graph up, db start/init) and every load: creates the index, sets the key
    assert [row["customer"]["id"] for row in keep(api, "S1")] == ["C5", "C6"]
    run_query("MATCH (c:Customer {customerId: 'C6'}) REMOVE c.homeStoreId")
    apply_schema()  # the index exists: the relationship's writer keeps the key, no start reads the graph for it
    assert [row["customer"]["id"] for row in keep(api, "S1")] == ["C5"]


def test_erased_customers_are_not_listed(api: TestClient) -> None:
    from graph_model.privacy.erasure import erase_customer

    erase_customer("C5", actor="test")
    assert [row["customer"]["id"] for row in keep(api, "S1")] == ["C6"]


def test_the_order_and_past_value_are_as_of_the_last_algorithms_run(api: TestClient) -> None:
    run_query("""MATCH (c:Customer {customerId: 'C6'})
                 CREATE (c)-[:PLACED {at: datetime('2025-03-01T10:00:00Z')}]->
                        (:Order {orderId: 'O602', placedAt: datetime('2025-03-01T10:00:00Z'), total: 900.0,
                                 cancelled: false})""")
    listed = keep(api, "S1")
    assert [(row["customer"]["id"], row["pastValue"]) for row in listed] == [("C5", 450.0), ("C6", 100.0)]
    assert listed[1]["lastOrderAt"].startswith("2025-03-01T10:00:00")  # read live, for the rows listed
    retention(CHURN)  # the next run counts the new order: 0.9 x 1000 before 0.8 x 450
    assert [(row["customer"]["id"], row["pastValue"]) for row in keep(api, "S1")] == [("C6", 1000.0), ("C5", 450.0)]
    retention({"C5": 0.8})  # a run that no longer scores C6 removes its figures: it is not listed
    assert [row["customer"]["id"] for row in keep(api, "S1")] == ["C5"]
    assert run_query("MATCH (c:Customer {customerId: 'C6'}) RETURN c.pastValue AS v, c.atStake AS s") == [
        {"v": None, "s": None}]


def test_past_value_is_the_analysts_libraries_past_value() -> None:
    """One expression: the write-back's is the one cypher/customers_at_risk.cypher computes live."""
    library = (project_root() / "cypher" / "customers_at_risk.cypher").read_text(encoding="utf-8")
    assert writeback.PAST_VALUE in library and writeback.PAST_VALUE in writeback.WRITE_RETENTION
    assert "[(c)-[:PLACED]->(o:Order) | o] AS orders" in library


def _operators(plan: Any) -> Iterator[Any]:
    yield plan
    for child in plan.get("children", []):
        yield from _operators(child)


def _profile(store: str, first: int) -> list[dict[str, Any]]:
    """The operators of the API's statement, profiled (its plan cached by a first run)."""
    parameters = {"storeId": store, "minChurnRisk": 0.5, "first": first, "channels": ["email", "sms"],
                  **current_policy().parameters()}
    with session() as s:
        s.run(KEEP_IN_TOUCH, parameters).consume()
        plan = s.run("PROFILE " + KEEP_IN_TOUCH, parameters).consume().profile
    return [{"operator": op["operatorType"].split("@")[0], "rows": op.get("rows", 0), "hits": op.get("dbHits", 0),
             "details": str(op.get("args", {}).get("Details", ""))} for op in _operators(plan)]


def test_the_list_reads_what_it_returns_not_the_whole_store(graph: Settings) -> None:
    """A store with 800 customers at risk (3 orders each) costs what a store with 20 does: the index hands
    over the customers most at stake first, only the rows listed read their orders, nothing sorts the store
    (the statement before this one read every customer's orders and sorted them all: its db hits grew with
    the store, about 40 per customer)."""
    seed(graph)
    run_query("CREATE (:Store {storeId: 'BIG'}), (:Store {storeId: 'SMALL'})")
    stores = {f"B{i}": "BIG" for i in range(800)} | {f"S{i}": "SMALL" for i in range(20)}
    run_query("""UNWIND $ids AS id CREATE (c:Customer {customerId: id})
                 WITH c UNWIND range(1, 3) AS j
                 CREATE (c)-[:PLACED {at: datetime('2025-01-01T00:00:00Z') + duration({days: j})}]->
                        (:Order {orderId: c.customerId + '-' + j, total: 10.0 * j + size(c.customerId),
                                 placedAt: datetime('2025-01-01T00:00:00Z') + duration({days: j}), cancelled: false})""",
              {"ids": list(stores)})
    home_stores(stores)
    retention({customer: 0.5 + (i % 50) / 100 for i, customer in enumerate(stores)})
    first = 10
    big, small = _profile("BIG", first), _profile("SMALL", first)
    for operators in (big, small):
        [seek] = [op for op in operators if op["operator"] == "NodeIndexSeek"]
        assert "customer_home_store_at_stake" in seek["details"] or "homeStoreId, atStake, customerId" in seek["details"]
        assert seek["rows"] <= first  # nothing skipped here: the seek stops at the last row listed
        assert all(op["rows"] <= first for op in operators if op["operator"] in ("Sort", "Top", "PartialSort", "PartialTop"))
        expands = [op for op in operators if op["operator"].startswith("Expand") and ":PLACED" in op["details"]]
        assert expands and all(op["rows"] <= 3 * first for op in expands)  # the orders of the rows listed only
    hits = (sum(op["hits"] for op in big), sum(op["hits"] for op in small))
    assert hits[0] <= hits[1] * 1.1 and hits[0] < len(stores), hits
