"""Benchmark of the collection API (the Segment tracking API): throughput and time to visibility.

Traffic is generated (labelled synthetic: ids ``BENCH-…``, products ``BENCH-P…``): ``--visitors`` shoppers, each
one session of page views, product views, cart adds and, for one in five, an identify and an order. The script
empties the database it points at, serves the API (``customer-graph serve --dev`` in its own process, collection
on, a fresh spool: senders and server do not share an interpreter, as with real SDKs) and:

1. **throughput**: posts every message to ``/v1/batch`` in batches of 100 from 4 threads; reports messages/s
   accepted (on disk) and written (in the graph: until the spool is empty), and the **accept latency** of each
   POST (sent until its ``200``, a new connection per request: the writer runs meanwhile) as p50/p95. Each
   sender thread keeps one HTTP client without keep-alive: building a client (its TLS context) costs ~19 ms of
   CPU, which a per-request client added to every latency measured (an SDK builds its client once);
2. **baseline** in the same run: the same messages mapped to export rows and written by the loaders' pipeline
   directly (no HTTP, no spool) into the emptied graph; the ratio collector / baseline;
3. **sustained load** (issue 18's targets): 4 threads post batches of 100 on a fixed schedule, together
   ``--sustain-rate`` messages/s (5,000) for ``--sustain-seconds``: the accept latency per POST (p50/p95, target
   p95 < 20 ms), the rate written (until the spool is empty again, target: the offered rate, nothing piling up;
   the largest backlog seen), and the time to visibility of probes posted meanwhile (target p95 < 2 s). Phase
   1's latency is that of senders posting back to back: at saturation a request waits for the ones ahead of it
   (latency = senders / throughput), a measure of capacity rather than of the answer time at a given load;
4. **time to visibility**: while a background sender keeps ``--rate`` messages/s flowing, single page views are
   posted one by one and the graph is polled until each is there (what ``engagementHistory`` reads); p50/p95
   against the target of 1 s; the background batches' accept latency (p50/p95) beside it.

Every phase sends shoppers of its own (message ids never repeat across phases: a repeat is a duplicate the
spool ignores).

It empties the database it points at: run it against a Neo4j of your own, e.g.::

    export CUSTOMER_GRAPH_HOME=/tmp/bench-neo4j NEO4J_BOLT_PORT=17687 NEO4J_HTTP_PORT=17474
    .venv/bin/customer-graph db start
    .venv/bin/python benchmarks/bench_collect.py
    .venv/bin/customer-graph db stop
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx

from api import server_process
from api.collection.mapping import map_messages
from api.collection.messages import accept
from api.collection.proof import PROOF, SERVER_KEY
from api.collection.sessions import SessionClock
from api.collection.spool import Spool
from graph_model.connection import current_settings, run_query
from graph_model.database import clear_graph
from graph_model.settings import Settings
from loaders.entities import SPECS
from loaders.pipeline import Loader, LoadOptions
from loaders.report import RunReport

WRITE_KEY = "bench-write-key-0001"
PRODUCTS = 500
TARGET_SECONDS = 1.0


def _shopper(rng: random.Random, v: int, at: datetime) -> list[dict[str, Any]]:
    """One synthetic shopper's session: pages, product views, cart adds; one in five identifies and orders."""
    anon, user = f"BENCH-anon-{v}", f"BENCH-U{v}" if v % 5 == 0 else None
    steps: list[tuple[str, dict[str, Any]]] = [("page", {"properties": {"path": "/"}})]
    if user:
        steps.append(("identify", {"traits": {"email": f"{user}@example.com", "name": f"Shopper {v}"}}))
    for _ in range(rng.randrange(2, 7)):
        sku = f"BENCH-P{rng.randrange(PRODUCTS)}"
        steps += [("page", {"properties": {"path": f"/p/{sku}"}}),
                  ("track", {"event": "Product Viewed", "properties": {"sku": sku}})]
        if rng.random() < 0.3:
            steps.append(("track", {"event": "Product Added", "properties": {"sku": sku, "quantity": 1}}))
    if user:
        steps.append(("track", {"event": "Order Completed", "properties": {"order_id": f"BENCH-O{v}", "products": [
            {"sku": f"BENCH-P{rng.randrange(PRODUCTS)}", "quantity": 1, "price": 4.5}]}}))
    messages = []
    for n, (kind, fields) in enumerate(steps):
        at += timedelta(seconds=rng.randrange(5, 90))
        messages.append({"type": kind, "anonymousId": anon, "messageId": f"BENCH-{v}-{n}", "timestamp": at.isoformat(),
                         **({"userId": user} if user else {}), **fields})
    return messages


