"""Seed a benchmark graph for ``bench_api.py``: N customers with orders, sessions and events, visits,
messages and responses, plus the algorithm results of the graph contract (RECOMMENDED, AFFINITY,
SIMILAR_TO, segments, POPULAR_AT, churn risk).

Everything is generated server side with ``UNWIND range(...)`` in ``CALL {} IN TRANSACTIONS`` batches,
so seeding 100,000 customers takes a few minutes. Point it at a server of its own::

    CUSTOMER_GRAPH_HOME=/tmp/api-neo4j NEO4J_BOLT_PORT=37687 NEO4J_HTTP_PORT=37474 \\
        .venv/bin/python benchmarks/bench_api_seed.py --customers 100000

It refuses to write into a graph that already holds customers unless ``--force`` (which empties it).
"""

from __future__ import annotations

import argparse
import time

from graph_model.connection import run_query, session
from graph_model.database import clear_graph
from graph_model.schema import apply_schema

RUN_ID = "bench-1"

STEPS: tuple[tuple[str, str], ...] = (
    ("runs", """
        UNWIND ['affinity','similarity','recommend','segments','retention','trends'] AS family
        CREATE (:AlgorithmRun {runId: $run + '-' + family, family: family, status: 'current',
                               startedAt: datetime(), finishedAt: datetime()})"""),
    ("brands+categories", """
        UNWIND range(0, 49) AS i
        CREATE (:Brand {brandId: 'B' + i, name: 'Brand ' + i})
        CREATE (:Category {categoryId: 'CAT' + i, name: 'Category ' + i})"""),
    ("products", """
        UNWIND range(0, $products - 1) AS i
        CALL (i) {
          MATCH (b:Brand {brandId: 'B' + (i % 50)}), (cat:Category {categoryId: 'CAT' + (i % 50)})
          CREATE (p:Product {sku: 'P' + i, name: 'Product ' + i, description: 'A fine product number ' + i,
                             price: round(1 + rand() * 99, 2), popularity: toInteger(rand() * 1000),
                             trendScore: rand(), trendRank: i + 1, popularityRank: i + 1})
          CREATE (p)-[:MADE_BY]->(b), (p)-[:IN_CATEGORY]->(cat)
        } IN TRANSACTIONS OF 5000 ROWS"""),
    ("stores", """
        UNWIND range(0, 49) AS i
        CREATE (s:Store {storeId: 'S' + i, name: 'Store ' + i, city: 'City ' + (i % 10),
                         location: point({longitude: -2.5 + (i % 10) * 0.1, latitude: 51.0 + (i / 10) * 0.1})})"""),
    ("stock+popular", """
        MATCH (s:Store)
        UNWIND range(0, 39) AS k
        MATCH (p:Product {sku: 'P' + ((toInteger(substring(s.storeId, 1)) * 37 + k * 11) % $products)})
        MERGE (s)-[st:STOCKS]->(p) ON CREATE SET st.quantity = toInteger(rand() * 20), st.updatedAt = datetime()
        WITH s, p, k WHERE k < 20
        MERGE (s)-[pa:POPULAR_AT]->(p) ON CREATE SET pa.rank = k + 1, pa.score = 1.0 / (k + 1),
                                                     pa.version = $run + '-trends'"""),
    ("segments", """
        UNWIND range(0, 19) AS i
        CREATE (g:Segment {segmentId: 'SEG' + i, kind: CASE WHEN i < 10 THEN 'community' ELSE 'rfm' END,
                           name: 'Segment ' + i, description: 'Benchmark segment ' + i,
                           size: $customers / 10, version: $run + '-segments'})
        WITH g, i
        UNWIND range(0, 9) AS k
        MATCH (p:Product {sku: 'P' + ((i * 13 + k) % $products)})
        CREATE (g)-[:POPULAR_IN {rank: k + 1, score: 1.0 / (k + 1), version: $run + '-trends'}]->(p)"""),
    ("customers", """
        UNWIND range(0, $customers - 1) AS i
        CALL (i) {
          MATCH (home:Store {storeId: 'S' + (i % 50)})
          MATCH (g1:Segment {segmentId: 'SEG' + (i % 10)}), (g2:Segment {segmentId: 'SEG' + (10 + i % 10)})
          CREATE (c:Customer {customerId: 'C' + i, name: 'Customer ' + i, emailHash: 'h' + i,
                              city: home.city, loyaltyTier: 'silver', createdAt: datetime() - duration({days: 400}),
                              homeLocation: point({longitude: home.location.longitude + 0.01,
                                                   latitude: home.location.latitude}),
                              churnRisk: rand(), pAlive: rand(), expectedPurchases90d: rand() * 3,
                              rfmSegment: 'Loyal', rfmScore: '444'})
          CREATE (c)-[:HOME_STORE]->(home)
          CREATE (c)-[:IN_SEGMENT {version: $run + '-segments'}]->(g1)
          CREATE (c)-[:IN_SEGMENT {version: $run + '-segments'}]->(g2)
          CREATE (:Identity {identityKey: 'email_hash:h' + i, type: 'email_hash', value: 'h' + i})
                 -[:IDENTIFIES {at: datetime()}]->(c)
          CREATE (:Identity {identityKey: 'cookie:ck' + i, type: 'cookie', value: 'ck' + i})
                 -[:IDENTIFIES {at: datetime()}]->(c)
        } IN TRANSACTIONS OF 5000 ROWS"""),
    ("orders", """
        UNWIND range(0, $customers * 2 - 1) AS j
        CALL (j) {
          MATCH (c:Customer {customerId: 'C' + (j % $customers)})
          WITH c, j, datetime() - duration({days: j % 365, minutes: j % 1440}) AS at
          CREATE (c)-[:PLACED {at: at}]->(o:Order {orderId: 'O' + j, channel: ['web', 'app', 'store'][j % 3],
                                                  placedAt: at, total: 42.0, currency: 'GBP', cancelled: false})
          WITH o, j
          MATCH (p1:Product {sku: 'P' + (j % $products)}), (p2:Product {sku: 'P' + ((j * 7 + 3) % $products)})
          CREATE (o)-[:INCLUDES {line: 1, quantity: 1, unitPrice: p1.price}]->(p1)
          CREATE (o)-[:INCLUDES {line: 2, quantity: 2, unitPrice: p2.price}]->(p2)
        } IN TRANSACTIONS OF 5000 ROWS"""),
    ("sessions+events", """
        UNWIND range(0, $customers * 2 - 1) AS j
        CALL (j) {
          MATCH (c:Customer {customerId: 'C' + (j % $customers)})
          WITH c, j, datetime() - duration({days: j % 300, hours: 3}) AS at
          CREATE (c)-[:HAD_SESSION {at: at}]->(s:Session {sessionId: 'SS' + j, channel: ['web', 'app'][j % 2],
                                                         startedAt: at, endedAt: at + duration({minutes: 4})})
          WITH s, j, at
          UNWIND range(0, 3) AS k
          MATCH (p:Product {sku: 'P' + ((j + k * 101) % $products)})
          CREATE (s)-[:CONTAINS {at: at + duration({minutes: k})}]->
                 (e:Event {eventId: 'E' + j + '-' + k, type: ['page_view', 'product_view', 'add_to_cart', 'search'][k],
                           at: at + duration({minutes: k})})
          CREATE (e)-[:ABOUT_PRODUCT {at: e.at}]->(p)
        } IN TRANSACTIONS OF 2000 ROWS"""),
    ("visits", """
        UNWIND range(0, $customers - 1) AS i
        CALL (i) {
          MATCH (c:Customer {customerId: 'C' + i})-[:HOME_STORE]->(s:Store)
          WITH c, s, i, datetime() - duration({days: i % 200, hours: 5}) AS at
          CREATE (c)-[:MADE_VISIT {at: at}]->(v:Visit {visitId: 'V' + i, arrivedAt: at, dwellMinutes: 12.5,
                                                      source: 'location_ping'})-[:TO_STORE]->(s)
        } IN TRANSACTIONS OF 5000 ROWS"""),
    ("messages+responses", """
        UNWIND range(0, $customers - 1) AS i
        CALL (i) {
          MATCH (c:Customer {customerId: 'C' + i})
          WITH c, i, datetime() - duration({days: i % 100, hours: 7}) AS at
          CREATE (m:Message {messageId: 'M' + i, channel: 'email', sentAt: at, subject: 'Hello ' + i})
                 -[:SENT_TO {at: at}]->(c)
          WITH c, m, i, at WHERE i % 2 = 0
          CREATE (c)-[:RESPONDED {type: 'opened', at: at + duration({hours: 1})}]->(m)
        } IN TRANSACTIONS OF 5000 ROWS"""),
    ("affinity", """
        UNWIND range(0, $products - 1) AS i
        CALL (i) {
          MATCH (p:Product {sku: 'P' + i})
          UNWIND range(1, 10) AS k
          MATCH (q:Product {sku: 'P' + ((i + k * 17) % $products)})
          CREATE (p)-[:AFFINITY {kind: 'bought_together', score: 1.0 / k, lift: 2.0, support: 0.01,
                                 confidence: 0.2, rank: k, version: $run + '-affinity'}]->(q)
        } IN TRANSACTIONS OF 1000 ROWS"""),
    ("recommended", """
        UNWIND range(0, $customers - 1) AS i
        CALL (i) {
          MATCH (c:Customer {customerId: 'C' + i})
          UNWIND range(1, $recs) AS k
          MATCH (p:Product {sku: 'P' + ((i * 31 + k * 53) % $products)})
          CREATE (c)-[:RECOMMENDED {score: 1.0 / k, rank: k, reason: 'often bought with Product ' + (i % 97),
                                    evidence: ['affinity:P' + (i % 97)], version: $run + '-recommend'}]->(p)
        } IN TRANSACTIONS OF 1000 ROWS"""),
    ("similar", """
        UNWIND range(0, $customers - 1) AS i
        CALL (i) {
          MATCH (c:Customer {customerId: 'C' + i})
          UNWIND range(1, 5) AS k
          MATCH (d:Customer {customerId: 'C' + ((i + k * 7919) % $customers)})
          CREATE (c)-[:SIMILAR_TO {score: 1.0 / k, rank: k, version: $run + '-similarity'}]->(d)
        } IN TRANSACTIONS OF 5000 ROWS"""),
)


def seed(customers: int, products: int, recs: int) -> None:
    """Run every step, printing its duration."""
    params = {"customers": customers, "products": products, "recs": recs, "run": RUN_ID}
    for name, statement in STEPS:
        started = time.perf_counter()
        with session() as s:
            s.run(statement, params).consume()
        print(f"  {name:20s} {time.perf_counter() - started:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--recommendations", type=int, default=20, help="RECOMMENDED edges per customer")
    parser.add_argument("--force", action="store_true", help="empty a graph that already holds customers")
    args = parser.parse_args()
    apply_schema()
    existing = run_query("MATCH (c:Customer) RETURN count(c) AS n", write=False)[0]["n"]
    if existing and not args.force:
        raise SystemExit(f"the graph already holds {existing} customers (use --force to replace them)")
    if existing:
        clear_graph()
    started = time.perf_counter()
    seed(args.customers, args.products, args.recommendations)
    print(f"seeded {args.customers} customers in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
