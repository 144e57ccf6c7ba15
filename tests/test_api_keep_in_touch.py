"""The keep-in-touch list of a store (issue 20): its valuable customers at risk, most at stake first, with
the channels the consent policy lets us reach them on; bounded, never for a customer token, and nobody
whose consent withdrew analytics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from starlette.testclient import TestClient
from test_api_support import ADMIN, READER, WRITER, codes, data, make_app, post, seed

from api.tokens import TokenSettings
from graph_model import run_query
from graph_model.settings import Settings

SECRET = "a-shared-secret-of-the-retailer-backend-0123456789"
KEEP = """query($store: ID!, $min: Float! = 0.5, $first: Int! = 20) {
  keepInTouch(storeId: $store, minChurnRisk: $min, first: $first) {
    customer { id churnRisk } pastValue lastOrderAt contactableOn } }"""
SET_CONSENT = "mutation($input: SetConsentInput!) { setConsent(input: $input) { granted } }"
AT_RISK = """
MATCH (s1:Store {storeId: 'S1'}), (s2:Store {storeId: 'S2'}), (p:Product {sku: 'P1'})
CREATE (c5:Customer {customerId: 'C5', name: 'Mary Somerville', churnRisk: 0.8})-[:HOME_STORE]->(s1)
CREATE (c6:Customer {customerId: 'C6', churnRisk: 0.9})-[:HOME_STORE]->(s1)
CREATE (c7:Customer {customerId: 'C7', churnRisk: 0.95})-[:HOME_STORE]->(s2)
CREATE (c5)-[:HAS_CONSENT]->(:Consent {consentId: 'C5|sms|marketing', channel: 'sms', purpose: 'marketing',
                                        granted: true, updatedAt: datetime()})
CREATE (c5)-[:PLACED {at: datetime('2025-02-01T10:00:00Z')}]->(:Order {orderId: 'O501', placedAt: datetime('2025-02-01T10:00:00Z'), total: 500.0, cancelled: false})
CREATE (c5)-[:PLACED {at: datetime('2025-02-03T10:00:00Z')}]->(:Order {orderId: 'O502', placedAt: datetime('2025-02-03T10:00:00Z'), total: -50.0, cancelled: true})
CREATE (c6)-[:PLACED {at: datetime('2025-01-01T10:00:00Z')}]->(:Order {orderId: 'O601', placedAt: datetime('2025-01-01T10:00:00Z'), total: 100.0, cancelled: false})
"""


@pytest.fixture
def api(graph: Settings) -> Iterator[TestClient]:
    """A client on the small graph plus three customers at risk (C5 and C6 of S1, C7 of S2)."""
    seed(graph)
    run_query(AT_RISK)
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
