r"""Reading export files into raw rows: ``(line, dict)`` pairs, or ``(line, UnreadableRow)`` for a broken line.

``line`` is the physical line number in CSV/JSONL files (the header is line 1 in CSV) and the 1-based
row number in Parquet files. Empty CSV cells and JSON nulls are left out of the dict ("not given").

One bad line never stops a file: a line that is not UTF-8, longer than :data:`MAX_LINE_CHARS`, or that the
CSV/JSON parser cannot take in any way (broken quoting, a field over the csv module's size limit, JSON
nested too deeply, ...) is one :class:`UnreadableRow` and reading goes on with the next line; so is a Parquet
row holding a value Python cannot (a timestamp past year 9999). A file that
cannot be read on (a truncated or corrupt gzip stream, say) ends with one :class:`UnreadableRow` saying so,
after the rows read before it (of a truncated gzip stream, its last decoded block is lost too):

>>> import gzip, tempfile
>>> from pathlib import Path
>>> from loaders.exports import recognise
>>> folder = Path(tempfile.mkdtemp())
>>> lines = [b'{"storeId": "S1"}', b'{"name": "\xff"}', b"[" * 100_000, b'{"storeId": "S2"}']
>>> _ = (folder / "stores.jsonl").write_bytes(b"\n".join(lines) + b"\n")
>>> for line, row in read_rows(recognise(folder / "stores.jsonl")):
...     print(line, row if isinstance(row, dict) else row.message)
1 {'storeId': 'S1'}
2 not UTF-8: byte 0xff at byte 10 of line 2
3 invalid JSON: nested too deeply to parse
4 {'storeId': 'S2'}
>>> truncated = gzip.compress(b"storeId,name\nS1,Leeds\n" + b"S2,York\n" * 2000)[:-12]
>>> _ = (folder / "stores.csv.gz").write_bytes(truncated)
>>> rows = list(read_rows(recognise(folder / "stores.csv.gz")))
>>> rows[0]
(2, {'storeId': 'S1', 'name': 'Leeds'})
>>> rows[-1][1].message  # doctest: +ELLIPSIS
'the file cannot be read past line ...: EOFError: Compressed file ended before the end-of-stream marker was reached'
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loaders.exports import ExportFile

RawRow = dict[str, Any]

#: a longer line is not parsed (its text is not kept either): bounded memory and work per line
MAX_LINE_CHARS = 4 * 1024 * 1024
_KEPT_CHARS = 1_000  # of an overlong line, for the rejects file

#: what reading a file may raise part-way (I/O, a corrupt or truncated gzip stream)
_READ_ERRORS = (OSError, EOFError, zlib.error)
#: what converting a Parquet value to Python may raise (a timestamp outside years 1-9999, say)
_VALUE_ERRORS = (ValueError, OverflowError, pa.ArrowException)


@dataclass(frozen=True)
class UnreadableRow:
    """A line that could not be parsed at all (not UTF-8, broken CSV quoting, invalid JSON, wrong column count)."""

    text: str
    message: str


def _open_text(export: ExportFile) -> io.TextIOBase:
    # surrogateescape: an undecodable byte never raises while reading; _Lines finds it per line
    if export.compressed:
        return gzip.open(export.path, "rt", encoding="utf-8", errors="surrogateescape",  # type: ignore[return-value]
                         newline="")
    return open(export.path, encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115 - closed by the caller's with


def _printable(text: str) -> str:
    """``text`` with the bytes that were not UTF-8 as U+FFFD (a rejects file must be UTF-8 itself)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _not_utf8(text: str, number: int) -> str | None:
    """Why line ``number``, ``text`` (decoded with surrogateescape), is not UTF-8, or ``None`` when it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as error:
            return f"not UTF-8: byte {raw[error.start]:#04x} at byte {error.start} of line {number}"
        return "not UTF-8"  # pragma: no cover - a surrogate always comes from an undecodable byte
    return None


class _Lines:
    """The physical lines of a text file, each one UTF-8 and at most :data:`MAX_LINE_CHARS` long.

    A line that is neither is recorded in :attr:`bad` (line number -> message, text) and given to the
    parser with U+FFFD for the undecodable bytes (so CSV quoting stays as it was), or as an empty line
    when too long; a read error ends the lines and is kept in :attr:`failure`.
    """

    def __init__(self, handle: io.TextIOBase) -> None:
        self.handle = handle
        self.number = 0
        self.bad: dict[int, tuple[str, str]] = {}
        self.failure: str | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            while True:
                text = self.handle.readline(MAX_LINE_CHARS + 1)
                if not text:
                    return
                self.number += 1
                if self.number == 1:
                    text = text.lstrip("\ufeff")
                if len(text) > MAX_LINE_CHARS and not text.endswith(("\n", "\r")):
                    length = len(text) + self._skip_rest()
                    self.bad[self.number] = (f"line longer than {MAX_LINE_CHARS} characters ({length}), not read",
                                             _printable(text[:_KEPT_CHARS]) + "…")
                    yield "\n"
                    continue
                problem = None if text.isascii() else _not_utf8(text, self.number)
                if problem is None and "\x00" in text:  # no one types a NUL: a corrupt or binary export
                    problem = f"a NUL character in line {self.number}"
                    text = text.replace("\x00", "\ufffd")
                if problem:
                    text = _printable(text)
                    self.bad[self.number] = (problem, text.rstrip("\r\n"))
                yield text
        except _READ_ERRORS as error:
            self.failure = f"the file cannot be read past line {self.number}: {type(error).__name__}: {error}"

    def _skip_rest(self) -> int:
        skipped = 0
        while True:
            text = self.handle.readline(MAX_LINE_CHARS)
            skipped += len(text.rstrip("\r\n"))
            if not text or text.endswith(("\n", "\r")):
                return skipped

    def take_bad(self, first: int, last: int) -> tuple[str, str] | None:
        """The first bad line's (message, text) among lines ``first..last``, forgetting those lines."""
        if not self.bad:
            return None
        found = [self.bad.pop(n) for n in range(first, last + 1) if n in self.bad]
        return found[0] if found else None


