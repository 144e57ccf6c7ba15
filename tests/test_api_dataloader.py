"""No N+1: a page of 50 customers with their recommendations costs a bounded number of round trips,
counted by wrapping the one function every query goes through (``api.db.Database.run``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from test_api_support import READER, data, make_app

from graph_model import run_query
from graph_model.settings import Settings

CUSTOMERS = 50

SEED_MANY = """
UNWIND range(1, 30) AS i
CREATE (:Product {sku: 'P' + i, name: 'Product ' + i, trendRank: i})
WITH count(*) AS products
CREATE (s:Store {storeId: 'S1', name: 'Oxford Street', location: point({longitude: -0.14, latitude: 51.51})})
CREATE (g:Segment {segmentId: 'SEG1', kind: 'community', name: 'Campers'})
WITH s, g
UNWIND range(1, $customers) AS i
CREATE (c:Customer {customerId: 'C' + i, city: 'London'})
CREATE (c)-[:HOME_STORE]->(s), (c)-[:IN_SEGMENT]->(g)
WITH c, i
UNWIND range(1, 12) AS k
MATCH (p:Product {sku: 'P' + ((i + k) % 30 + 1)})
CREATE (c)-[:RECOMMENDED {score: 1.0 / k, rank: k, reason: 'because ' + k, evidence: []}]->(p)
"""


@pytest.fixture
def api(graph: Settings) -> Iterator[tuple[TestClient, list[str]]]:
    """A client over 50 customers with recommendations, and the list of statements it sends."""
    run_query(SEED_MANY, {"customers": CUSTOMERS})
    app = make_app(graph)
    sent: list[str] = []
    original = app.state.db.run

    async def counting_run(query: str, parameters: dict | None = None, **kwargs: object) -> list:
        sent.append(query)
        return await original(query, parameters, **kwargs)

    app.state.db.run = counting_run
    with TestClient(app) as client:
        yield client, sent


IDS = [f"C{i}" for i in range(1, CUSTOMERS + 1)]


def test_fifty_customers_with_recommendations_cost_one_round_trip(api: tuple[TestClient, list[str]]) -> None:
    client, sent = api
    query = """query($ids: [ID!]!) { customers(ids: $ids) { id
      recommendations(first: 10) { score explanation product { sku name } } } }"""
    customers = data(client, query, {"ids": IDS}, key=READER)["customers"]
    assert [c["id"] for c in customers] == IDS
    assert all(len(c["recommendations"]) == 10 for c in customers)
    assert customers[0]["recommendations"][0]["explanation"] == "because 1"
    assert len(sent) == 1, sent  # customers and their recommendations in one statement


def test_nested_fields_are_batched_per_field_not_per_customer(api: tuple[TestClient, list[str]]) -> None:
    client, sent = api
    query = """query($ids: [ID!]!) { customers(ids: $ids) { id
      homeStore { id } segments { id } identities { type } consents { channel }
      similarShoppers { score }
      recommendations(first: 5, context: {productSku: "P1", storeId: "S1"}) { score product { sku brand { name } } }
      engagementHistory(first: 1) { edges { cursor } } } }"""
    customers = data(client, query, {"ids": IDS}, key=READER)["customers"]
    assert len(customers) == CUSTOMERS and all(c["homeStore"] == {"id": "S1"} for c in customers)
    # customers, home stores, segments, identities, consents, similar shoppers, the context store,
    # personal recommendations, context candidates, brands, timelines: each once for all 50 customers
    assert len(sent) <= 11, [q.strip().splitlines()[:3] for q in sent]
    assert len(set(sent)) == len(sent)  # no statement twice


def test_a_customer_with_a_timeline_page_costs_one_round_trip(api: tuple[TestClient, list[str]]) -> None:
    client, sent = api
    query = '{ customer(id: "C7") { id engagementHistory(first: 5) { edges { cursor } pageInfo { hasNextPage } } } }'
    assert data(client, query, key=READER)["customer"]["id"] == "C7"
    assert len(sent) == 1, sent
