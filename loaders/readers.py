"""Reading export files into raw rows: ``(line, dict)`` pairs, or ``(line, UnreadableRow)`` for a broken line.

``line`` is the physical line number in CSV/JSONL files (the header is line 1 in CSV) and the 1-based
row number in Parquet files. Empty CSV cells and JSON nulls are left out of the dict ("not given").
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from loaders.exports import ExportFile

RawRow = dict[str, Any]


@dataclass(frozen=True)
class UnreadableRow:
    """A line that could not be parsed at all (broken CSV quoting, invalid JSON, wrong column count)."""

    text: str
    message: str


def _open_text(export: ExportFile) -> io.TextIOBase:
    if export.compressed:
        return gzip.open(export.path, "rt", encoding="utf-8", newline="")  # type: ignore[return-value]
    return open(export.path, encoding="utf-8", newline="")  # noqa: SIM115 - closed by the caller's with


def _read_csv(export: ExportFile) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    with _open_text(export) as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip().lstrip("\ufeff") for name in next(reader)]
        except StopIteration:
            return
        width = len(header)
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield reader.line_num, UnreadableRow("", f"broken CSV: {error}")
                continue
            if not values:
                continue
            if len(values) != width:
                yield reader.line_num, UnreadableRow(",".join(values), f"{len(values)} columns, header has {width}")
                continue
            yield reader.line_num, {k: v for k, v in zip(header, values, strict=True) if v != ""}


def _read_jsonl(export: ExportFile) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    with _open_text(export) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError as error:
                yield number, UnreadableRow(text.rstrip("\n"), f"invalid JSON: {error}")
                continue
            if not isinstance(value, dict):
                yield number, UnreadableRow(text.rstrip("\n"), "a JSON object per line expected")
                continue
            yield number, {k: v for k, v in value.items() if v is not None and v != ""}


def _read_parquet(export: ExportFile, batch_rows: int = 50_000) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    number = 0
    for batch in pq.ParquetFile(export.path).iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            number += 1
            yield number, {k: v for k, v in row.items() if v is not None and v != ""}


def read_rows(export: ExportFile) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    """Every row of ``export`` in file order."""
    if export.fmt == "parquet":
        return _read_parquet(export)
    if export.fmt.startswith("csv"):
        return _read_csv(export)
    return _read_jsonl(export)


def count_rows(export: ExportFile) -> int | None:
    """How many rows ``export`` holds (for a progress bar's ETA); cheap for Parquet, a line count otherwise."""
    if export.fmt == "parquet":
        return pq.ParquetFile(export.path).metadata.num_rows
    opener = gzip.open if export.compressed else open
    with opener(export.path, "rb") as handle:  # type: ignore[operator]
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(0, lines - 1) if export.fmt.startswith("csv") else lines
