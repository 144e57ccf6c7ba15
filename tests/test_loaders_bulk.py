"""The bulk first load (neo4j-admin import) gives the same graph and the same report as the transactional loaders.

Each test loads the same rows both ways, one after the other into the session's real Neo4j (emptied in
between): counts per label and relationship type and the property checksum must be equal (audit entries'
ids and times differ on every run and are left out), and so must report.json's counts and reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graph_model.connection import run_query
from graph_model.database import clear_graph
from graph_model.settings import Settings, project_root
from loaders.bulk import cypher_round
from loaders.fingerprint import graph_lines
from loaders.online_retail import load_online_retail
from loaders.pipeline import LoadError, LoadOptions, load_drop

DROP = project_root() / "data" / "examples" / "nightly-drop"


def _counts(report: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in stats.items() if k not in ("durationSeconds", "rowsPerSecond")}
            for name, stats in report["entities"].items()}


def _both_ways(load: Any, tmp_path: Path) -> None:
    if run_query("MATCH (n) RETURN count(n) AS n")[0]["n"]:
        clear_graph()
    transactional = load(LoadOptions(report_dir=tmp_path / "tx", progress=False))
    nodes, rels, lines = graph_lines()
    clear_graph()
    bulk = load(LoadOptions(report_dir=tmp_path / "bulk", progress=False, bulk=True))
    bulk_nodes, bulk_rels, bulk_lines = graph_lines()
    assert bulk_nodes == nodes
    assert bulk_rels == rels
    missing, extra = sorted(set(lines) - set(bulk_lines)), sorted(set(bulk_lines) - set(lines))
    assert (missing[:5], extra[:5]) == ([], [])
    assert bulk_lines == lines
    assert _counts(bulk) == _counts(transactional)
    assert sorted((tmp_path / "bulk" / "rejects.jsonl").read_text().splitlines()) == sorted(
        (tmp_path / "tx" / "rejects.jsonl").read_text().splitlines())
    assert (tmp_path / "bulk" / "bulk.json").exists()


def test_example_drop_same_graph_both_ways(graph: Settings, tmp_path: Path) -> None:
    _both_ways(lambda options: load_drop(DROP, options), tmp_path)


def test_online_retail_slice_same_graph_both_ways(graph: Settings, tmp_path: Path) -> None:
    _both_ways(lambda options: load_online_retail(limit_days=12, options=options), tmp_path)


def test_bulk_refuses_a_database_that_is_not_empty(graph: Settings, tmp_path: Path) -> None:
    run_query("CREATE (:Brand {brandId: 'B1', name: 'x'})")
    with pytest.raises(LoadError, match="empty database"):
        load_drop(DROP, LoadOptions(report_dir=tmp_path, progress=False, bulk=True))
    assert run_query("MATCH (b:Brand) RETURN count(b) AS n")[0]["n"] == 1


def test_csv_only_writes_the_files_and_the_command(graph: Settings, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    load_drop(DROP, LoadOptions(report_dir=tmp_path / "run", progress=False, bulk_csv_only=out, bulk=True))
    assert (out / "nodes" / "Event.csv").read_text().startswith("eventId:ID(Event),")
    assert "neo4j-admin database import full neo4j" in (out / "import.sh").read_text()
    assert {p.name for p in (out / "after").iterdir()} == {"consents.jsonl", "loyalty_scans.jsonl",
                                                            "pings.jsonl", "responses.jsonl"}
    assert run_query("MATCH (n) WHERE NOT n:PrivacyKey RETURN count(n) AS n")[0]["n"] == 0


def test_cypher_round_is_half_up_on_the_decimal_form() -> None:
    assert [cypher_round(2.675), cypher_round(1.005), cypher_round(0.125)] == [2.68, 1.01, 0.13]