def traffic(visitors: int, seed: int, first: int = 0) -> list[dict[str, Any]]:
    """Synthetic shoppers' messages (one session each, in time order), shoppers numbered from ``first``."""
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return [m for v in range(first, first + visitors)
            for m in _shopper(rng, v, start + timedelta(seconds=rng.randrange(86_400)))]


def seed_catalogue() -> None:
    clear_graph()
    run_query("UNWIND range(0, $n - 1) AS i CREATE (:Product {sku: 'BENCH-P' + toString(i), name: 'Synthetic ' + i})",
              {"n": PRODUCTS})


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank ``share`` percentile of ``values`` (0.5: the median, 0.95: p95)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


_senders = threading.local()


def http_client() -> httpx.Client:
    """This thread's HTTP client: built once (as an SDK's), a new connection per request (no keep-alive)."""
    client = getattr(_senders, "client", None)
    if client is None:
        client = _senders.client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30)
    return client


def post_batch(base: str, batch: list[dict[str, Any]]) -> float:
    """POST ``batch`` to ``/v1/batch``; the seconds until its ``200`` (an error status raises)."""
    sent = time.perf_counter()
    answer = http_client().post(f"{base}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
    answer.raise_for_status()
    return time.perf_counter() - sent


def post_all(base: str, messages: list[dict[str, Any]], threads: int = 4, size: int = 100) -> list[float]:
    """Post ``messages`` in batches of ``size`` from ``threads`` threads; each POST's seconds to its ``200``."""
    batches = [messages[i:i + size] for i in range(0, len(messages), size)]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda batch: post_batch(base, batch), batches))


def post_paced(base: str, messages: list[dict[str, Any]], rate: float, threads: int = 4,
               size: int = 100) -> tuple[list[float], int]:
    """Post ``messages`` in batches of ``size`` from ``threads`` threads on a fixed schedule, together ``rate``
    messages/s (a late answer delays only its thread's next batch, which then goes at once); each POST's seconds
    to its ``200``, and how many were refused or failed."""
    batches = [messages[i:i + size] for i in range(0, len(messages), size)]
    interval = threads * size / rate
    start = time.perf_counter() + 0.05

    def send(k: int) -> tuple[list[float], int]:
        latencies, refused = [], 0
        for j, batch in enumerate(batches[k::threads]):
            delay = start + (k / threads + j) * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                latencies.append(post_batch(base, batch))
            except httpx.HTTPError:  # 429/503 or a transport error: counted, the load goes on
                refused += 1
        return latencies, refused

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, range(threads)))
    return [seconds for latencies, _ in results for seconds in latencies], sum(refused for _, refused in results)


def probe(base: str, n: int) -> float:
    """Post one page view (``BENCH-probe-<n>``); the seconds until the graph holds its event."""
    event_id = f"BENCH-probe-{n}"
    sent = time.perf_counter()
    http_client().post(f"{base}/v1/page", json={"anonymousId": "BENCH-probe", "messageId": event_id,
                                                "properties": {"path": "/probe"}}, auth=(WRITE_KEY, ""))
    while not run_query("MATCH (e:Event {eventId: $id}) RETURN 1 AS x", {"id": event_id}, write=False):
        time.sleep(0.01)
    return time.perf_counter() - sent


def pending_messages(spool: Path) -> int:
    """Messages the server's spool holds unwritten (read from the file: SQLite in WAL mode lets a second
    process read while the server writes)."""
    with sqlite3.connect(f"file:{spool}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM spool WHERE done_at IS NULL").fetchone()[0]


