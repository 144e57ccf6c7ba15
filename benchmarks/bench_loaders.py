"""Benchmark of the nightly-export loaders against the server's ceiling and a naive loader.

1. generates (or reuses) a synthetic drop of >= 1,000,000 clickstream events and loads the whole drop
   with the loader into an emptied graph: rows/s per entity (end to end: reading, validation, writing);
2. **ceiling**: deletes the events and writes the same rows again with bare ``UNWIND ... CREATE`` of the
   same nodes and relationships (events, CONTAINS, ABOUT_*, PLACED_ORDER, SEARCHED, NEXT), already parsed,
   no validation, no existence checks, same batch size and the same number of writers on the same partitions;
3. **naive**: deletes them again and writes a sample one row per transaction (``MERGE`` per row);
   then the **sessions**: back to the graph before the sessions file, their bare ceiling
   (:mod:`_sessions_ceiling`), back again, and the loader on the same file;
4. reloads the events with the loader (so the graph is complete afterwards) and prints both ratios.

For the ceiling and the reload it also prints the CPU time spent per event by this process (reading,
validation, building parameters, the driver) and by the local server (from ``/proc``): on a machine of
``C`` cores no loader of this kind can pass ``C / (client + server)`` events/s, which is how far the
loader's own Python work (that the ceiling does not do) can stand from the ceiling.

It empties the database it points at. Run it against a Neo4j of your own, e.g.::

    export CUSTOMER_GRAPH_HOME=/tmp/bench-neo4j NEO4J_BOLT_PORT=17687 NEO4J_HTTP_PORT=17474
    .venv/bin/customer-graph db start
    .venv/bin/python benchmarks/bench_loaders.py --drop /tmp/bench-drop
    .venv/bin/customer-graph db stop
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j

from graph_model.connection import Rows, current_settings, execute_write, run_query, session
from graph_model.database import clear_graph, local_server
from loaders.batching import partition_of
from loaders.generator import GeneratorConfig, generate
from loaders.pipeline import LoadOptions, load_drop, load_file
from loaders.writers.events import CREATE_CHAIN, CREATE_EVENTS, SEARCHES, gap_seconds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sessions_ceiling import ceiling as sessions_ceiling  # noqa: E402
from _sessions_ceiling import session_graph_counts  # noqa: E402

NAIVE_EVENT = """
MATCH (s:Session {sessionId: $e.sessionId})
MERGE (ev:Event {eventId: $e.eventId})
SET ev.type = $e.type, ev.at = $e.at, ev.page = $e.page, ev.query = $e.query, ev.resultsCount = $e.resultsCount,
    ev.quantity = $e.quantity
MERGE (s)-[c:CONTAINS]->(ev) SET c.at = $e.at
WITH ev
OPTIONAL MATCH (p:Product {sku: $e.sku})
FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (ev)-[x:ABOUT_PRODUCT]->(p) SET x.at = $e.at)
WITH ev
OPTIONAL MATCH (c:Category {categoryId: $e.categoryId})
FOREACH (_ IN CASE WHEN c IS NULL THEN [] ELSE [1] END | MERGE (ev)-[x:ABOUT_CATEGORY]->(c) SET x.at = $e.at)
WITH ev
OPTIONAL MATCH (o:Order {orderId: $e.orderId})
FOREACH (_ IN CASE WHEN o IS NULL THEN [] ELSE [1] END | MERGE (ev)-[x:PLACED_ORDER]->(o) SET x.at = $e.at)
FOREACH (t IN CASE WHEN $e.searchText IS NULL THEN [] ELSE [$e.searchText] END |
  MERGE (q:SearchQuery {text: t}) MERGE (ev)-[x:SEARCHED]->(q) SET x.at = $e.at)
