"""Every export format loads the same drop into the same graph; the readers report broken lines."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from loaders.exports import FORMATS, recognise
from loaders.fingerprint import graph_fingerprint
from loaders.generator import GeneratorConfig, generate
from loaders.pipeline import LoadOptions, load_drop
from loaders.readers import UnreadableRow, read_rows


def _load(tmp_path: Path, fmt: str) -> dict:
    drop = tmp_path / fmt.replace(".", "_")
    generate(GeneratorConfig(customers=40, days=2, seed=11, fmt=fmt), drop)
    return load_drop(drop, LoadOptions(report_dir=tmp_path / f"run-{fmt}", batch_size=300))


def test_every_format_gives_the_same_graph(graph, tmp_path: Path) -> None:
    fingerprints = {}
    for fmt in FORMATS:
        from graph_model.database import clear_graph

        clear_graph()
        report = _load(tmp_path, fmt)
        # nothing rejected but the pings of the customers without location consent (the generator's 15 %)
        reasons = {name: stats["rejectReasons"] for name, stats in report["entities"].items() if stats["rejectReasons"]}
        assert set(reasons) == {"pings"} and set(reasons["pings"]) == {"no_consent"}, report["entities"]
        assert report["totals"]["rejected"] == report["totals"]["withheld"] > 0 and report["rejectShare"] == 0
        assert report["entities"]["pings"]["visitsFromPings"] > 0
        assert report["entities"]["events"]["loaded"] > 40
        fingerprints[fmt] = graph_fingerprint()
    reference = fingerprints["csv"]
    assert reference.nodes["Event"] > 40 and reference.relationships["NEXT"] > 20
    for fmt, fingerprint in fingerprints.items():
        assert fingerprint == reference, fmt


def test_names_are_recognised(tmp_path: Path) -> None:
    assert recognise(tmp_path / "events.csv.gz").entity == "events"
    assert recognise(tmp_path / "loyalty_scans-2026-11-01.parquet").entity == "loyalty_scans"
    assert recognise(tmp_path / "orders.jsonl").fmt == "jsonl"
    assert recognise(tmp_path / "notes.txt") is None
    assert recognise(tmp_path / "unknown.csv") is None
    assert recognise(tmp_path / "dump.csv", entity="orders").entity == "orders"


def test_broken_lines_are_reported_with_their_line_number(tmp_path: Path) -> None:
    jsonl = tmp_path / "events.jsonl.gz"
    with gzip.open(jsonl, "wt") as handle:
        handle.write('{"eventId": "E1"}\n{broken\n\n["not", "an", "object"]\n{"eventId": "E2", "page": null}\n')
    rows = list(read_rows(recognise(jsonl)))
    assert [line for line, _ in rows] == [1, 2, 4, 5]
    assert isinstance(rows[1][1], UnreadableRow) and "invalid JSON" in rows[1][1].message
    assert isinstance(rows[2][1], UnreadableRow)
    assert rows[3][1] == {"eventId": "E2"}  # nulls are "not given"

    csv_file = tmp_path / "orders.csv"
    csv_file.write_text('orderId,line,sku\nO1,1,"multi\nline"\nO2,2\nO3,3,P3\n', encoding="utf-8")
    rows = list(read_rows(recognise(csv_file)))
    assert rows[0] == (3, {"orderId": "O1", "line": "1", "sku": "multi\nline"})
    assert rows[1][0] == 4 and isinstance(rows[1][1], UnreadableRow)
    assert rows[2] == (5, {"orderId": "O3", "line": "3", "sku": "P3"})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generator_is_deterministic(tmp_path: Path, fmt: str) -> None:
    first = generate(GeneratorConfig(customers=30, days=2, seed=5, fmt=fmt), tmp_path / "a")
    second = generate(GeneratorConfig(customers=30, days=2, seed=5, fmt=fmt), tmp_path / "b")
    assert first == second
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
