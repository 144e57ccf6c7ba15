"""Shared helpers of the API tests: a small graph written with Cypher per the graph contract, API keys,
and an app + HTTP client on the real test database. (No tests here; the test_api_* modules import it.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.auth import Role
from api.collection.config import CollectionConfig
from api.config import ApiConfig
from graph_model import connection, run_query
from graph_model.database import clear_graph
from graph_model.settings import Settings

READER, WRITER, ADMIN = "test-reader-key", "test-writer-key", "test-admin-key"
KEYS = {READER: Role.reader, WRITER: Role.writer, ADMIN: Role.admin}
GRAPHQL_RESPONSE = "application/graphql-response+json"

TIMELINE_ORDERS = 14  # C1's orders; two pairs share a timestamp to exercise the tie-break

SEED = """
CREATE (:AlgorithmRun {runId: 'rec-2', family: 'recommend', status: 'current', startedAt: datetime(), finishedAt: datetime()})
CREATE (:AlgorithmRun {runId: 'rec-1', family: 'recommend', status: 'superseded', startedAt: datetime(), finishedAt: datetime()})
CREATE (:AlgorithmRun {runId: 'aff-1', family: 'affinity', status: 'current', startedAt: datetime(), finishedAt: datetime()})
CREATE (:AlgorithmRun {runId: 'seg-1', family: 'segments', status: 'current', startedAt: datetime(), finishedAt: datetime()})
CREATE (:AlgorithmRun {runId: 'sim-1', family: 'similarity', status: 'current', startedAt: datetime(), finishedAt: datetime()})
CREATE (:AlgorithmRun {runId: 'tr-1', family: 'trends', status: 'current', startedAt: datetime(), finishedAt: datetime()})
CREATE (uk:Country {name: 'United Kingdom'})
CREATE (brand:Brand {brandId: 'B1', name: 'Outdoor Co'})
CREATE (camping:Category {categoryId: 'CAT1', name: 'Camping'})
CREATE (tents:Category {categoryId: 'CAT2', name: 'Tents'})-[:SUBCATEGORY_OF]->(camping)
WITH uk, brand, tents
UNWIND range(1, 12) AS i
CREATE (p:Product {sku: 'P' + i, name: 'Product ' + i, price: 10.0 * i, trendRank: 13 - i, trendScore: i / 12.0,
                   popularity: 100 - i, popularityRank: i})
CREATE (p)-[:MADE_BY]->(brand)
CREATE (p)-[:IN_CATEGORY]->(tents)
WITH uk, count(*) AS products
CREATE (s1:Store {storeId: 'S1', name: 'Oxford Street', city: 'London',
                  location: point({longitude: -0.1410, latitude: 51.5154})})-[:IN_COUNTRY]->(uk)
CREATE (s2:Store {storeId: 'S2', name: 'Manchester Arndale', city: 'Manchester',
                  location: point({longitude: -2.2389, latitude: 53.4831})})-[:IN_COUNTRY]->(uk)
WITH s1, s2
MATCH (p2:Product {sku: 'P2'}), (p3:Product {sku: 'P3'}), (p8:Product {sku: 'P8'}), (p10:Product {sku: 'P10'})
CREATE (s1)-[:STOCKS {quantity: 5}]->(p2)
CREATE (s1)-[:STOCKS {quantity: 0}]->(p3)
CREATE (s1)-[:POPULAR_AT {rank: 1, score: 0.9, version: 'tr-1'}]->(p8)
CREATE (s2)-[:POPULAR_AT {rank: 1, score: 0.7, version: 'tr-1'}]->(p10)
CREATE (g1:Segment {segmentId: 'SEG1', kind: 'community', name: 'Weekend campers', size: 2, version: 'seg-1'})
CREATE (g2:Segment {segmentId: 'SEG2', kind: 'rfm', name: 'Champions', size: 1, version: 'seg-1'})
CREATE (:Segment {segmentId: 'SEG0', kind: 'rfm', name: 'Old segment', size: 1, version: 'seg-0'})
CREATE (g1)-[:POPULAR_IN {rank: 1, score: 0.8, version: 'tr-1'}]->(p10)
CREATE (c1:Customer {customerId: 'C1', name: 'Ada Lovelace', emailHash: 'hash-ada', city: 'London',
                     loyaltyTier: 'gold', homeLocation: point({longitude: -0.1276, latitude: 51.5072}),
                     churnRisk: 0.25, pAlive: 0.75, expectedPurchases90d: 1.5, rfmSegment: 'Champions', rfmScore: '555',
                     createdAt: datetime('2024-01-01T00:00:00Z')})
