"""The write-ahead spool: accepted messages on disk before the ``200``, until the graph holds them.

A SQLite file in WAL mode with ``synchronous=FULL``: a committed append is fsync'd to the write-ahead log,
so a crash after the answer loses nothing. The micro-batcher takes the oldest pending messages, writes them
to the graph and marks them done; a restart finds what was pending and writes it then.

Appends are **group-committed**: one appender thread with its own connection takes every append waiting
and stores them in one transaction, one fsync, then answers them all. The batcher has a second connection:
its reads run beside the appends (WAL readers do not block the writer), and a lock lets one write
transaction at a time through (appends, marking done, session and ping state).

``messageId`` is unique in the spool: a retried message (same id) is ignored while its row is kept, that is
while pending and for ``dedup_hours`` after it was written (then :meth:`Spool.purge` removes it).

>>> import tempfile, pathlib
>>> spool = Spool(pathlib.Path(tempfile.mkdtemp()) / "spool.sqlite")
>>> spool.append([{"messageId": "m1", "type": "track"}, {"messageId": "m1", "type": "track"}])
1
>>> [(seq, message["messageId"]) for seq, message in spool.pending(10)]
[(1, 'm1')]
>>> spool.done(1); spool.pending(10), spool.pending_count
([], 0)
>>> spool.append([{"messageId": "m1", "type": "track"}])  # written before: still a duplicate
0
>>> spool.close()
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.collection.messages import compact_json
from graph_model.errors import ConfigurationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL,
  done_at TEXT
);
CREATE INDEX IF NOT EXISTS spool_pending ON spool (done_at, seq);
CREATE TABLE IF NOT EXISTS pings (
  customer_id TEXT NOT NULL,
  at TEXT NOT NULL,
  latitude REAL NOT NULL,
  longitude REAL NOT NULL,
  PRIMARY KEY (customer_id, at)
);
CREATE TABLE IF NOT EXISTS actor_sessions (
  actor TEXT NOT NULL,
  session_id TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT NOT NULL,
  PRIMARY KEY (actor, session_id)
);
"""


INSERT = "INSERT OR IGNORE INTO spool (message_id, body, received_at) VALUES (?, ?, ?)"

Rows = list[tuple[str, str, str]]


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


