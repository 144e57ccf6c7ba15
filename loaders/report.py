"""The run report: counts per entity, the rejects file beside it, the summary printed at the end.

A run writes into its own folder (``<runs dir>/<UTC time>-<name>/`` by default, see
:func:`graph_model.privacy.redaction.runs_dir`), both files readable by their owner only (0600)::

    report.json     read / loaded / rejected per entity, reasons, duration, rows/s, reject share, ok
    rejects.jsonl   one JSON object per rejected row: file, line, entity, reason, message, row

Rejected rows and their messages are redacted before they are written (personal fields replaced, see
:mod:`graph_model.privacy.redaction`) unless ``CUSTOMER_GRAPH_REJECTS_REDACT=0``. Rows withheld by the
privacy rules (``erased``, ``no_consent``, ``unverified``) are written without the row at all, and do not count towards
the reject share that fails a run: they are expected, not data errors.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from graph_model.privacy.keys import load_key
from graph_model.privacy.redaction import RejectsLock, redact_message, redact_row, redaction_enabled


class RejectReason(StrEnum):
    """Why a row was not loaded. Every rejected row carries exactly one of these codes and a message."""

    UNREADABLE = "unreadable"  # the line could not be parsed (CSV quoting, JSON, column count)
    MISSING_FIELD = "missing_field"  # a required field is empty
    INVALID_VALUE = "invalid_value"  # wrong type, format, range or not one of the allowed values
    UNKNOWN_REFERENCE = "unknown_reference"  # refers to a product/store/session/order/... the graph does not hold
    UNKNOWN_CUSTOMER = "unknown_customer"  # refers to a customer the graph does not hold
    UNKNOWN_IDENTIFIER = "unknown_identifier"  # an identifier (loyalty card) that resolves to no customer
    WRITE_FAILED = "write_failed"  # the database refused the row (message says why)
    NON_PRODUCT_LINE = "non_product_line"  # online retail: postage, fees, manual adjustments (not products)
    STOCK_ADJUSTMENT = "stock_adjustment"  # online retail: a negative line that is no sale (damaged, lost...)
    ERASED = "erased"  # the row's customer or one of its identifiers was erased (right to erasure)
    NO_CONSENT = "no_consent"  # the customer did not consent to this use (location pings without location consent)
    UNVERIFIED = "unverified"  # a consent grant or profile traits sent with a public write key, without proof


MAX_IGNORED_COLUMNS = 50  # named per file in the report (a JSONL file may hold any keys)
MAX_COLUMN_NAME = 100

WITHHELD_REASONS = frozenset({RejectReason.ERASED, RejectReason.NO_CONSENT, RejectReason.UNVERIFIED})
"""Reasons of rows the privacy rules hold back: expected, so they never make a run fail."""


def private_file(path: Path, *, append: bool = False) -> IO[str]:
    """``path`` opened for writing (truncated, or at its end), readable and writable by its owner only (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC), 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on open: set it
    return os.fdopen(fd, "w", encoding="utf-8")


@dataclass(frozen=True)
class Reject:
    """One rejected row."""

    file: str
    line: int
    entity: str
    reason: RejectReason
    message: str
    row: Any

    def to_json(self, *, redact: bool = False, key: bytes | None = None) -> str:
        """One line of ``rejects.jsonl``; ``redact``: personal fields of row and message replaced."""
        row, message = self.row, self.message
        if redact:
            row, message = redact_row(self.row, key=key), redact_message(self.message, self.row, key=key)
        return json.dumps({"file": self.file, "line": self.line, "entity": self.entity, "reason": str(self.reason),
                           "message": message, "row": row}, default=str, ensure_ascii=False)


