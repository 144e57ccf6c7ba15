"""Loading a drop twice changes nothing; a later drop upserts attributes, appends activity and re-chains
sessions that received late events; killing the loader mid-file and re-running gives the clean graph."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from graph_model.connection import run_query
from graph_model.database import clear_graph
from graph_model.settings import Settings
from loaders.exports import write_table
from loaders.fingerprint import graph_fingerprint
from loaders.generator import GeneratorConfig, generate
from loaders.pipeline import LoadOptions, load_drop


def _chain(session_id: str) -> list[tuple[str, float | None]]:
    rows = run_query(
        "MATCH (:Session {sessionId: $s})-[:CONTAINS]->(e:Event) WHERE NOT ()-[:NEXT]->(e) "
        "MATCH path = (e)-[:NEXT*0..]->(last) WHERE NOT (last)-[:NEXT]->() "
        "RETURN [n IN nodes(path) | n.eventId] AS ids, [r IN relationships(path) | r.gapSeconds] AS gaps",
        {"s": session_id})
    assert len(rows) == 1, rows  # exactly one chain start: the chain is connected
    return list(zip(rows[0]["ids"], [None, *rows[0]["gaps"]], strict=True))


def test_later_drops_upsert_and_late_events_are_chained_in_time_order(graph, tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    write_table(pd.DataFrame([
        {"customerId": "C1", "name": "Ann", "city": "Leeds", "updatedAt": "2026-11-01T00:00:00Z"},
        {"customerId": "C2", "name": "Bob", "updatedAt": "2026-11-01T00:00:00Z"},
    ]), day1 / "customers.csv")
    write_table(pd.DataFrame([{"sessionId": "S1", "channel": "web", "startedAt": "2026-11-01T10:00:00Z",
                               "customerId": "C1"}]), day1 / "sessions.csv")
    write_table(pd.DataFrame([
        {"eventId": "E1", "sessionId": "S1", "type": "page_view", "at": "2026-11-01T10:00:00Z"},
        {"eventId": "E3", "sessionId": "S1", "type": "page_view", "at": "2026-11-01T10:00:30Z"},
    ]), day1 / "events.csv")
    write_table(pd.DataFrame([
        {"customerId": "C1", "city": "York", "updatedAt": "2026-11-02T00:00:00Z"},      # newer: wins, keeps name
        {"customerId": "C2", "name": "Robert", "updatedAt": "2026-10-01T00:00:00Z"},    # older: ignored
    ]), day2 / "customers.csv")
    write_table(pd.DataFrame([
        {"eventId": "E2", "sessionId": "S1", "type": "search", "at": "2026-11-01T10:00:10.250Z", "query": "Red  Mug"},
        {"eventId": "E4", "sessionId": "S1", "type": "page_view", "at": "2026-11-01T10:01:00Z"},
    ]), day2 / "events.jsonl")

    options = LoadOptions(report_dir=tmp_path / "run1")
    load_drop(day1, options)
    assert _chain("S1") == [("E1", None), ("E3", 30.0)]
    load_drop(day2, LoadOptions(report_dir=tmp_path / "run2"))
    assert _chain("S1") == [("E1", None), ("E2", 10.25), ("E3", 19.75), ("E4", 30.0)]
    people = {r["id"]: r for r in run_query("MATCH (c:Customer) RETURN c.customerId AS id, c.name AS name, "
                                            "c.city AS city")}
    assert (people["C1"]["name"], people["C1"]["city"]) == ("Ann", "York")
    assert people["C2"]["name"] == "Bob"
    assert run_query("MATCH (:Event {eventId: 'E2'})-[:SEARCHED]->(q) RETURN q.text AS t")[0]["t"] == "red mug"

    once = graph_fingerprint()
    load_drop(day1, LoadOptions(report_dir=tmp_path / "run3"))
    load_drop(day2, LoadOptions(report_dir=tmp_path / "run4"))
    assert graph_fingerprint() == once


def test_load_twice_and_kill_then_rerun_equal_a_clean_run(graph: Settings, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    generate(GeneratorConfig(customers=200, days=4, seed=3, dirty_share=0.002), drop)
    options = LoadOptions(report_dir=tmp_path / "clean", batch_size=200)
    clean_report = load_drop(drop, options)
    clean = graph_fingerprint()
    assert clean.nodes["Event"] > 900 and clean_report["totals"]["rejected"] > 0

    load_drop(drop, LoadOptions(report_dir=tmp_path / "again", batch_size=200))
    assert graph_fingerprint() == clean

    clear_graph()
    env = {**os.environ, "NEO4J_URI": graph.bolt_uri, "NEO4J_USER": graph.user, "NEO4J_PASSWORD": graph.password,
           "NEO4J_DATABASE": graph.database}
    command = [sys.executable, "-m", "customer_graph", "load", str(drop), "--batch-size", "50",
               "--report-dir", str(tmp_path / "killed")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if run_query("MATCH (e:Event) RETURN count(e) AS n")[0]["n"] >= 300:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL, "the loader finished before it could be killed"
    partial = run_query("MATCH (e:Event) RETURN count(e) AS n")[0]["n"]
    assert 0 < partial < clean.nodes["Event"]

    load_drop(drop, LoadOptions(report_dir=tmp_path / "rerun", batch_size=200))
    assert graph_fingerprint() == clean