"""


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_events(path: Path) -> list[dict[str, Any]]:
    """The events file as write parameters, without validation (the ceiling's input)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            try:
                at = _time(raw["at"])
            except ValueError:
                continue
            query = raw["query"] or None
            rows.append({
                "eventId": raw["eventId"], "sessionId": raw["sessionId"], "type": raw["type"], "at": at,
                "page": raw["page"] or None, "query": query,
                "resultsCount": int(raw["resultsCount"]) if raw["resultsCount"] else None,
                "quantity": int(raw["quantity"]) if raw["quantity"] else None, "sku": raw["sku"] or None,
                "categoryId": raw["categoryId"] or None, "orderId": raw["orderId"] or None,
                "searchText": " ".join(query.lower().split()) if query else None,
            })
    return rows


def _delete_all(s: neo4j.Session, label: str) -> None:
    """Delete every ``label`` node, 5,000 a transaction; no time limit on the outer one (1M events took > 60 s)."""
    s.run(neo4j.Query(f"MATCH (n:{label}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS",
                      timeout=0)).consume()


def delete_events() -> float:
    t0 = time.perf_counter()
    with session() as s:
        for label in ("Event", "SearchQuery"):
            _delete_all(s, label)
    return time.perf_counter() - t0


def cpu_seconds(server_pid: int | None) -> tuple[float, float]:
    """CPU seconds used so far by this process (all threads) and by the server process (0 when not local)."""
    server = 0.0
    if server_pid is not None:
        fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return time.process_time(), server


def cpu_per_row(before: tuple[float, float], after: tuple[float, float], rows: int) -> tuple[float, float]:
    """Client and server CPU microseconds per row between two :func:`cpu_seconds` readings."""
    return ((after[0] - before[0]) * 1e6 / rows, (after[1] - before[1]) * 1e6 / rows)


def ceiling(rows: list[dict[str, Any]], writers: int, batch_size: int) -> float:
    """Seconds to CREATE the events with bare UNWIND statements, ``writers`` threads on session partitions."""
    known = set(r["k"] for r in run_query("MATCH (s:Session) RETURN s.sessionId AS k", write=False))
    parts: list[list[dict[str, Any]]] = [[] for _ in range(writers)]
    for row in rows:
        if row["sessionId"] in known:
            parts[partition_of(row["sessionId"], writers)].append(row)
    batches: list[list[tuple[list, list, list]]] = [[] for _ in range(writers)]
    for p, part in enumerate(parts):
        by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in part:
            by_session[row["sessionId"]].append(row)
        batch: list[dict[str, Any]] = []
        for events in by_session.values():
            batch.extend(sorted(events, key=lambda e: (e["at"], e["eventId"])))
            if len(batch) >= batch_size:
                batches[p].append(_ceiling_batch(batch))
                batch = []
        if batch:
            batches[p].append(_ceiling_batch(batch))

    def work(p: int) -> None:
        for events, pairs, searches in batches[p]:
            def tx(t: Any, e: list = events, pr: list = pairs, s: list = searches) -> None:
                t.run(CREATE_EVENTS, rows=Rows(e)).consume()
                t.run(CREATE_CHAIN, pairs=Rows(pr)).consume()
                if s:
                    t.run(SEARCHES, rows=Rows(s)).consume()
            execute_write(tx)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(p,)) for p in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0


def _ceiling_batch(batch: list[dict[str, Any]]) -> tuple[list, list, list]:
    pairs = [{"a": a["eventId"], "b": b["eventId"], "gap": gap_seconds(a["at"], b["at"])}
             for a, b in zip(batch, batch[1:], strict=False) if a["sessionId"] == b["sessionId"]]
    return batch, pairs, [r for r in batch if r["searchText"]]


def naive(rows: list[dict[str, Any]]) -> float:
    """Seconds to write ``rows`` one row per transaction (one writer)."""
    t0 = time.perf_counter()
    for row in rows:
        execute_write(lambda tx, e=row: tx.run(NAIVE_EVENT, e=e).consume())
    return time.perf_counter() - t0


def reset_sessions(drop: Path, options: LoadOptions) -> None:
    """Back to the graph before the sessions file: no sessions, the identifiers file's identities only."""
    with session() as s:
        for label in ("Session", "Identity"):
            _delete_all(s, label)
    load_file(drop / "identifiers.csv", options=options)


def sessions_against_their_ceiling(drop: Path, options: LoadOptions) -> tuple[float, float]:
    """Sessions/s of the loader and of the bare ceiling (:mod:`_sessions_ceiling`), each from the graph as it was
    before the sessions file (events deleted); the loader's load is left in place."""
    reset_sessions(drop, options)
    sessions, seconds = sessions_ceiling(drop / "sessions.csv", options.writers, options.batch_size)
    written = session_graph_counts()
    reset_sessions(drop, options)
    loaded = load_file(drop / "sessions.csv", options=options)["entities"]["sessions"]
    if written != session_graph_counts():  # the ceiling must write what the loader writes
        print(f"the ceiling's graph differs from the loader's: {written} vs {session_graph_counts()}")
    return loaded["loaded"] / loaded["durationSeconds"], sessions / seconds


