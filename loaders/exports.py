"""Export file names and formats: which entity a file holds, and writing a table in any supported format.

A file is named after its entity, optionally with a tag after a dash, then the format:
``events.csv``, ``events-2026-11-01.jsonl.gz``, ``orders.parquet``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loaders.schemas import ENTITY_ORDER

FORMATS = ("csv", "csv.gz", "jsonl", "jsonl.gz", "parquet")


@dataclass(frozen=True)
class ExportFile:
    """A recognised export file: its path, entity and format (one of :data:`FORMATS`)."""

    path: Path
    entity: str
    fmt: str

    @property
    def compressed(self) -> bool:
        return self.fmt.endswith(".gz")


def detect_format(path: Path) -> str | None:
    """The format of ``path`` judged by its suffixes, or ``None``."""
    name = path.name.lower()
    for fmt in sorted(FORMATS, key=len, reverse=True):
        if name.endswith("." + fmt):
            return fmt
    return None


def recognise(path: Path, entity: str | None = None) -> ExportFile | None:
    """Describe ``path`` as an export of ``entity`` (taken from its name when not given), or ``None``."""
    fmt = detect_format(path)
    if fmt is None:
        return None
    if entity is None:
        stem = path.name[: -(len(fmt) + 1)]
        base = stem.split("-", 1)[0]
        entity = base if base in ENTITY_ORDER else None
    return ExportFile(path, entity, fmt) if entity in ENTITY_ORDER else None


def isoformat_times(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its datetime columns as ISO 8601 UTC text (``...Z``)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            values = out[column].to_numpy(dtype="datetime64[s]")
            text = np.char.add(np.datetime_as_string(values, unit="s"), "Z")
            out[column] = np.where(np.isnat(values), None, text)
    return out


def _text_or_none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _uniform_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types (a deliberately broken row) become text, so Parquet can type them."""
    out = frame
    for column in frame.columns:
        if frame[column].dtype == object:
            try:
                pa.array(frame[column], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                out = out.copy() if out is frame else out
                out[column] = frame[column].map(_text_or_none)
    return out


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` in the format its name says (times as ISO 8601 UTC in text formats)."""
    fmt = detect_format(path)
    if fmt is None:
        raise ValueError(f"unknown export format: {path.name} (use one of {', '.join(FORMATS)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        table = pa.Table.from_pandas(_uniform_columns(frame), preserve_index=False)
        pq.write_table(table, path, compression="zstd")
        return path
    text_frame = isoformat_times(frame)
    opener = gzip.open if fmt.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
        if fmt.startswith("csv"):
            text_frame.to_csv(handle, index=False)
        else:
            text_frame.to_json(handle, orient="records", lines=True, force_ascii=False)
    return path
