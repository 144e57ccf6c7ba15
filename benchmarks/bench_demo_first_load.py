"""Benchmark: the Online Retail history and the demo's layer into a new local database, as ``make demo``'s first run.

Two new local homes (``CUSTOMER_GRAPH_HOME`` in a temporary folder, free ports), one after the other, the
same code and rows:

- **bulk first** (what ``customer-graph up`` does on a new home): ``load-online-retail --bulk
  --with-demo-channels`` while the database does not exist yet: read and validate the history and the
  synthetic layer, write the import CSVs, ``neo4j-admin database import``, the server's first start, the
  schema, then the entities written after the import (consents, pings, loyalty scans, responses);
- **transactional** (the baseline, what ``up`` did before): ``db start`` (the first start), then
  ``load-online-retail`` and ``load-demo-channels`` through the transactional writers.

Both pay one first start; "loading" is the rest. It prints each step, both totals, the loading times and
their ratio, and checks that both databases hold the same counts per label and relationship type. Then
each database gets an algorithms run, timed: a graph that was imported must not make the next step
slower. ``--history-only`` compares the history alone (and skips the algorithms); ``--drop DIR`` compares on
a nightly drop folder instead (e.g. ``bench_loaders.py``'s 1M-event drop: issue 17's "≥ 4x the transactional
rate on the same rows"). Each server is stopped and its home deleted at the end.

Run: ``.venv/bin/python benchmarks/bench_demo_first_load.py`` (needs nothing running; uses its own ports).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graph_model.local_server.server import free_port  # noqa: E402

COUNTS = """CALL { MATCH (n) UNWIND labels(n) AS name RETURN 'node:' + name AS what, count(*) AS n
                   UNION ALL MATCH ()-[r]->() RETURN 'rel:' + type(r) AS what, count(*) AS n }
            RETURN what, n ORDER BY what"""


def _cli(env: dict[str, str], *args: str) -> float:
    """Run ``customer-graph ARGS`` in ``env``; its wall time in seconds."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "customer_graph", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "CUSTOMER_GRAPH_HOME": str(home), "NEO4J_BOLT_PORT": str(free_port()),
            "NEO4J_HTTP_PORT": str(free_port())}


def _counts(env: dict[str, str]) -> dict[str, int]:
    code = ("import json; from graph_model.connection import run_query; "
            f"print(json.dumps({{r['what']: r['n'] for r in run_query({COUNTS!r}, write=False)}}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    counts: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return counts


def _load(drop: Path | None) -> list[str]:
    """The load command: the Online Retail history, or a drop folder (``--drop``)."""
    return ["load", str(drop)] if drop else ["load-online-retail"]


def bulk_first(home: Path, layer: bool, drop: Path | None = None) -> dict[str, Any]:
    """The history (and the layer) bulk-imported into a database not created yet; the steps' seconds (bulk.json)."""
    env = _env(home)
    total = _cli(env, *_load(drop), "--bulk", *(["--with-demo-channels"] if layer else []),
                 "--report-dir", str(home / "report"))
    steps = json.loads((home / "report" / "bulk.json").read_text())["seconds"]
    return {"total": total, "start": steps["start"], "steps": steps, "counts": _counts(env), "env": env}


def transactional(home: Path, layer: bool, drop: Path | None = None) -> dict[str, Any]:
    """The first start, then the history (and the layer) through the transactional writers."""
    env = _env(home)
    start = _cli(env, "db", "start")
    load = _cli(env, *_load(drop), "--report-dir", str(home / "report"))
    steps = {"start": start, "history": load}
    if layer:
        steps["channels"] = _cli(env, "load-demo-channels", "--report-dir", str(home / "report-channels"))
    total = sum(steps.values())
    return {"total": total, "start": start, "steps": steps, "counts": _counts(env), "env": env}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--history-only", action="store_true",
                        help="the history alone (no synthetic layer, no algorithms run)")
    parser.add_argument("--drop", type=Path, default=None,
                        help="compare on this nightly drop folder instead of the history (no layer, no algorithms), "
                             "e.g. bench_loaders.py's 1M-event drop")
    args = parser.parse_args(argv)
    args.history_only = args.history_only or args.drop is not None
    root = Path(tempfile.mkdtemp(prefix="bench-demo-load-"))
    runs: dict[str, dict[str, Any]] = {}
    try:
        for name, run in (("bulk first", bulk_first), ("transactional", transactional)):
            runs[name] = run(root / name.replace(" ", "-"), not args.history_only, args.drop)
            steps = ", ".join(f"{k} {v:.1f}" for k, v in runs[name]["steps"].items() if k != "total")
            print(f"{name:<14} {runs[name]['total']:6.1f} s in all, loading {runs[name]['total'] - runs[name]['start']:5.1f} s"
                  f" (steps, s: {steps})", flush=True)
            if not args.history_only:
                runs[name]["algorithms"] = _cli(runs[name]["env"], "algorithms", "run")
                print(f"{'':<14} then: algorithms {runs[name]['algorithms']:.1f} s", flush=True)
            _cli(runs[name]["env"], "db", "stop")
    finally:
        for run in runs.values():
            subprocess.run([sys.executable, "-m", "customer_graph", "db", "stop"], env=run["env"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(root, ignore_errors=True)
    bulk, tx = runs["bulk first"], runs["transactional"]
    same = bulk["counts"] == tx["counts"]
    ratio = (tx["total"] - tx["start"]) / (bulk["total"] - bulk["start"])
    print(f"loading: transactional / bulk first = {ratio:.2f}x; in all {tx['total'] / bulk['total']:.2f}x; "
          f"same counts per label and type: {same}")
    if args.json:
        args.json.write_text(json.dumps({name: {k: v for k, v in run.items() if k != "env"}
                                         for name, run in runs.items()} | {"ratio": ratio, "sameCounts": same},
                                        indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