def baseline(messages: list[dict[str, Any]], folder: Path) -> float:
    """Messages/s of the same messages mapped and written by the loaders' pipeline directly."""
    seed_catalogue()
    now = datetime.now(UTC)
    accepted = [(i + 1, {**accept(m, None, now), PROOF: SERVER_KEY}) for i, m in enumerate(messages)]
    started = time.perf_counter()
    mapped = map_messages(accepted, SessionClock(Spool(folder / "baseline.sqlite"), timedelta(minutes=30)))
    loader = Loader(RunReport(folder / "baseline-run", "baseline", 1.0), LoadOptions(progress=False, writers=1))
    for entity in SPECS:
        if mapped.rows.get(entity):
            loader.load_rows(entity, iter(mapped.rows[entity]), "baseline")
    return len(messages) / (time.perf_counter() - started)


def serve(settings: Settings, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``customer-graph serve --dev`` in its own process (as in production: the senders here do not share its
    interpreter), collection on with a fresh spool in ``folder``; the process and its base URL once ``/readyz``
    answers (as a load balancer would wait: after the collector has planned its writers)."""
    return server_process.start({"NEO4J_URI": settings.bolt_uri, "NEO4J_USER": settings.user,
                                 "NEO4J_PASSWORD": settings.password,
                                 # a server write key: the shoppers' identifies join and describe them (a public
                                 # key's would need each customer's token, api/collection/proof.py)
                                 "CUSTOMER_GRAPH_SERVER_WRITE_KEYS": WRITE_KEY,
                                 "CUSTOMER_GRAPH_SPOOL": str(folder / "spool.sqlite"),
                                 "CUSTOMER_GRAPH_RUNS_DIR": str(folder / "runs")}, "--dev", ready_path="/readyz")


def wait_written(spool: Path, timeout: float) -> None:
    """Until the server's spool holds no unwritten message."""
    deadline = time.monotonic() + timeout
    while pending_messages(spool):
        if time.monotonic() > deadline:
            raise SystemExit(f"messages still unwritten after {timeout:.0f} s")
        time.sleep(0.05)


@dataclass
class Sustained:
    """Phase 3's figures."""

    messages: int
    seconds: float  # from the first POST until the spool was empty again
    latencies: list[float]
    refused: int
    backlog: int  # the most messages seen waiting in the spool
    drain: float  # seconds from the last answer until the spool was empty
    visibility: list[float]


def sustain(base: str, spool: Path, messages: list[dict[str, Any]], rate: float) -> Sustained:
    """Post ``messages`` at ``rate`` messages/s while probes measure the time to visibility (phase 3)."""
    done = threading.Event()
    backlog = 0

    def watch() -> None:
        nonlocal backlog
        while not done.wait(0.25):
            backlog = max(backlog, pending_messages(spool))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    ended: list[float] = []
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(post_paced, base, messages, rate)
        sending.add_done_callback(lambda _: ended.append(time.perf_counter()))
        visibility = []
        while not sending.done():
            visibility.append(probe(base, 10_000 + len(visibility)))
            time.sleep(0.1)
        latencies, refused = sending.result()
    wait_written(spool, timeout=600)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    return Sustained(len(messages), seconds, latencies, refused, backlog, started + seconds - ended[0], visibility)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0, help="background messages/s while measuring latency")
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--sustain-rate", type=float, default=5_000.0, help="messages/s of phase 3")
    parser.add_argument("--sustain-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--allow-default-port", action="store_true")
    args = parser.parse_args(argv)
    settings = current_settings()
    if settings.uses_local_server and settings.bolt_port == 7687 and not args.allow_default_port:
        print("refusing to empty the default server on port 7687; set NEO4J_BOLT_PORT (see the docstring)")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    messages = traffic(args.visitors, args.seed)
    base_rate = baseline(messages, folder)

    seed_catalogue()
    server, base = serve(settings, folder)
    spool = folder / "spool.sqlite"
    try:
        started = time.perf_counter()
        accept_latencies = post_all(base, messages)
        accepted_s = time.perf_counter() - started
        wait_written(spool, timeout=600)
        written_s = time.perf_counter() - started

        shoppers = round(args.sustain_rate * args.sustain_seconds / 10.6)  # ~10.6 messages per shopper
        steady = traffic(shoppers, args.seed + 2, first=args.visitors)
        sustained = sustain(base, spool, steady[:round(args.sustain_rate * args.sustain_seconds)], args.sustain_rate)

        stop = threading.Event()
        background = traffic(10_000, args.seed + 1, first=args.visitors + shoppers)
        background_latencies: list[float] = []
        refused = 0

        def keep_sending() -> None:
            nonlocal refused
            for i in range(0, len(background), 20):
                if stop.is_set():
                    return
                try:
                    background_latencies.append(post_batch(base, background[i:i + 20]))
                except httpx.HTTPError:  # 429/503 or a transport error: counted, the load goes on
                    refused += 1
                time.sleep(20 / args.rate)

        sender = threading.Thread(target=keep_sending, daemon=True)
        sender.start()
        latencies = []
        for n in range(args.probes):
            latencies.append(probe(base, n))
            time.sleep(0.1)
        stop.set()
        sender.join(30)
    finally:
        server.terminate()
        server.wait(30)
    p95 = percentile(latencies, 0.95)
    collected = len(messages) / written_s
    print(f"messages: {len(messages):,} from {args.visitors:,} synthetic shoppers (BENCH-…)")
    print(f"accepted (on disk):   {len(messages) / accepted_s:>8,.0f} messages/s; accept latency per POST /v1/batch "
          f"(100 messages, 4 threads back to back): p50 {percentile(accept_latencies, 0.5) * 1000:.0f} ms, "
          f"p95 {percentile(accept_latencies, 0.95) * 1000:.0f} ms over {len(accept_latencies):,} requests")
    print(f"written (in graph):   {collected:>8,.0f} messages/s end to end")
    print(f"baseline (loaders' pipeline on the same rows, no HTTP/spool): {base_rate:>8,.0f} messages/s; "
          f"ratio {collected / base_rate:.2f}")
    steady_rate = sustained.messages / sustained.seconds
    steady_p95 = percentile(sustained.latencies, 0.95)
    steady_visible = percentile(sustained.visibility, 0.95)
    print(f"sustained {args.sustain_rate:,.0f} messages/s offered for {args.sustain_seconds:.0f} s "
          f"({sustained.messages:,} messages): written {steady_rate:,.0f} messages/s until the spool was empty "
          f"({sustained.drain:.1f} s after the last POST; largest backlog {sustained.backlog:,}); accept latency per POST (100 messages): "
          f"p50 {percentile(sustained.latencies, 0.5) * 1000:.0f} ms, p95 {steady_p95 * 1000:.0f} ms "
          f"(target < 20 ms: {'met' if steady_p95 < 0.02 else 'NOT met'})"
          + (f"; {sustained.refused:,} refused or failed" if sustained.refused else ""))
    print(f"  time to visibility meanwhile: p50 {statistics.median(sustained.visibility) * 1000:.0f} ms, "
          f"p95 {steady_visible * 1000:.0f} ms over {len(sustained.visibility)} probes "
          f"(target < 2000 ms: {'met' if steady_visible < 2 else 'NOT met'})")
    print(f"time to visibility at ~{args.rate:.0f} messages/s: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms (target < {TARGET_SECONDS * 1000:.0f} ms: "
          f"{'met' if p95 < TARGET_SECONDS else 'NOT met'})")
    if background_latencies:
        print(f"accept latency meanwhile (POST /v1/batch of 20 at ~{args.rate:.0f} messages/s): "
              f"p50 {percentile(background_latencies, 0.5) * 1000:.0f} ms, "
              f"p95 {percentile(background_latencies, 0.95) * 1000:.0f} ms over {len(background_latencies):,} requests"
              + (f"; {refused:,} refused or failed" if refused else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
