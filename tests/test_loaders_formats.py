"""Every export format loads the same drop into the same graph; the readers report broken lines."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loaders import readers
from loaders.exports import FORMATS, recognise
from loaders.fingerprint import graph_fingerprint
from loaders.generator import GeneratorConfig, generate
from loaders.pipeline import LoadOptions, load_drop
from loaders.readers import UnreadableRow, count_rows, read_rows


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


def _rows(path: Path) -> list[tuple[int, object]]:
    return [(line, row if isinstance(row, dict) else ("unreadable", row.message, row.text))
            for line, row in read_rows(recognise(path))]


@pytest.mark.parametrize("name", ["orders.csv", "orders.csv.gz"])
def test_a_csv_line_the_parser_cannot_take_is_one_unreadable_row(tmp_path: Path, name: str) -> None:
    data = b"".join([
        b"orderId,line,sku\n",
        b'O1,1,"two\n',                                       # lines 2-3: one record, a Latin-1 byte in it
        b'lines \xe9"\n',
        b"O2,2," + b"x" * (csv.field_size_limit() + 1) + b"\n",  # line 4: over the csv module's field limit
        b"O3,3,P3\n",
        b"O4,4,\xff\xfe\n",                                    # line 6
        b"O5,5,P5\n",
    ])
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    rows = _rows(path)
    assert [line for line, _ in rows] == [3, 4, 5, 6, 7]
    assert rows[0] == (3, ("unreadable", "not UTF-8: byte 0xe9 at byte 6 of line 3", 'lines \ufffd"'))
    assert rows[1][1][0] == "unreadable" and "field larger than field limit" in rows[1][1][1]
    assert rows[2] == (5, {"orderId": "O3", "line": "3", "sku": "P3"})
    assert rows[3] == (6, ("unreadable", "not UTF-8: byte 0xff at byte 5 of line 6", "O4,4,\ufffd\ufffd"))
    assert rows[4] == (7, {"orderId": "O5", "line": "5", "sku": "P5"})


def test_a_line_too_long_to_read_is_skipped_without_keeping_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "MAX_LINE_CHARS", 100)
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('{"eventId": "E1"}\n{"eventId": "' + "x" * 1_000 + '"}\n{"eventId": "E3"}\n', encoding="utf-8")
    rows = _rows(jsonl)
    assert rows[0] == (1, {"eventId": "E1"}) and rows[2] == (3, {"eventId": "E3"})
    assert rows[1][1][:2] == ("unreadable", "line longer than 100 characters (1015), not read")
    assert len(rows[1][1][2]) < 1_100

    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("orderId,sku\nO1," + "x" * 1_000 + "\nO2,P2\n", encoding="utf-8")
    assert _rows(csv_file) == [(2, ("unreadable", "line longer than 100 characters (1003), not read", "O1," + "x" * 98 + "…")),
                               (3, {"orderId": "O2", "sku": "P2"})]


def test_json_the_parser_refuses_in_any_way_is_one_unreadable_row(tmp_path: Path) -> None:
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("\n".join(['{"n": ' + "9" * 5_000 + "}", "[" * 100_000, '{"a": ' * 50_000, '{"eventId": "E4"}']),
                     encoding="utf-8")
    rows = _rows(jsonl)
    assert [line for line, _ in rows] == [1, 2, 3, 4]
    assert all(row[0] == "unreadable" and row[1].startswith("invalid JSON") for _, row in rows[:3])
    assert rows[3] == (4, {"eventId": "E4"})


def test_a_gzip_file_that_breaks_off_keeps_the_rows_before(tmp_path: Path) -> None:
    data = b"orderId,line\n" + b"".join(b"O%d,1\n" % i for i in range(20_000))
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(data)[:-100])
    rows = _rows(path)
    assert 10_000 < len(rows) <= 20_000
    assert rows[0] == (2, {"orderId": "O0", "line": "1"})
    assert all(isinstance(row, dict) for _, row in rows[:-1])
    line, last = rows[-1]
    assert line == len(rows) + 1 and last[0] == "unreadable"
    assert last[1].startswith(f"the file cannot be read past line {line - 1}: EOFError")
    assert count_rows(recognise(path)) is None

    not_gzip = tmp_path / "events.jsonl.gz"
    not_gzip.write_text('{"eventId": "E1"}\n', encoding="utf-8")
    assert [(line, row[0]) for line, row in _rows(not_gzip)] == [(1, "unreadable")]
    assert "Not a gzipped file" in _rows(not_gzip)[0][1][1]


def test_a_parquet_value_python_cannot_hold_is_one_unreadable_row(tmp_path: Path) -> None:
    """Found by hand (stop 37): a timestamp in year 31,690 stopped the whole load with an OverflowError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    opened = pa.array([10**9, 10**12, None], type=pa.timestamp("s", tz="UTC"))
    pq.write_table(pa.table({"storeId": ["S1", "S2", "S3"], "openedAt": opened}), tmp_path / "stores.parquet")
    rows = list(read_rows(recognise(tmp_path / "stores.parquet")))
    assert [line for line, _ in rows] == [1, 2, 3]
    assert rows[0][1] == {"storeId": "S1", "openedAt": datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)}
    assert rows[1][1] == UnreadableRow("", "a value Python cannot hold: openedAt: date value out of range")
    assert rows[2][1] == {"storeId": "S3"}