def _read_csv(export: ExportFile) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    with _open_text(export) as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines)
        try:
            header_values = next(reader)
        except StopIteration:
            if lines.failure:
                yield max(1, lines.number), UnreadableRow("", lines.failure)
            return
        except Exception as error:  # noqa: BLE001 - no header, no rows: the file is one unreadable row
            yield reader.line_num, UnreadableRow("", f"broken CSV header, the file was not read: {error}")
            return
        # a header that is not UTF-8 keeps its names with U+FFFD (rows then miss the fields it names);
        # one too long to read leaves no header at all
        bad_header = lines.take_bad(1, reader.line_num)
        if bad_header and not header_values:
            yield reader.line_num, UnreadableRow(bad_header[1], f"{bad_header[0]}: the header, the file was not read")
            return
        header = [name.strip().lstrip("\ufeff") for name in header_values]
        twice = sorted(name for name, seen in Counter(header).items() if name and seen > 1)
        if twice:  # which of the two is meant? (a row would keep the last one silently)
            yield reader.line_num, UnreadableRow(",".join(header)[:_KEPT_CHARS], f"the header names {', '.join(twice)} "
                                                 "more than once: the file was not read")
            return
        width = len(header)
        last = reader.line_num
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except Exception as error:  # noqa: BLE001 - csv.Error mostly; whatever the parser raises, it is one row
                bad = lines.take_bad(last + 1, reader.line_num)
                last = reader.line_num
                yield last, UnreadableRow(bad[1] if bad else "", bad[0] if bad else f"broken CSV: {error}")
                continue
            bad = lines.take_bad(last + 1, reader.line_num)
            last = reader.line_num
            if bad:
                yield last, UnreadableRow(bad[1], bad[0])
                continue
            if not values:
                continue
            if len(values) != width:
                yield last, UnreadableRow(",".join(values), f"{len(values)} columns, header has {width}")
                continue
            yield last, {k: v for k, v in zip(header, values, strict=True) if v != ""}
        if lines.failure:
            yield lines.number + 1, UnreadableRow("", lines.failure)


def _object_of_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, or a ``ValueError`` when it names a key twice (which value was meant? The parser kept the
    last one silently: ``{"customerId": "A", "customerId": "B"}`` loaded as B)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key[:80]!r} appears twice in one object")
            seen.add(key)
    return value


