"""Benchmark of the clienteling page's first screen in a real browser, on the graph the settings point at
(normally the ``make demo`` graph: the real Online Retail history plus its synthetic multi-channel layer).

It serves the API (production mode, one uvicorn worker, a benchmark admin key), opens ``/clienteling`` in
headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright) and measures:

- **page**: navigation until the load event (the page, its script and style; no CDN);
- **lookup**: from pressing Enter on a customer id until the page says "Showing customer …" (profile,
  consents, recommendations, similar shoppers, nearby stores and the first timeline page rendered: two
  GraphQL requests), for the ``--customers`` customers with the most sessions, visits and orders (the
  heaviest screens), each looked up ``--rounds`` times;
- **first screen**: page + the median lookup, against the target of 1 s.

Usage, with the demo's server running (``make demo`` once, then ``customer-graph db start``)::

    .venv/bin/python benchmarks/bench_clienteling.py --customers 20 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

from api import server_process
from graph_model.connection import configure, run_query
from graph_model.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
BENCH_KEY = "bench-admin-key-000000001"
TARGET_SECONDS = 1.0

# the customers whose screens have the most to show: sessions, store visits and orders together
HEAVIEST = """
MATCH (c:Customer) WHERE c.erasedAt IS NULL
WITH c, COUNT { (c)-[:HAD_SESSION]->() } + COUNT { (c)-[:MADE_VISIT]->() } + COUNT { (c)-[:PLACED]->() } AS size
ORDER BY size DESC, c.customerId LIMIT $n
RETURN c.customerId AS id, size
"""


def serve() -> tuple[subprocess.Popen[bytes], str]:
    """The API on loopback in production mode with the benchmark's admin key, once the database answers."""
    return server_process.start({"CUSTOMER_GRAPH_API_KEYS": f"{BENCH_KEY}:admin", "CUSTOMER_GRAPH_ENV": "production"},
                                cwd=ROOT, ready_path="/readyz")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configure(load_settings())
    customers = run_query(HEAVIEST, {"n": args.customers})
    if not customers:
        raise SystemExit("the graph has no customers: run `make demo` first")
    from playwright.sync_api import sync_playwright

    server, base = serve()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            pages: list[float] = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                page.goto(f"{base}/clienteling", wait_until="load")
                pages.append(time.perf_counter() - started)
            page.get_by_label("API key", exact=True).fill(BENCH_KEY)
            page.get_by_role("button", name="Use this key").click()
            lookups: list[float] = []
            for _ in range(args.rounds):
                for customer in customers:
                    value = page.get_by_label("Value", exact=True)
                    value.fill(customer["id"])
                    started = time.perf_counter()
                    value.press("Enter")
                    page.get_by_text(f"Showing customer {customer['id']}.").wait_for(timeout=30_000)
                    lookups.append(time.perf_counter() - started)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    sizes = [row["size"] for row in customers]
    first_screen = statistics.median(pages) + statistics.median(lookups)
    print(f"customers: {len(customers)} (sessions + visits + orders: {min(sizes)}..{max(sizes)}), "
          f"{args.rounds} rounds")
    print(f"page load    median {statistics.median(pages) * 1000:7.1f} ms   max {max(pages) * 1000:7.1f} ms")
    print(f"lookup       median {statistics.median(lookups) * 1000:7.1f} ms   p95 {percentile(lookups, 0.95) * 1000:7.1f} ms"
          f"   max {max(lookups) * 1000:7.1f} ms")
    print(f"first screen {first_screen * 1000:7.1f} ms (target < {TARGET_SECONDS * 1000:.0f} ms): "
          f"{'met' if first_screen < TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
