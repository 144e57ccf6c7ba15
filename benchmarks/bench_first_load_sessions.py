"""Benchmark: a first load of many logged-in sessions, one identifier each, into an empty graph.

The shape of a real public clickstream export that once stalled the loader (issue 17): 15,478 web
sessions, 5,792 of them logged in by 5,622 customers, one cookie per session. On an empty graph with
cold query caches, plans are made while the indexes' samples still describe an empty graph; a statement
whose plan can scan an index then grows with the graph. The script writes that drop (generated here,
labelled synthetic: ids ``BENCH-…``), empties the database, clears the query caches, loads customers then
sessions (end to end: reading, validation, writing, stitching) and loads the same sessions file again
(warm plans, resampled indexes): the baseline in the same run. The first load should run at the reload's
speed. A second baseline on the same empty graph and rows: the server's bare ceiling for this first load
(:mod:`_sessions_ceiling`: the same nodes and relationships with ``UNWIND … CREATE`` from rows resolved in
Python beforehand, the same writers), so that a figure read on a slow or busy machine says how far the loader
is from what the server itself can write (``--repeat`` alternates the two).

Two shapes in one run: the real export's (``--logged-in`` of ``--sessions`` logged in, by ``--customers``)
and every session logged in by a customer of its own (the issue's acceptance case: ≥ 5,000 rows/s).

It empties the database it points at. Run it against a Neo4j of your own, e.g.::

    export CUSTOMER_GRAPH_HOME=/tmp/bench-neo4j NEO4J_BOLT_PORT=17687 NEO4J_HTTP_PORT=17474
    .venv/bin/customer-graph db start
    .venv/bin/python benchmarks/bench_first_load_sessions.py
    .venv/bin/customer-graph db stop
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from graph_model.connection import current_settings, run_query
from graph_model.database import clear_graph
from loaders.pipeline import LoadOptions, load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sessions_ceiling import ceiling, session_graph_counts  # noqa: E402

CUSTOMER_HEADER = ["customerId", "name", "emailHash", "city", "country", "homeLatitude", "homeLongitude",
                   "loyaltyTier", "homeStoreId", "createdAt", "updatedAt"]
SESSION_HEADER = ["sessionId", "channel", "startedAt", "endedAt", "device", "customerId", "cookie", "deviceId",
                  "storeId"]


def write_drop(folder: Path, sessions: int, logged_in: int, customers: int) -> None:
    """``customers.csv`` and ``sessions.csv``: ``logged_in`` of the ``sessions`` belong to one of
    ``customers`` customers (round robin), every session has its own cookie."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "customers.csv").open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(CUSTOMER_HEADER)
        out.writerows([f"BENCH-U{k:07d}", "", "", "", "", "", "", "none", "", "2024-01-01T00:00:00Z",
                       "2024-01-01T00:00:00Z"] for k in range(customers))
    with (folder / "sessions.csv").open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(SESSION_HEADER)
        for k in range(sessions):
            day, minute = 1 + k % 28, k // 28 % (24 * 60)
            start = f"2026-10-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"
            end = f"2026-10-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:40Z"
            customer = f"BENCH-U{k % customers:07d}" if k < logged_in else ""
            out.writerow([f"BENCH-S{k:08d}", "web", start, end, "desktop", customer, f"BENCH-CK{k:09d}", "", ""])


def empty_graph_with_customers(drop: Path, options: LoadOptions) -> None:
    """The graph before the sessions file: emptied, query caches cleared, the customers loaded."""
    clear_graph()
    run_query("CALL db.clearQueryCaches()")
    load_file(drop / "customers.csv", options=options)


def first_load(drop: Path, options: LoadOptions) -> tuple[float, float, dict[str, int]]:
    """Rows/s of the sessions file loaded into an empty graph (customers first), then loaded again; what the
    first load wrote."""
    empty_graph_with_customers(drop, options)
    first = load_file(drop / "sessions.csv", options=options)["entities"]["sessions"]
    written = session_graph_counts()
    again = load_file(drop / "sessions.csv", options=options)["entities"]["sessions"]
    return first["loaded"] / first["durationSeconds"], again["loaded"] / again["durationSeconds"], written


def bare_ceiling(drop: Path, options: LoadOptions) -> tuple[float, dict[str, int]]:
    """Rows/s of the bare ``UNWIND … CREATE`` writes of the same sessions into the same empty graph."""
    empty_graph_with_customers(drop, options)
    rows, seconds = ceiling(drop / "sessions.csv", options.writers, options.batch_size)
    return rows / seconds, session_graph_counts()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drop", type=Path, default=Path("/tmp/bench-first-load"))
    parser.add_argument("--sessions", type=int, default=15_478)
    parser.add_argument("--logged-in", type=int, default=5_792)
    parser.add_argument("--customers", type=int, default=5_622)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="loader and ceiling alternately, this many times each")
    parser.add_argument("--allow-default-port", action="store_true",
                        help="run even against bolt port 7687 (the shared default server); it is emptied!")
    args = parser.parse_args(argv)
    settings = current_settings()
    if settings.uses_local_server and settings.bolt_port == 7687 and not args.allow_default_port:
        print("refusing to empty the default server on port 7687; set NEO4J_BOLT_PORT (see the docstring)")
        return 2
    options = LoadOptions(writers=args.writers, report_dir=Path("/tmp/bench-first-load-run"))
    shapes = [("the real export's shape", args.logged_in, args.customers),
              ("every session logged in, distinct customers", args.sessions, args.sessions)]
    for title, logged_in, customers in shapes:
        print(f"{title}: {args.sessions:,} sessions, {logged_in:,} logged in by {customers:,} customers, "
              f"{args.writers} writers")
        write_drop(args.drop, args.sessions, logged_in, customers)
        for _ in range(args.repeat):
            first_rate, again_rate, loaded = first_load(args.drop, options)
            ceiling_rate, written = bare_ceiling(args.drop, options)
            print(f"  first load into an empty graph: {first_rate:>7,.0f} rows/s")
            print(f"  the same file again (baseline): {again_rate:>7,.0f} rows/s")
            print(f"  bare ceiling, same empty graph: {ceiling_rate:>7,.0f} rows/s")
            print(f"  first load / reload = {first_rate / again_rate:.2f}, first load / ceiling = "
                  f"{first_rate / ceiling_rate:.2f}")
            if written != loaded:  # the ceiling must write what the loader writes
                print(f"  the ceiling's graph differs from the loader's: {written} vs {loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
