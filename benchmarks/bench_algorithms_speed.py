"""Speed of a full recompute over a generated graph with 1,000,000 interactions.

Generates (numpy, seeded) customers with tastes, products in taste clusters with skewed popularity,
orders with line items, web/app sessions with product events, and store visits: by default 20,000
customers, 5,000 products, 20 stores, ~400,000 order lines, 480,000 session product events and 120,000
store visits (1,000,000 interactions). Writes them with bare ``UNWIND ... CREATE`` into the Neo4j the
environment points at (use a server of your own, e.g. ``CUSTOMER_GRAPH_HOME=/tmp/algo-neo4j
NEO4J_BOLT_PORT=27687 NEO4J_HTTP_PORT=27474 customer-graph db start``), then times
``algorithms.run.run_all()`` (projection + compute + versioned writeback of every family) and prints
the time of each stage, the peak memory of this process and the server's resident memory.

Run: ``CUSTOMER_GRAPH_HOME=... NEO4J_BOLT_PORT=... .venv/bin/python benchmarks/bench_algorithms_speed.py``
(``--reuse`` skips generation when the graph already holds the data).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # on a shared 2-core machine one BLAS thread is faster
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from graph_model.connection import current_settings, execute_write, run_query  # noqa: E402
from graph_model.database import clear_graph, local_server  # noqa: E402
from graph_model.schema import apply_schema  # noqa: E402

START = 1_672_531_200  # 2023-01-01 UTC
YEAR = 365 * 86_400

CREATE_PRODUCTS = "UNWIND $rows AS r CREATE (:Product {sku: r.sku, name: r.name, price: r.price})"
CREATE_STORES = """UNWIND $rows AS r CREATE (:Store {storeId: r.id, name: r.name,
                   location: point({longitude: r.lon, latitude: r.lat})})"""
CREATE_CUSTOMERS = """UNWIND $rows AS r CREATE (c:Customer {customerId: r.id})
                      WITH c, r MATCH (s:Store {storeId: r.home}) CREATE (c)-[:HOME_STORE]->(s)"""
CREATE_ORDERS = """UNWIND $rows AS r MATCH (c:Customer {customerId: r.c})
CREATE (c)-[:PLACED {at: datetime({epochSeconds: r.at})}]->
       (o:Order {orderId: r.o, channel: r.ch, placedAt: datetime({epochSeconds: r.at}), cancelled: false})
WITH o, r UNWIND range(0, size(r.p) - 1) AS i MATCH (p:Product {sku: r.p[i]})
CREATE (o)-[:INCLUDES {line: i + 1, quantity: r.q[i], unitPrice: p.price}]->(p)"""
LINK_ORDER_STORES = """UNWIND $rows AS r MATCH (o:Order {orderId: r.o}), (s:Store {storeId: r.s})
CREATE (o)-[:AT_STORE]->(s)"""
CREATE_SESSIONS = """UNWIND $rows AS r MATCH (c:Customer {customerId: r.c})
CREATE (c)-[:HAD_SESSION {at: datetime({epochSeconds: r.at})}]->
       (s:Session {sessionId: r.s, channel: r.ch, startedAt: datetime({epochSeconds: r.at})})
