"""Benchmark of the GraphQL API against its ceiling, driven by wrk (Debian: ``apt-get install -y wrk``).

For the recommendation query (10 recommendations of a random customer) and the engagement-history
query (first page of 20 timeline entries), at concurrency 1, 10 and 50, it measures:

- the API: ``customer-graph``'s Starlette + strawberry app under uvicorn (one worker);
- the ceiling: the same data through a minimal Starlette endpoint calling the driver directly
  (``benchmarks/bench_api_ceiling.py``, one worker),

and prints throughput, p50/p95/p99 latency and the API/ceiling ratios, then checks the targets
(c=10: p95 < 50 ms for recommendations and >= 0.7x the ceiling; c=1: p95 < 15 ms). API and ceiling
are measured alternately (A B B A) so that a change in the machine's load hits both. Loopback only,
bounded in time (``--seconds`` per side and measurement). Against a graph of your own::

    export CUSTOMER_GRAPH_HOME=/tmp/api-neo4j NEO4J_BOLT_PORT=37687 NEO4J_HTTP_PORT=37474
    .venv/bin/customer-graph db start
    .venv/bin/python benchmarks/bench_api_seed.py --customers 100000     # once, ~5 minutes
    .venv/bin/python benchmarks/bench_api.py
    .venv/bin/customer-graph db stop
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from graph_model.connection import run_query
from graph_model.local_server.server import free_port

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).with_name("bench_api.lua")
CONCURRENCY = (1, 10, 50)
QUERIES = ("recommendations", "engagement")
BENCH_KEY = "bench-reader-key-0001"


def start_server(target: str, port: int, factory: bool, workers: int) -> subprocess.Popen[bytes]:
    """uvicorn serving ``target`` on loopback with ``workers`` processes (uvloop + httptools)."""
    env = {**os.environ, "CUSTOMER_GRAPH_API_KEYS": f"{BENCH_KEY}:reader", "CUSTOMER_GRAPH_ENV": "production"}
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--loop", "uvloop",
               "--http", "httptools"]
    if factory:
        command.append("--factory")
    return subprocess.Popen(command, cwd=ROOT, env=env)


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not become ready")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn workers), from /proc."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for process in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, mode: str, connections: int, seconds: int, customers: int) -> dict[str, float]:
    """One wrk run: its JSON summary (latencies in microseconds)."""
    threads = 1 if connections == 1 else 2
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", str(LUA), url, "--", mode, str(customers), BENCH_KEY]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def combine(runs: list[dict[str, float]]) -> dict[str, float]:
    """Several runs of one side as one figure: total requests over total time; each latency percentile
    as the request-weighted mean of the runs' percentiles (an approximation of the merged percentile);
    the server's CPU per request (independent of how loaded the shared machine is)."""
    requests = sum(run["requests"] for run in runs)
    seconds = sum(run["duration_us"] for run in runs) / 1e6
    weighted = {name: sum(run[name] * run["requests"] for run in runs) / max(requests, 1) / 1000
                for name in ("p50", "p95", "p99")}
    return {"rps": requests / seconds, **weighted, "requests": requests,
            "cpu_ms": sum(run["cpu_seconds"] for run in runs) * 1000 / max(requests, 1),
            "failed": sum(run["failed"] + run["socket_errors"] for run in runs)}


def measure(api: str, ceiling: str, pids: dict[str, int], query: str, connections: int, seconds: int,
            customers: int) -> dict[str, dict[str, float]]:
    """API and ceiling in the order A B B A, half the time each, so drift in the machine's load hits both."""
    half = max(1, seconds // 2)
    runs: dict[str, list[dict[str, float]]] = {"api": [], "ceiling": []}
    for side in ("api", "ceiling", "ceiling", "api"):
        url, mode = (api, f"graphql-{query}") if side == "api" else (ceiling, f"ceiling-{query}")
        before = process_cpu_seconds(pids[side])
        run = wrk(url, mode, connections, half, customers)
        run["cpu_seconds"] = process_cpu_seconds(pids[side]) - before
        runs[side].append(run)
    return {side: combine(side_runs) for side, side_runs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="GraphQL API vs. ceiling benchmark (wrk)")
    parser.add_argument("--seconds", type=int, default=10,
                        help="seconds per side and measurement (run as two halves, A B B A)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds per endpoint")
    parser.add_argument("--min-customers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, the same for API and ceiling")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    customers = run_query("MATCH (c:Customer) RETURN count(c) AS n", write=False)[0]["n"]
    with_recs = run_query("MATCH (c:Customer {customerId: 'C0'})-[:RECOMMENDED]->() RETURN count(*) AS n",
                          write=False)[0]["n"]
    if customers < args.min_customers or not with_recs:
        raise SystemExit(f"the graph holds {customers} customers (need {args.min_customers}, ids C0.., with "
                         f"RECOMMENDED edges): run benchmarks/bench_api_seed.py first")
    api_port, ceiling_port = free_port(), free_port()
    servers = [start_server("api.app:create_app", api_port, True, args.workers),
               start_server("benchmarks.bench_api_ceiling:app", ceiling_port, False, args.workers)]
    results: list[dict[str, object]] = []
    try:
        wait_ready(f"http://127.0.0.1:{api_port}/readyz")
        wait_ready(f"http://127.0.0.1:{ceiling_port}/ceiling/recommendations?id=C0")
        api, ceiling = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ceiling_port}"
        pids = {"api": servers[0].pid, "ceiling": servers[1].pid}
        for query in QUERIES:
            wrk(api, f"graphql-{query}", 10, args.warmup, customers)
            wrk(ceiling, f"ceiling-{query}", 10, args.warmup, customers)
        print(f"graph: {customers} customers; {args.seconds} s per run; wrk on loopback; "
              f"{args.workers} uvicorn worker(s) each; load average before: {os.getloadavg()[0]:.1f}")
        print(f"{'query':16s} {'c':>3s} {'side':8s} {'req/s':>8s} {'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} "
              f"{'cpu ms/req':>10s} {'failed':>6s}  ratio")
        for query in QUERIES:
            for connections in CONCURRENCY:
                measured = measure(api, ceiling, pids, query, connections, args.seconds, customers)
                ratio = measured["api"]["rps"] / measured["ceiling"]["rps"]
                ratio_text = f"{ratio:.2f}x"
                for side in ("api", "ceiling"):
                    m = measured[side]
                    print(f"{query:16s} {connections:3d} {side:8s} {m['rps']:8.0f} {m['p50']:7.1f} {m['p95']:7.1f} "
                          f"{m['p99']:7.1f} {m['cpu_ms']:10.2f} {m['failed']:6d}  {ratio_text if side == 'api' else ''}",
                          flush=True)
                results.append({"query": query, "concurrency": connections, "ratio": ratio, **{
                    f"{side}_{name}": value for side in measured for name, value in measured[side].items()}})
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=15)
    targets = {r["concurrency"]: r for r in results if r["query"] == "recommendations"}
    checks = [
        ("c=10 recommendations p95 < 50 ms", targets[10]["api_p95"] < 50),
        ("c=10 recommendations throughput >= 0.7x ceiling", targets[10]["ratio"] >= 0.7),
        ("c=1 recommendations p95 < 15 ms", targets[1]["api_p95"] < 15),
        ("no failed requests", all(r["api_failed"] == 0 and r["ceiling_failed"] == 0 for r in results)),
    ]
    for name, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