def test_a_corrupt_parquet_file_keeps_the_rows_before_and_says_where(tmp_path: Path) -> None:
    """Found by the stop-37 audit: a corrupt ``.parquet`` stopped the whole drop (``ArrowInvalid``, no report),
    where a broken gzip stream is one unreadable row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "stores.parquet"
    pq.write_table(pa.table({"storeId": [f"S{n}" for n in range(6)]}), path, row_group_size=3, compression="none")
    second = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[second:second + 16] = b"\xff" * 16  # the second row group's page header
    path.write_bytes(bytes(data))
    rows = list(read_rows(recognise(path)))
    assert rows[:3] == [(1, {"storeId": "S0"}), (2, {"storeId": "S1"}), (3, {"storeId": "S2"})]
    [(line, last)] = rows[3:]
    assert line == 4 and isinstance(last, UnreadableRow)
    assert last.message.startswith("the file cannot be read past row 3: "), last.message

    not_parquet = tmp_path / "events.parquet"
    not_parquet.write_text("eventId\nE1\n", encoding="utf-8")
    [(line, unreadable)] = list(read_rows(recognise(not_parquet)))
    assert line == 1 and unreadable.message.startswith("the file cannot be read as Parquet: ArrowInvalid")
    assert count_rows(recognise(not_parquet)) is None


def test_a_drop_without_any_export_file_is_an_error_not_an_empty_success(tmp_path: Path) -> None:
    """Found by the stop-37 audit: a wrong folder, or an export that failed upstream, loaded nothing and exited 0."""
    from loaders.pipeline import LoadError, load_drop

    with pytest.raises(LoadError, match="no export file in"):
        load_drop(tmp_path)
    (tmp_path / "Customers-export.xlsx").write_text("not an export")
    with pytest.raises(LoadError, match=r"\(not recognised: Customers-export.xlsx\): name files <entity>"):
        load_drop(tmp_path)


def test_a_nul_character_makes_its_line_unreadable(tmp_path: Path) -> None:
    """Found by the stop-37 audit: a NUL byte in a CSV value was stored as text (and went into the bulk
    import's files); no one types one, a corrupt or binary export does."""
    csv_file = tmp_path / "customers.csv"
    csv_file.write_bytes(b"customerId,name\nC1,Ann\nC2,Bo\x00b\nC3,Cy\n")
    assert _rows(csv_file) == [(2, {"customerId": "C1", "name": "Ann"}),
                               (3, ("unreadable", "a NUL character in line 3", "C2,Bo\ufffdb")),
                               (4, {"customerId": "C3", "name": "Cy"})]
    jsonl = tmp_path / "customers.jsonl"
    jsonl.write_text('{"customerId": "C1"}\n{"customerId": "C2", "name": "Bo\\u0000b"}\n', encoding="utf-8")
    assert [(line, row[0] if isinstance(row, tuple) else row) for line, row in _rows(jsonl)] == [
        (1, {"customerId": "C1"}), (2, "unreadable")]


def test_a_header_naming_a_column_twice_is_not_guessed_at(tmp_path: Path) -> None:
    """Found by the stop-37 audit: `customerId,name,city,city` loaded the last city silently."""
    path = tmp_path / "customers.csv"
    path.write_text("customerId,name,city,city\nC1,Ann,Leeds,Paris\n", encoding="utf-8")
    assert _rows(path) == [(1, ("unreadable", "the header names city more than once: the file was not read",
                                "customerId,name,city,city"))]


def test_a_json_line_naming_a_key_twice_is_not_guessed_at(tmp_path: Path) -> None:
    """Left by the stop-37 audit: `{"customerId": "A", "customerId": "B"}` loaded as B (the parser keeps the last)."""
    path = tmp_path / "customers.jsonl"
    path.write_text('{"customerId": "A", "name": "Ann", "customerId": "B"}\n'
                    '{"customerId": "C", "traits": {"x": 1, "x": 2}}\n{"customerId": "D"}\n', encoding="utf-8")
    rows = _rows(path)
    assert rows[0] == (1, ("unreadable", "invalid JSON: the key 'customerId' appears twice in one object",
                           '{"customerId": "A", "name": "Ann", "customerId": "B"}'))
    assert rows[1][1][:2] == ("unreadable", "invalid JSON: the key 'x' appears twice in one object")
    assert rows[2] == (3, {"customerId": "D"})