CREATE (c2:Customer {customerId: 'C2', name: 'Grace Hopper', city: 'London', churnRisk: 0.6})
CREATE (c3:Customer {customerId: 'C3', name: 'Alan Turing', city: 'Manchester'})
CREATE (c4:Customer {customerId: 'C4', name: 'New Shopper'})
CREATE (c1)-[:HOME_STORE]->(s1), (c3)-[:HOME_STORE]->(s2)
CREATE (c1)-[:IN_SEGMENT {version: 'seg-1'}]->(g1), (c1)-[:IN_SEGMENT {version: 'seg-1'}]->(g2)
CREATE (c2)-[:IN_SEGMENT {version: 'seg-1'}]->(g1)
CREATE (:Identity {identityKey: 'email_hash:hash-ada', type: 'email_hash', value: 'hash-ada'})-[:IDENTIFIES {at: datetime()}]->(c1)
CREATE (:Identity {identityKey: 'cookie:ck-ada', type: 'cookie', value: 'ck-ada'})-[:IDENTIFIES {at: datetime()}]->(c1)
CREATE (c1)-[:HAS_CONSENT]->(:Consent {consentId: 'C1|email|marketing', channel: 'email', purpose: 'marketing',
                                        granted: true, updatedAt: datetime()})
CREATE (c1)-[:SIMILAR_TO {score: 0.9, rank: 1, version: 'sim-1'}]->(c2)
CREATE (c1)-[:SIMILAR_TO {score: 0.5, rank: 2, version: 'sim-0'}]->(c3)
WITH c1
UNWIND range(1, 5) AS i
MATCH (p:Product {sku: 'P' + i})
CREATE (c1)-[:RECOMMENDED {score: 1.0 - i / 10.0, rank: i, reason: 'Often bought with Product 11, which you bought',
                           evidence: ['affinity:P11'], version: 'rec-2'}]->(p)
WITH c1, count(*) AS recs
MATCH (stale:Product {sku: 'P9'})
CREATE (c1)-[:RECOMMENDED {score: 5.0, rank: 1, reason: 'stale', evidence: [], version: 'rec-1'}]->(stale)
WITH c1
MATCH (p1:Product {sku: 'P1'}), (p6:Product {sku: 'P6'}), (p7:Product {sku: 'P7'}), (p12:Product {sku: 'P12'})
CREATE (p1)-[:AFFINITY {kind: 'bought_together', score: 0.9, lift: 3.0, support: 0.1, confidence: 0.5, rank: 1, version: 'aff-1'}]->(p6)
CREATE (p1)-[:AFFINITY {kind: 'viewed_together', score: 0.5, lift: 1.5, support: 0.05, confidence: 0.2, rank: 2, version: 'aff-1'}]->(p7)
CREATE (p1)-[:AFFINITY {kind: 'bought_together', score: 0.99, rank: 1, version: 'aff-0'}]->(p12)
WITH c1
MATCH (s1:Store {storeId: 'S1'}), (p1:Product {sku: 'P1'}), (p2:Product {sku: 'P2'})
CREATE (c1)-[:HAD_SESSION {at: datetime('2025-03-01T10:00:00Z')}]->
       (ss:Session {sessionId: 'SS1', channel: 'web', device: 'iPhone', startedAt: datetime('2025-03-01T10:00:00Z'),
                    endedAt: datetime('2025-03-01T10:05:00Z')})
CREATE (ss)-[:CONTAINS {at: datetime('2025-03-01T10:01:00Z')}]->
       (e1:Event {eventId: 'E1', type: 'product_view', at: datetime('2025-03-01T10:01:00Z'), page: '/p/P1'})
CREATE (ss)-[:CONTAINS {at: datetime('2025-03-01T10:02:00Z')}]->
       (e2:Event {eventId: 'E2', type: 'add_to_cart', at: datetime('2025-03-01T10:02:00Z'), quantity: 1})
CREATE (e1)-[:NEXT {gapSeconds: 60.0}]->(e2)
CREATE (e1)-[:ABOUT_PRODUCT {at: e1.at}]->(p1), (e2)-[:ABOUT_PRODUCT {at: e2.at}]->(p1)
CREATE (c1)-[:MADE_VISIT {at: datetime('2025-03-02T12:00:00Z')}]->
       (:Visit {visitId: 'V1', arrivedAt: datetime('2025-03-02T12:00:00Z'), dwellMinutes: 25.0,
                source: 'loyalty_scan', zones: ['entrance', 'camping']})-[:TO_STORE]->(s1)