WITH s, r UNWIND range(0, size(r.p) - 1) AS i MATCH (p:Product {sku: r.p[i]})
CREATE (s)-[:CONTAINS {at: datetime({epochSeconds: r.at + 30 * i})}]->
       (e:Event {eventId: r.s + '-' + i, type: r.t[i], at: datetime({epochSeconds: r.at + 30 * i})})
       -[:ABOUT_PRODUCT {at: datetime({epochSeconds: r.at + 30 * i})}]->(p)"""
CREATE_VISITS = """UNWIND $rows AS r MATCH (c:Customer {customerId: r.c}), (s:Store {storeId: r.s})
CREATE (c)-[:MADE_VISIT {at: datetime({epochSeconds: r.at})}]->
       (:Visit {visitId: r.v, arrivedAt: datetime({epochSeconds: r.at}), source: 'location_ping'})-[:TO_STORE]->(s)"""


def _write(query: str, rows: list[dict], batch: int) -> None:
    for start in range(0, len(rows), batch):
        execute_write(lambda tx, chunk: tx.run(query, rows=chunk).consume(), rows[start:start + batch])


def generate(customers: int, products: int, stores: int, order_lines: int, events: int, visits: int,
             seed: int) -> None:
    """Write a synthetic graph of that size (bare UNWIND CREATE, batches)."""
    rng = np.random.default_rng(seed)
    clusters = 20
    product_cluster = rng.integers(0, clusters, products)
    weight = 1.0 / np.arange(1, products + 1) ** 0.8  # skewed popularity
    rng.shuffle(weight)
    by_cluster = [np.flatnonzero(product_cluster == k) for k in range(clusters)]
    p_in_cluster = [weight[ix] / weight[ix].sum() for ix in by_cluster]
    p_global = weight / weight.sum()
    taste = rng.integers(0, clusters, customers)
    activity = rng.gamma(0.8, 1.0, customers)
    activity /= activity.sum()

    def pick(customer_ids: np.ndarray) -> np.ndarray:
        own = rng.random(customer_ids.size) < 0.7
        out = rng.choice(products, size=customer_ids.size, p=p_global)
        for k in range(clusters):
            mask = own & (taste[customer_ids] == k)
            out[mask] = by_cluster[k][rng.choice(by_cluster[k].size, size=int(mask.sum()), p=p_in_cluster[k])]
        return out

    t0 = time.perf_counter()
    _write(CREATE_PRODUCTS, [{"sku": f"SKU{i:06d}", "name": f"Product {i} (range {product_cluster[i]})",
                              "price": float(round(rng.uniform(1, 50), 2))} for i in range(products)], 10_000)
    _write(CREATE_STORES, [{"id": f"S{i:03d}", "name": f"Store {i}", "lon": float(rng.uniform(-3, 1)),
                            "lat": float(rng.uniform(51, 54))} for i in range(stores)], 1000)
    homes = rng.integers(0, stores, customers)
    _write(CREATE_CUSTOMERS, [{"id": f"C{i:07d}", "home": f"S{homes[i]:03d}"} for i in range(customers)], 10_000)

    def basket_rows(n_lines: int, prefix: str, mean: float) -> list[tuple[int, int, np.ndarray]]:
        sizes = []
        total = 0
        while total < n_lines:
            size = int(min(max(1, rng.poisson(mean)), n_lines - total))
            sizes.append(size)
            total += size
        owners = rng.choice(customers, size=len(sizes), p=activity)
        times = START + rng.random(len(sizes)) ** 0.8 * YEAR  # demand grows through the year
        flat_owner = np.repeat(owners, sizes)
        items = pick(flat_owner)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return [(int(owners[i]), int(times[i]), items[bounds[i]:bounds[i + 1]]) for i in range(len(sizes))]

    orders = basket_rows(order_lines, "O", 4.0)
    rows = [{"o": f"O{i:08d}", "c": f"C{c:07d}", "at": at, "ch": "store" if i % 4 == 0 else "web",
             "p": [f"SKU{p:06d}" for p in dict.fromkeys(items.tolist())],
             "q": [1] * len(dict.fromkeys(items.tolist()))} for i, (c, at, items) in enumerate(orders)]
    _write(CREATE_ORDERS, rows, 2_000)
    _write(LINK_ORDER_STORES, [{"o": r["o"], "s": f"S{homes[int(r['c'][1:])]:03d}"} for r in rows if r["ch"] == "store"],
           10_000)
    print(f"  products, stores, customers, {len(rows):,} orders written in {time.perf_counter() - t0:.0f} s", flush=True)
    sessions = basket_rows(events, "W", 8.0)
    kinds = np.array(["product_view"] * 8 + ["add_to_cart"] * 2)
    rows = [{"s": f"W{i:08d}", "c": f"C{c:07d}", "at": at, "ch": "app" if i % 3 == 0 else "web",
             "p": [f"SKU{p:06d}" for p in items], "t": rng.choice(kinds, size=items.size).tolist()}
            for i, (c, at, items) in enumerate(sessions)]
    _write(CREATE_SESSIONS, rows, 2_000)
    print(f"  {len(rows):,} sessions written, {time.perf_counter() - t0:.0f} s", flush=True)
    owners = rng.choice(customers, size=visits, p=activity)
    near = (homes[owners] + (rng.random(visits) < 0.2) * rng.integers(1, stores, visits)) % stores
    times = START + rng.random(visits) * YEAR
    _write(CREATE_VISITS, [{"v": f"V{i:08d}", "c": f"C{owners[i]:07d}", "s": f"S{near[i]:03d}", "at": int(times[i])}
                           for i in range(visits)], 10_000)
    print(f"  {visits:,} visits written; generation took {time.perf_counter() - t0:.0f} s", flush=True)


def server_rss_mb() -> float | None:
    settings = current_settings()
    if not settings.uses_local_server:
        return None
    pid = local_server(settings).status().pid
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--order-lines", type=int, default=417_000)  # ~400,000 once repeats in a basket merge
    parser.add_argument("--events", type=int, default=480_000)
    parser.add_argument("--visits", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep the graph already in the database")
    args = parser.parse_args()

    from algorithms.run import run_all

    apply_schema()
    if not args.reuse:
        print("clearing the graph and generating ...", flush=True)
        clear_graph(batch_size=2000)
        generate(args.customers, args.products, args.stores, args.order_lines, args.events, args.visits, args.seed)
    interactions = run_query("""
        CALL () { MATCH ()-[r:INCLUDES]->() RETURN count(r) AS lines }
        CALL () { MATCH ()-[r:ABOUT_PRODUCT]->() RETURN count(r) AS events }
        CALL () { MATCH ()-[r:MADE_VISIT]->() RETURN count(r) AS visits }
        RETURN lines, events, visits""", write=False)[0]
    total = sum(interactions.values())
    print(f"graph: {interactions['lines']:,} order lines + {interactions['events']:,} session product events + "
          f"{interactions['visits']:,} store visits = {total:,} interactions", flush=True)

    started = time.perf_counter()
    summary = run_all(progress=lambda m: print(f"  [{time.perf_counter() - started:6.1f}s] {m}", flush=True))
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\nstage                        seconds")
    for stage, seconds in summary["stages"].items():
        print(f"{stage:<28} {seconds:>8.2f}")
    print(f"{'total (wall clock)':<28} {elapsed:>8.2f}   (budget 60 s: {'PASS' if elapsed < 60 else 'FAIL'})")
    print(f"peak memory of this process: {peak_mb:,.0f} MB (budget 4,096 MB: {'PASS' if peak_mb < 4096 else 'FAIL'})")
    rss = server_rss_mb()
    if rss is not None:
        print(f"Neo4j server resident memory now: {rss:,.0f} MB (its heap and page cache are configured separately)")
    for family, counts in summary["written"].items():
        print(f"  {family:<11} " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))


if __name__ == "__main__":
    main()