class RetryCounter(logging.Handler):
    """Counts the retried transactions :mod:`graph_model.connection` logs, per entity (its writer
    ``write_<entity>``, the record's ``transaction``) and error code (the last part of its ``code``)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter[tuple[str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        work, code = getattr(record, "transaction", "?"), getattr(record, "code", "?")
        self.counts[(work.removeprefix("write_"), code.rsplit(".", 1)[-1])] += 1

    def take(self) -> Counter[tuple[str, str]]:
        """The counts so far, and start again from zero."""
        counts, self.counts = self.counts, Counter()
        return counts


def _print_load(report: dict[str, Any], retries: Counter[tuple[str, str]]) -> None:
    """The first load's table: rows, seconds, rows/s and retries (by error code) per entity."""
    print()
    print(f"{'entity':<14} {'rows':>10} {'seconds':>8} {'rows/s':>9}  retries (by error code)")
    for name, stats in report["entities"].items():
        rate = stats["read"] / stats["durationSeconds"] if stats["durationSeconds"] else 0
        why = ", ".join(f"{code} {n}" for (entity, code), n in sorted(retries.items()) if entity == name)
        print(f"{name:<14} {stats['read']:>10,} {stats['durationSeconds']:>8.1f} {rate:>9,.0f}  "
              f"{sum(n for (entity, _), n in retries.items() if entity == name)}{f' ({why})' if why else ''}")
    total = report["totals"]
    print(f"{'whole drop':<14} {total['read']:>10,} {report['durationSeconds']:>8.1f} {total['rowsPerSecond']:>9,.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drop", type=Path, default=Path("/tmp/bench-drop"))
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--session-rate", type=float, default=0.3)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--naive-sample", type=int, default=3_000)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--allow-default-port", action="store_true",
                        help="run even against bolt port 7687 (the shared default server); it is emptied!")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    settings = current_settings()
    if settings.uses_local_server and settings.bolt_port == 7687 and not args.allow_default_port:
        print("refusing to empty the default server on port 7687; set NEO4J_BOLT_PORT (see the docstring)")
        return 2

    if not (args.drop / "events.csv").exists():
        t0 = time.perf_counter()
        written = generate(GeneratorConfig(customers=args.customers, days=args.days,
                                           session_rate=args.session_rate), args.drop)
        print(f"generated {sum(written.values()):,} rows ({written['events.csv']:,} events) "
              f"in {time.perf_counter() - t0:.0f} s")
    options = LoadOptions(writers=args.writers, batch_size=args.batch_size, report_dir=Path("/tmp/bench-loaders-run"))
    clear_graph()
    retries = RetryCounter()
    logging.getLogger("graph_model.connection").addHandler(retries)
    report = load_drop(args.drop, options)
    first_load_retries = retries.take()
    _print_load(report, first_load_retries)
    events = report["entities"]["events"]
    loader_rate = events["loaded"] / events["durationSeconds"]

    rows = parse_events(args.drop / "events.csv")
    server_pid = local_server(settings).running_pid() if settings.uses_local_server else None
    print(f"deleting {events['loaded']:,} events: {delete_events():.0f} s")
    before = cpu_seconds(server_pid)
    ceiling_seconds = ceiling(rows, args.writers, args.batch_size)
    ceiling_events = run_query("MATCH (e:Event) RETURN count(e) AS n")[0]["n"]
    ceiling_cpu = cpu_per_row(before, cpu_seconds(server_pid), ceiling_events)
    ceiling_rate = ceiling_events / ceiling_seconds
    print(f"deleting the ceiling's events: {delete_events():.0f} s")
    sample = rows[: args.naive_sample]
    naive_rate = len(sample) / naive(sample)
    delete_events()
    sessions_rate, sessions_ceiling_rate = sessions_against_their_ceiling(args.drop, options)
    before = cpu_seconds(server_pid)
    retries.take()
    reload = load_file(args.drop / "events.csv", options=options)["entities"]["events"]
    reload_retries = retries.take()
    reload_cpu = cpu_per_row(before, cpu_seconds(server_pid), reload["loaded"])

    print()
    print(f"clickstream events, loader (end to end): {loader_rate:>9,.0f} events/s  ({args.writers} writers)")
    print(f"clickstream events, loader (reload):     {reload['loaded'] / reload['durationSeconds']:>9,.0f} events/s"
          f"  ({sum(reload_retries.values())} retries)")
    print(f"server ceiling (bare UNWIND CREATE):     {ceiling_rate:>9,.0f} events/s  ({args.writers} writers)")
    print(f"naive loader (one row per transaction):  {naive_rate:>9,.0f} events/s  (sample of {len(sample):,})")
    print(f"loader / ceiling = {loader_rate / ceiling_rate:.2f}   loader / naive = {loader_rate / naive_rate:.1f}")
    print(f"sessions, loader (before the events):    {sessions_rate:>9,.0f} sessions/s, bare ceiling "
          f"{sessions_ceiling_rate:,.0f}/s: loader / ceiling = {sessions_rate / sessions_ceiling_rate:.2f}")
    cores = os.cpu_count() or 1
    for name, (client, server) in (("ceiling", ceiling_cpu), ("loader (reload)", reload_cpu)):
        print(f"CPU per event, {name:<16} client {client:5.1f} µs + server {server:5.1f} µs: at most "
              f"{cores * 1e6 / (client + server):,.0f} events/s on {cores} cores")
    figures = {"entities": report["entities"], "loaderEventsPerSecond": loader_rate,
               "ceilingEventsPerSecond": ceiling_rate, "naiveEventsPerSecond": naive_rate,
               "loaderOverCeiling": loader_rate / ceiling_rate, "loaderOverNaive": loader_rate / naive_rate,
               "writers": args.writers, "batchSize": args.batch_size, "events": events["loaded"],
               "retries": {f"{entity} {code}": n for (entity, code), n in sorted(first_load_retries.items())},
               "reloadRetries": sum(reload_retries.values()),
               "sessionsPerSecond": sessions_rate, "sessionsCeilingPerSecond": sessions_ceiling_rate,
               "cpuMicrosPerEvent": {"ceiling": dict(zip(("client", "server"), ceiling_cpu, strict=True)),
                                     "reload": dict(zip(("client", "server"), reload_cpu, strict=True))}}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