#: The JSON lines' parser (built once: ``json.loads`` with a hook builds a decoder per call, +2.8 us a line).
_JSON_LINE = json.JSONDecoder(object_pairs_hook=_object_of_unique_keys)


def _read_jsonl(export: ExportFile) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    with _open_text(export) as handle:
        lines = _Lines(handle)
        for text in lines:
            number = lines.number
            bad = lines.take_bad(number, number)
            if bad:
                yield number, UnreadableRow(bad[1], bad[0])
                continue
            if not text.strip():
                continue
            if "\\u0000" in text:  # JSON's escape of a NUL character (see _Lines for the character itself)
                yield number, UnreadableRow(text.rstrip("\r\n"), f"a NUL character (\\u0000) in line {number}")
                continue
            try:
                value = _JSON_LINE.decode(text)
            except RecursionError:
                yield number, UnreadableRow(text.rstrip("\r\n"), "invalid JSON: nested too deeply to parse")
                continue
            except Exception as error:  # noqa: BLE001 - whatever the parser raises, the line is unreadable
                yield number, UnreadableRow(text.rstrip("\r\n"), f"invalid JSON: {error}")
                continue
            if not isinstance(value, dict):
                yield number, UnreadableRow(text.rstrip("\r\n"), "a JSON object per line expected")
                continue
            yield number, {k: v for k, v in value.items() if v is not None and v != ""}
        if lines.failure:
            yield lines.number + 1, UnreadableRow("", lines.failure)


def _parquet_row(batch: pa.RecordBatch, index: int) -> RawRow | UnreadableRow:
    """Row ``index`` of ``batch``, or why Python cannot hold one of its values (a timestamp in year 31,690)."""
    row: RawRow = {}
    problems = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            row[name] = column[index].as_py()
        except _VALUE_ERRORS as error:
            problems.append(f"{name}: {error}")
    if problems:
        return UnreadableRow("", "a value Python cannot hold: " + "; ".join(problems))
    return row


def _read_parquet(export: ExportFile, batch_rows: int = 50_000) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    """The rows of a Parquet file; a file that is not Parquet, or a corrupt part of one, ends the rows with
    one unreadable row saying where (the rows read before it are kept), as a broken gzip stream does."""
    number = 0
    try:
        parquet = pq.ParquetFile(export.path)
        # group by group: a corrupt row group ends the rows after the groups before it
        batches = (batch for group in range(parquet.num_row_groups)
                   for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group]))
        for batch in batches:
            try:
                rows: list[RawRow | UnreadableRow] = batch.to_pylist()
            except _VALUE_ERRORS:  # one value out of Python's range: the batch row by row, that row unreadable
                rows = [_parquet_row(batch, index) for index in range(batch.num_rows)]
            for row in rows:
                number += 1
                if isinstance(row, UnreadableRow):
                    yield number, row
                else:
                    yield number, {k: v for k, v in row.items() if v is not None and v != ""}
    except (*_READ_ERRORS, pa.ArrowException) as error:
        where = f"past row {number}" if number else "as Parquet"
        detail = " ".join(str(error).split())  # Arrow's messages span lines
        yield number + 1, UnreadableRow("", f"the file cannot be read {where}: {type(error).__name__}: {detail}")


def read_rows(export: ExportFile) -> Iterator[tuple[int, RawRow | UnreadableRow]]:
    """Every row of ``export`` in file order."""
    if export.fmt == "parquet":
        return _read_parquet(export)
    if export.fmt.startswith("csv"):
        return _read_csv(export)
    return _read_jsonl(export)


def count_rows(export: ExportFile) -> int | None:
    """How many rows ``export`` holds (for a progress bar's ETA); cheap for Parquet, a line count otherwise.

    ``None`` when the file cannot be read to its end.
    """
    if export.fmt == "parquet":
        try:
            return pq.ParquetFile(export.path).metadata.num_rows
        except (*_READ_ERRORS, pa.ArrowException):
            return None  # not Parquet: read_rows says so in the rejects
    opener = gzip.open if export.compressed else open
    try:
        with opener(export.path, "rb") as handle:  # type: ignore[operator]
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except _READ_ERRORS:
        return None  # a corrupt or truncated file: read_rows says so in the rejects, the bar has no ETA
    return max(0, lines - 1) if export.fmt.startswith("csv") else lines
