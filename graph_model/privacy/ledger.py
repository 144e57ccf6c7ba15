"""The erasure ledger: every tombstone also kept outside the database, so that erasures outlive the graph.

Tombstones live in the graph (:mod:`graph_model.privacy.tombstone`). A graph rebuilt from the exports (a new
database, a bulk first load) or restored from a backup taken before an erasure holds none of the later ones,
and the next load of an export that still names the person would write them back. So each erasure, once its
transaction has committed, also appends its tombstones to ``<runs dir>/erasure-ledger.jsonl``
(``CUSTOMER_GRAPH_RUNS_DIR``: compose's ``runs`` volume, not the database's): one JSON line per tombstone with
its keyed hash, kind, time and the privacy key's fingerprint; no personal value. Then:

* every run restores the ledger's tombstones the graph lacks before it reads them
  (:meth:`graph_model.privacy.tombstone.Tombstones.read`), and the bulk loader imports them with the graph;
* the sweep (:mod:`graph_model.privacy.sweep`) erases again whatever a restored backup brought back.

Lines made with another privacy key are skipped (their hashes match nothing this process computes; the
graph's key check names a wrong key). An erasure that commits and whose process dies before the append leaves
no line: the window is one file append. Removing a tombstone on purpose (re-admission, docs/privacy.md) means
removing its line here too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from graph_model.privacy.keys import key_fingerprint
from graph_model.privacy.redaction import runs_dir
from graph_model.timestamps import to_utc

LEDGER_FILE = "erasure-ledger.jsonl"


@dataclass(frozen=True)
class LedgerEntry:
    """One tombstone as the ledger keeps it."""

    hash: str
    kind: str
    erased_at: datetime

    def node_properties(self) -> dict[str, Any]:
        """The ``Tombstone`` node it restores (as an erasure writes it, marked as restored from here)."""
        return {"hash": self.hash, "kind": self.kind, "suppressed": True, "erasedAt": self.erased_at,
                "restoredFromLedger": True}


def ledger_path(root: Path | None = None) -> Path:
    """Where the ledger is: ``<runs dir>/erasure-ledger.jsonl``."""
    return (root or runs_dir()) / LEDGER_FILE


def record(rows: Iterable[dict[str, str]], at: datetime, *, key: bytes, root: Path | None = None) -> None:
    """Append the tombstone ``rows`` (``hash``, ``kind``) of an erasure committed at ``at``."""
    _append([{"hash": row["hash"], "kind": row["kind"], "erasedAt": at} for row in rows], key=key, root=root)


def _append(rows: list[dict[str, Any]], *, key: bytes, root: Path | None) -> None:
    """Append ``rows`` (``hash``, ``kind``, ``erasedAt``) in one write and one fsync."""
    fingerprint = key_fingerprint(key=key)
    lines = "".join(json.dumps({"hash": row["hash"], "kind": row["kind"], "erasedAt": row["erasedAt"].isoformat(),
                                "key": fingerprint}) + "\n" for row in rows)
    if not lines:
        return
    path = ledger_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        lines = "\n" + lines  # after a line torn by a crash: ours start on a line of their own (a re-audit, stop 40)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:  # one write: processes appending do not interleave lines
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


_read_cache: dict[tuple[Path, str], tuple[tuple[int, int], tuple[LedgerEntry, ...]]] = {}


def add_missing(tombstones: Iterable[dict[str, Any]], *, key: bytes, root: Path | None = None) -> int:
    """Append the graph's tombstones (``hash``, ``kind``, ``erasedAt``) the ledger lacks: erasures made before
    the ledger existed, or after its file was lost (the sweep does it); how many were added."""
    known = {entry.hash for entry in entries(key=key, root=root)}
    missing = [row for row in tombstones if row["hash"] not in known]
    _append(missing, key=key, root=root)  # one write and one fsync, however many erasures they come from
    return len(missing)


def entries(*, key: bytes, root: Path | None = None) -> tuple[LedgerEntry, ...]:
    """The ledger's tombstones made with ``key`` (each hash once, the earliest time); read again only when the
    file changed (the collector asks once per batch)."""
    path = ledger_path(root)
    try:
        status = path.stat()
    except FileNotFoundError:
        return ()
    fingerprint = key_fingerprint(key=key)
    version = (status.st_size, status.st_mtime_ns)
    cached = _read_cache.get((path, fingerprint))
    if cached is not None and cached[0] == version:
        return cached[1]
    found: dict[str, LedgerEntry] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:  # anything but a line this module writes is skipped (a torn line, a hand edit): never a stopped run
            item = json.loads(line)
            if not (isinstance(item, dict) and item.get("key") == fingerprint and isinstance(item.get("hash"), str)
                    and isinstance(item.get("kind"), str) and isinstance(item.get("erasedAt"), str)):
                continue
            entry = LedgerEntry(item["hash"], item["kind"], to_utc(datetime.fromisoformat(item["erasedAt"])))
        except ValueError:
            continue
        if entry.hash not in found or entry.erased_at < found[entry.hash].erased_at:
            found[entry.hash] = entry
    result = tuple(found.values())
    _read_cache[(path, fingerprint)] = (version, result)
    return result