CREATE (m1:Message {messageId: 'M1', channel: 'email', sentAt: datetime('2025-03-03T09:00:00Z'), subject: 'Spring camping'})
       -[:SENT_TO {at: datetime('2025-03-03T09:00:00Z')}]->(c1)
CREATE (c1)-[:RESPONDED {type: 'opened', at: datetime('2025-03-03T09:30:00Z')}]->(m1)
CREATE (c1)-[:RESPONDED {type: 'replied', at: datetime('2025-03-03T10:00:00Z'), text: 'Call me on 07700 900123'}]->(m1)
CREATE (:Offer {offerId: 'OF1', description: '10% off tents at Oxford Street', discountPct: 10.0,
                validFrom: datetime() - duration('P1D'), validTo: datetime() + duration('P7D')})-[:VALID_AT]->(s1)
CREATE (:Offer {offerId: 'OF2', description: 'Free delivery everywhere', discountPct: 0.0})
CREATE (:Offer {offerId: 'OF3', description: 'Expired', discountPct: 50.0, validTo: datetime() - duration('P1D')})
WITH c1, s1
UNWIND range(1, $orders) AS i
MATCH (p:Product {sku: 'P' + (i % 12 + 1)})
WITH c1, s1, p, i, datetime('2025-01-01T08:00:00Z') + duration({days: i / 2}) AS at
CREATE (c1)-[:PLACED {at: at}]->(o:Order {orderId: 'O' + i, channel: CASE WHEN i % 3 = 0 THEN 'store' ELSE 'web' END,
                                          placedAt: at, total: 10.0 * i, currency: 'GBP', cancelled: false})
CREATE (o)-[:INCLUDES {line: 1, quantity: 1, unitPrice: p.price}]->(p)
FOREACH (_ IN CASE WHEN i % 3 = 0 THEN [1] ELSE [] END | CREATE (o)-[:AT_STORE]->(s1))
"""

# every entry of C1's timeline: sessions, visits, messages, responses and orders
TIMELINE_SIZE = 1 + 1 + 1 + 2 + TIMELINE_ORDERS


def seed(settings: Settings) -> None:
    """Empty the test database and write the small graph above."""
    connection.configure(settings)
    clear_graph()
    run_query(SEED, {"orders": TIMELINE_ORDERS})


def make_app(settings: Settings, collection: CollectionConfig | None = None, **config: Any) -> Any:
    """The API app on ``settings``' database with the test keys, in development unless ``config`` says
    otherwise (production is the default of :class:`ApiConfig`); collection off unless ``collection``."""
    return create_app(ApiConfig(**{"development": True, "api_keys": KEYS, "using_dev_keys": False, **config}),
                      settings, collection=collection or CollectionConfig())


@contextmanager
def served(app: Any) -> Iterator[int]:
    """``app`` served by uvicorn in a thread on a free loopback port (for clients that speak real HTTP: a
    browser, Node, an SDK); yields the port, stops the server on exit."""
    import uvicorn

    from graph_model.local_server.server import free_port

    port = free_port()
    from api.serving import uvicorn_options

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


CHROMIUM = "/usr/bin/chromium"  # Debian's package (Playwright's own browser download cannot work here)


@contextmanager
def offline_page(viewport: dict[str, int]) -> Iterator[Any]:
    """A page of headless Chromium with no internet: a request off loopback is refused (``internetdisconnected``).
    On exit, no request may have been refused and no script error may have happened."""
    from urllib.parse import urlsplit

    from playwright.sync_api import Route, sync_playwright

    refused: list[str] = []
    errors: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=viewport)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route("**/*", local_only)
        try:
            yield page
        finally:
            browser.close()
    assert refused == [] and errors == []


def post(client: TestClient, query: str, variables: dict[str, Any] | None = None, key: str | None = READER,
         accept: str = GRAPHQL_RESPONSE) -> Any:
    """POST a GraphQL request; the httpx response."""
    headers = {"Accept": accept}
    if key is not None:
        headers["X-API-Key"] = key
    return client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


def data(client: TestClient, query: str, variables: dict[str, Any] | None = None, key: str = READER) -> Any:
    """The ``data`` of a request that must succeed without errors."""
    response = post(client, query, variables, key)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def codes(body: dict[str, Any]) -> list[str]:
    """The error codes of a response body."""
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@pytest.fixture(scope="module")
def seeded(neo4j_settings: Settings) -> Settings:
    """The small graph, written once for a module of read-only tests."""
    seed(neo4j_settings)
    return neo4j_settings


@pytest.fixture(scope="module")
def client(seeded: Settings) -> Iterator[TestClient]:
    """An HTTP client on the API over the seeded graph."""
    with TestClient(make_app(seeded)) as test_client:
        yield test_client