class Spool:
    """The spool file; thread-safe. One process at a time: a second one (another API worker on the same file)
    is refused with :class:`ConfigurationError`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._owner = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._owner)
            raise ConfigurationError(f"the collection spool {path} is in use by another process: run the API "
                                     "with one worker, or give each process its own CUSTOMER_GRAPH_SPOOL") from None
        self._lock = threading.Lock()  # the batcher's connection
        self._writing = threading.Lock()  # one write transaction at a time (appends or the batcher's)
        self._db = _connect(path)
        self._db.executescript(SCHEMA)
        path.chmod(0o600)  # it holds what the SDKs sent: personal data
        self.pending_count = self._db.execute("SELECT count(*) FROM spool WHERE done_at IS NULL").fetchone()[0]
        self._appends = _connect(path)  # the appender thread's
        self._waiting: list[tuple[Rows, Future[int]]] = []
        self._ready = threading.Condition()
        self._appender: threading.Thread | None = None
        self._closing = False

    # --- appends: group commit ------------------------------------------------------------------------
    def submit(self, messages: Iterable[dict[str, Any]]) -> Future[int]:
        """Queue ``messages`` for the next group commit; the future gives how many were new (those whose
        ``messageId`` the spool holds are ignored) once they are fsync'd. A future cancelled before its
        group starts stores nothing."""
        rows = [(m["messageId"], compact_json(m), m.get("receivedAt") or _now()) for m in messages]
        future: Future[int] = Future()
        with self._ready:
            if self._closing:
                raise RuntimeError("the spool is closed")
            if self._appender is None:
                self._appender = threading.Thread(target=self._append_loop, name="spool-appender", daemon=True)
                self._appender.start()
            self._waiting.append((rows, future))
            self._ready.notify()
        return future

    def append(self, messages: Iterable[dict[str, Any]]) -> int:
        """Store ``messages`` durably (fsync'd on return); returns how many were new (see :meth:`submit`)."""
        return self.submit(messages).result()

    def _append_loop(self) -> None:
        """The appender thread: every append waiting goes in one transaction (one fsync), then all are answered."""
        while True:
            with self._ready:
                while not self._waiting and not self._closing:
                    self._ready.wait()
                group, self._waiting = self._waiting, []
            if not group:
                return  # closing, nothing left
            self._commit([(rows, future) for rows, future in group if future.set_running_or_notify_cancel()])

    def _commit(self, group: list[tuple[Rows, Future[int]]]) -> None:
        db, added = self._appends, []
        try:
            with self._writing:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for rows, _ in group:
                        before = db.total_changes
                        db.executemany(INSERT, rows)
                        added.append(db.total_changes - before)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                self.pending_count += sum(added)
        except Exception as error:  # the disk: every append of the group fails (none was answered yet)
            for _, future in group:
                future.set_exception(error)
            return
        for (_, future), count in zip(group, added, strict=True):
            future.set_result(count)

    # --- the batcher ----------------------------------------------------------------------------------
    def pending(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The oldest ``limit`` messages not yet written, with their sequence numbers (a read beside appends)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, body FROM spool WHERE done_at IS NULL ORDER BY seq LIMIT ?",
                                    (limit,)).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]

    def done(self, through: int) -> None:
        """Mark every message up to sequence number ``through`` written (kept for duplicate detection until
        :meth:`purge`). The batcher writes what :meth:`pending` gave, the oldest pending: a prefix of the
        spool (appends commit one at a time, in ``seq`` order)."""
        with self._lock, self._writing:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            # a written message keeps only its id (duplicate detection): its content is in the graph now
            self._db.execute("UPDATE spool SET done_at = ?, body = '' WHERE seq <= ? AND done_at IS NULL",
                             (_now(), through))
            self._db.execute("COMMIT")
            self.pending_count -= self._db.total_changes - before

    def purge(self, older_than_hours: float) -> int:
        """Forget written messages older than the duplicate window; returns how many."""
        cut = (datetime.now(UTC) - timedelta(hours=older_than_hours)).isoformat()
        with self._lock, self._writing:
            cursor = self._db.execute("DELETE FROM spool WHERE done_at IS NOT NULL AND done_at < ?", (cut,))
            self._db.execute("DELETE FROM actor_sessions WHERE ended_at < ?", (cut,))
            self._db.execute("DELETE FROM pings WHERE at < ?", (cut,))
        return cursor.rowcount

    def forget_person(self, actors: Iterable[str]) -> None:
        """Forget an erased person's location pings and session state (``actors``: the customer id and the
        anonymous ids that were theirs); the messages themselves are withheld when written (tombstones)."""
        names = sorted(set(actors))
        with self._lock, self._writing:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM pings WHERE customer_id = ?", [(name,) for name in names])
            self._db.executemany("DELETE FROM actor_sessions WHERE actor = ?", [(name,) for name in names])
            self._db.execute("COMMIT")

    def people_in_state(self) -> tuple[list[str], list[str]]:
        """Whom the spool's state names: the customer ids of its kept pings, the actors of its session state."""
        with self._lock:
            customers = [row[0] for row in self._db.execute("SELECT DISTINCT customer_id FROM pings")]
            actors = [row[0] for row in self._db.execute("SELECT DISTINCT actor FROM actor_sessions")]
        return customers, actors

    # --- recent location pings of customers who allow location (geofencing across micro-batches) -------
    def recent_pings(self, pings: list[dict[str, Any]], window: timedelta) -> list[dict[str, Any]]:
        """Keep ``pings`` (``customerId``, ``latitude``, ``longitude``, ``at``) and return every kept ping of
        their customers within ``window`` before their newest: a stay that spans micro-batches is one visit.
        Older pings are forgotten."""
        customers = sorted({p["customerId"] for p in pings})
        with self._lock, self._writing:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO pings VALUES (?, ?, ?, ?)",
                                 [(p["customerId"], p["at"].isoformat(), p["latitude"], p["longitude"]) for p in pings])
            kept: list[dict[str, Any]] = []
            for customer in customers:
                newest = self._db.execute("SELECT max(at) FROM pings WHERE customer_id = ?", (customer,)).fetchone()[0]
                cut = (datetime.fromisoformat(newest) - window).isoformat()
                self._db.execute("DELETE FROM pings WHERE customer_id = ? AND at < ?", (customer, cut))
                kept += [{"customerId": customer, "at": datetime.fromisoformat(at), "latitude": lat, "longitude": lon}
                         for at, lat, lon in self._db.execute(
                             "SELECT at, latitude, longitude FROM pings WHERE customer_id = ? ORDER BY at", (customer,))]
            self._db.execute("COMMIT")
        return kept

    # --- session state of the inactivity rule (api.collection.sessions) -------------------------------
    def actor_sessions(self, actor: str) -> list[tuple[str, datetime, datetime]]:
        with self._lock:
            rows = self._db.execute("SELECT session_id, started_at, ended_at FROM actor_sessions WHERE actor = ?",
                                    (actor,)).fetchall()
        return [(sid, datetime.fromisoformat(s), datetime.fromisoformat(e)) for sid, s, e in rows]

    def save_sessions(self, sessions: list[tuple[str, str, datetime, datetime]]) -> None:
        """Store ``(actor, session id, start, end)`` of sessions (one transaction)."""
        with self._lock, self._writing:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO actor_sessions VALUES (?, ?, ?, ?) ON CONFLICT (actor, session_id) "
                                 "DO UPDATE SET started_at = excluded.started_at, ended_at = excluded.ended_at",
                                 [(a, sid, s.isoformat(), e.isoformat()) for a, sid, s, e in sessions])
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Store the appends queued, then close the file and release the process's claim on it."""
        with self._ready:
            self._closing = True
            self._ready.notify()
            appender = self._appender
        if appender is not None:
            appender.join()
        with self._lock:
            self._appends.close()
            self._db.close()
            os.close(self._owner)


def _now() -> str:
    return datetime.now(UTC).isoformat()