@dataclass
class EntityStats:
    """Counts of one entity over a run."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files, "read": self.read, "loaded": self.loaded, "rejected": self.rejected,
            "durationSeconds": round(self.seconds, 3),
            "rowsPerSecond": round(self.read / self.seconds, 1) if self.seconds > 0 else None,
            "rejectReasons": dict(sorted(self.reasons.items())), **self.extra,
        }

    @property
    def withheld(self) -> int:
        """Rejected rows the privacy rules held back (``erased``, ``no_consent``, ``unverified``)."""
        return sum(self.reasons[str(reason)] for reason in WITHHELD_REASONS)


class RunReport:
    """Collects the counts and rejects of one run and writes ``report.json`` / ``rejects.jsonl``."""

    def __init__(self, folder: Path, source: str, max_reject_share: float) -> None:
        self.folder = folder
        self.source = source
        self.max_reject_share = max_reject_share
        self.started = datetime.now(UTC)
        self._t0 = time.perf_counter()
        self.entities: dict[str, EntityStats] = {}
        self.unrecognised_files: list[str] = []
        self.ignored_columns: dict[str, dict[str, str | None]] = {}  # file -> column -> the known one it may mean
        self._lock = threading.Lock()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.rejects_path = folder / "rejects.jsonl"
        self.report_path = folder / "report.json"
        self.redact = redaction_enabled()
        self._key = load_key() if self.redact else None
        self._rejects = private_file(self.rejects_path)  # closed in finish()
        self._rejects_lock = RejectsLock(folder)  # shared with purges (erasures) from any process
        self.on_reject: Callable[[Reject], None] | None = None  # the run's loader remembers whom its rejects name
        self.seconds = 0.0
        self.erased_during_run: dict[str, int] = {}  # what was written of people erased meanwhile, erased again

    def stats(self, entity: str) -> EntityStats:
        with self._lock:
            return self.entities.setdefault(entity, EntityStats())

    def add_loaded(self, entity: str, rows: int) -> None:
        """Count ``rows`` loaded rows of ``entity`` (thread-safe)."""
        with self._lock:
            self.entities.setdefault(entity, EntityStats()).loaded += rows

    def reject(self, reject: Reject) -> None:
        """Record one rejected row (thread-safe): its line is in the file when this returns (flushed, under the
        lock a purge takes: an erasure from another process finds it; until stop 40 lines waited in a buffer,
        so an erasure missed them and a crash lost them)."""
        with self._lock:
            stats = self.entities.setdefault(reject.entity, EntityStats())
            stats.rejected += 1
            stats.reasons[str(reject.reason)] += 1
            line = reject.to_json(redact=self.redact, key=self._key) + "\n"
            with self._rejects_lock:
                self._reopen_if_replaced()
                self._rejects.write(line)
                self._rejects.flush()
            if self.on_reject is not None:
                self.on_reject(reject)

    def _reopen_if_replaced(self) -> None:
        """Open the rejects file again (for appending) when a purge replaced it since it was opened."""
        try:
            replaced = os.stat(self.rejects_path).st_ino != os.fstat(self._rejects.fileno()).st_ino
        except FileNotFoundError:
            replaced = True
        if replaced:
            self._rejects.close()
            self._rejects = private_file(self.rejects_path, append=True)

    def sync_rejects(self) -> None:
        """The rejects written so far on disk (fsync): before what they reject is forgotten (the collector's
        spool marks its messages done)."""
        with self._lock:
            os.fsync(self._rejects.fileno())

    @contextmanager
    def rejects_closed(self) -> Iterator[None]:
        """The rejects file closed while the block runs (an erasure rewrites it without the person's lines),
        then open again at its end."""
        with self._lock:
            self._rejects.close()
            try:
                yield
            finally:
                self._rejects = private_file(self.rejects_path, append=True)

    def erased_again(self, counts: dict[str, int]) -> None:
        """Count what the run wrote of people erased while it ran, and erased again."""
        with self._lock:
            for name, n in counts.items():
                self.erased_during_run[name] = self.erased_during_run.get(name, 0) + n

    def ignore_columns(self, source: str, columns: Iterable[str], known: frozenset[str]) -> None:
        """Record ``columns`` of ``source`` that the format does not know (so they were not loaded), each with
        the known column it most resembles (a misspelling: ``cty`` for ``city``), if any."""
        with self._lock:
            ignored = self.ignored_columns.setdefault(source, {})
            for column in columns:
                column = str(column)[:MAX_COLUMN_NAME]
                if column not in ignored and len(ignored) < MAX_IGNORED_COLUMNS:
                    close = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
                    ignored[column] = close[0] if close else None

    @property
    def read(self) -> int:
        return sum(s.read for s in self.entities.values())

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.entities.values())

    @property
    def withheld(self) -> int:
        """Rejected rows the privacy rules held back (not data errors)."""
        return sum(s.withheld for s in self.entities.values())

    @property
    def reject_share(self) -> float:
        """Rows rejected as data errors over rows read (rows withheld by the privacy rules do not count)."""
        return (self.rejected - self.withheld) / self.read if self.read else 0.0

    @property
    def ok(self) -> bool:
        """False when the share of rows rejected as data errors exceeds ``max_reject_share``."""
        return self.reject_share <= self.max_reject_share

    def as_dict(self) -> dict[str, Any]:
        loaded = sum(s.loaded for s in self.entities.values())
        return {
            "source": self.source, "startedAt": self.started.isoformat(), "durationSeconds": round(self.seconds, 3),
            "entities": {name: stats.as_dict() for name, stats in self.entities.items()},
            "totals": {"read": self.read, "loaded": loaded, "rejected": self.rejected, "withheld": self.withheld,
                       "rowsPerSecond": round(self.read / self.seconds, 1) if self.seconds else None},
            "rejectShare": round(self.reject_share, 6), "maxRejectShare": self.max_reject_share, "ok": self.ok,
            "unrecognisedFiles": self.unrecognised_files,
            "erasedDuringRun": dict(self.erased_during_run),
            "ignoredColumns": {file: dict(sorted(columns.items())) for file, columns in self.ignored_columns.items()},
            "reportFile": str(self.report_path), "rejectsFile": str(self.rejects_path),
        }

    def finish(self) -> dict[str, Any]:
        """Close the rejects file, write ``report.json`` and return its content."""
        self.seconds = time.perf_counter() - self._t0
        self._rejects.close()
        self._rejects_lock.close()
        data = self.as_dict()
        self._write_report(data)
        return data

    def snapshot(self) -> None:
        """Write ``report.json`` with the figures so far (``inProgress: true``) and go on: a long-running writer
        (the collector, whose report closes hourly) leaves its counts on disk if it is killed."""
        self.seconds = time.perf_counter() - self._t0
        self._write_report({**self.as_dict(), "inProgress": True})

    def _write_report(self, data: dict[str, Any]) -> None:
        """``report.json`` replaced whole (a reader, or a crash, never sees half of it), mode 0600."""
        partial = self.report_path.with_name(self.report_path.name + ".partial")
        with private_file(partial) as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.report_path)


def summary_text(data: dict[str, Any]) -> str:
    """The human summary of a finished run (the same figures as ``report.json``)."""
    lines = [f"{'entity':<14} {'read':>10} {'loaded':>10} {'rejected':>9} {'seconds':>8} {'rows/s':>9}  reasons"]
    for name, s in data["entities"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in s["rejectReasons"].items())
        extra = ", ".join(f"{k} {v}" for k, v in s.items() if k not in {
            "files", "read", "loaded", "rejected", "durationSeconds", "rowsPerSecond", "rejectReasons"})
        rate = f"{s['rowsPerSecond']:,.0f}" if s["rowsPerSecond"] else "-"
        lines.append(f"{name:<14} {s['read']:>10,} {s['loaded']:>10,} {s['rejected']:>9,} "
                     f"{s['durationSeconds']:>8.1f} {rate:>9}  {'; '.join(p for p in (reasons, extra) if p)}")
    t = data["totals"]
    lines.append(f"{'total':<14} {t['read']:>10,} {t['loaded']:>10,} {t['rejected']:>9,} "
                 f"{data['durationSeconds']:>8.1f} {(t['rowsPerSecond'] or 0):>9,.0f}")
    share = data["rejectShare"]
    withheld = t.get("withheld", 0)
    note = f"; {withheld:,} rows withheld by the privacy rules not counted" if withheld else ""
    lines.append(f"rejected share {share:.4%} (limit {data['maxRejectShare']:.2%}{note}): "
                 f"{'ok' if data['ok'] else 'TOO MANY REJECTS'}")
    if any(data.get("erasedDuringRun", {}).values()):
        again = ", ".join(f"{name} {n}" for name, n in data["erasedDuringRun"].items())
        lines.append(f"erased while this run wrote them, erased again: {again}")
    if data["unrecognisedFiles"]:
        lines.append("files not loaded (name matches no export): " + ", ".join(data["unrecognisedFiles"]))
    for file, columns in data.get("ignoredColumns", {}).items():
        named = ", ".join(f"{column} ({known}?)" if known else column for column, known in columns.items())
        lines.append(f"columns not loaded (not in the format) of {file}: {named}")
    lines.append(f"report:  {data['reportFile']}")
    lines.append(f"rejects: {data['rejectsFile']}")
    return "\n".join(lines)
