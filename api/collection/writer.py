"""The micro-batcher: spooled messages into the graph through the loaders' pipeline.

A background thread takes the oldest pending messages (at most ``batch_messages``, after waiting at most
``flush_seconds`` for more), maps them to export rows (:mod:`api.collection.mapping`) and hands each entity to
:meth:`loaders.pipeline.Loader.load_rows` in the drop's dependency order: the same validation, erasure
tombstones, consent policy (location pings), writers, identity stitching and geofencing as a nightly drop.
Then the messages are marked done in the spool.

* Rows that fail validation are rejects with a reason in the collector's run report (``runs/…-collect``,
  a new one every hour), like a drop's; a message of an erased person is rejected as ``erased`` before it
  is mapped (its reject keeps no row), and so is a track message that violates the tracking plan
  (:mod:`api.collection.plan`): ``invalid_value``, the reason naming the event, the JSON path and the
  schema's message; its reject keeps only the message's ids.
* Before its first batch the thread applies the schema and plans the writers' statements
  (:func:`loaders.warmup.warm`), so the first micro-batches after a start write as fast as the later ones
  (measured: a fresh process's first batch of 2,000 messages took 1.1 s where later ones take 0.25-0.3 s;
  after the warm-up, 0.3 s).
* With the database unreachable nothing is marked done: the batch is tried again (backing off up to 10 s)
  while the API keeps accepting into the spool. Every writer is idempotent (``MERGE`` on natural keys), so
  writing a batch again after a crash gives the same graph.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from api.collection.config import CollectionConfig
from api.collection.mapping import map_messages
from api.collection.sessions import SessionClock
from api.collection.spool import Spool
from api.queries.customers import ANONYMOUS_IDS
from graph_model.connection import execute_write, run_query
from graph_model.errors import CustomerGraphError, DatabaseUnavailable
from graph_model.model.customers import identity_key
from graph_model.privacy.tombstone import ERASURE_COUNT, WAIT_FOR_ERASURES, Tombstones
from loaders import warmup
from loaders.entities import SPECS
from loaders.pipeline import Loader, LoadOptions, default_report_dir, ensure_schema
from loaders.report import Reject, RejectReason, RunReport
from loaders.writers.orders import EXISTING_ORDERS

IDENTITY_OWNERS = """
UNWIND $keys AS key
MATCH (:Identity {identityKey: key})-[:IDENTIFIES]->(c:Customer)
RETURN key, c.customerId AS owner
"""

log = logging.getLogger("collection")

SOURCE = "collect"
REPORT_EVERY = timedelta(hours=1)
SNAPSHOT_EVERY_SECONDS = 60.0  # the open report's counts written to disk at most this often (a kill loses less)
MAX_BACKOFF_SECONDS = 10.0
ERASED_MESSAGE = "message of an erased person"
#: While no message comes, how often the collector looks for people erased by another process whose pings or
#: session state the spool keeps (a batch looks each time)
STATE_CHECK_IDLE_SECONDS = 60.0
# The writer's Python work (mapping, the driver) holds the GIL for up to the interpreter's switch interval
# (5 ms) each time the event loop or the spool's appender wants it back; a short interval keeps accept
# latency low while the writer runs: senders posting back to back on 2 cores, accept p95 40-64 -> 23-42 ms and
# 20-23k -> 27-31k messages/s accepted (3 interleaved pairs); at 5,000 messages/s no difference (p95 8-10 ms).
SWITCH_INTERVAL_SECONDS = 0.0005
# what messages map to (api.collection.mapping), the modules of their writers, and the labels their rows refer
# to (the key look-ups of the reference checks): what the warm-up plans
COLLECTED_ENTITIES = ("customers", "identifiers", "sessions", "orders", "events", "consents", "pings")
WRITER_MODULES = ("customers", "sessions", "orders", "events", "visits", "identity", "consent")
REFERENCED_LABELS = tuple(sorted({ref.label for entity in COLLECTED_ENTITIES for ref in SPECS[entity].references}))


def _anonymous_id_erased(tombstones: Tombstones, anonymous_id: str) -> bool:
    """Whether an SDK's anonymous id is an erased person's cookie or device (what it is mapped to)."""
    return any(tombstones.identity_erased(identity_key(kind, anonymous_id)) for kind in ("cookie", "device_id"))


class Collector:
    """The spool's writer thread (:meth:`start` / :meth:`stop`); :meth:`flush` writes one batch now."""

    def __init__(self, config: CollectionConfig, spool: Spool) -> None:
        self.config, self.spool = config, spool
        self.clock = SessionClock(spool, timedelta(minutes=config.session_timeout_minutes))
        self.wake = threading.Event()
        self._writing = threading.Lock()  # held while a batch is written: an erasure waits for it (erasing)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._report: RunReport | None = None
        self._report_started = datetime.now(UTC)
        self.warmed = threading.Event()  # set once the writers are planned (or planning failed): /readyz
        self.written = 0  # messages marked done by this process
        self.last_error: str | None = None
        self._erasures_seen: int | None = None  # the graph's erasure count when the spool's state was last checked
        self._state_checked = 0.0  # monotonic time of that check
        self._snapshot_at = 0.0  # monotonic time the open report's counts were last written (RunReport.snapshot)

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.spool.purge(self.config.dedup_hours)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_SECONDS))
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch being written, then stop (what is pending stays in the spool for the next start)."""
        self._stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_report()
        self.spool.close()

    def warm(self) -> None:
        """Apply the schema and plan the writers' statements (unless the configuration says not to plan ahead);
        a failure is logged (the batches retry)."""
        try:
            ensure_schema()
            if not self.config.plan_ahead:
                return
            execute_write(Tombstones.read)  # what each batch's loader reads first
            # the writers' statements, the collector's own checks (_new_orders, _first_owner_wins) and each
            # batch's last question (were people erased meanwhile?)
            seconds = warmup.warm(WRITER_MODULES, REFERENCED_LABELS,
                                  extra=(EXISTING_ORDERS, IDENTITY_OWNERS, WAIT_FOR_ERASURES, ERASURE_COUNT),
                                  stop=self._stopping)
            log.info("collector: writers planned in %.2f s", seconds)
        except Exception as error:  # planning ahead is an optimisation: it never stops collection
            log.warning("collector: could not plan the writers ahead (%s)", error)
        finally:
            self.warmed.set()

    def _run(self) -> None:
        self.warm()
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                written = self.flush()
                backoff, self.last_error = 0.5, None
            except DatabaseUnavailable as error:  # keep the batch pending; try again later
                self.last_error = str(error)
                log.warning("collector: the database is unavailable (%s); retrying in %.1f s", error, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            except Exception as error:  # a failure of one batch must not stop collection; retried later
                self.last_error = str(error)
                log.exception("collector: writing a batch failed; retrying in %.1f s", backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if written < self.config.batch_messages:
                self.wake.wait(self.config.flush_seconds)
                self.wake.clear()

    # --- one batch -------------------------------------------------------------------------------------
    @contextmanager
    def erasing(self, customer_id: str) -> Iterator[None]:
        """Erase a person while no batch is being written: a batch read its tombstones when it started, so one
        in flight would write the person again after the erasure (found by the stop-37 audit: a customer
        erased while their messages were written was served again). The next batch reads the new tombstone
        and withholds what is still pending; the spool forgets the person's pings and sessions (of the
        customer id and of the cookies and devices that were theirs, read once the batch in flight is written:
        it may have linked a new one). The open run report is closed first, so the erasure's rewrite of the
        rejects files takes its lines too, and later rejects go to a new file (found by the same audit: a
        rewrite under the open file lost every later reject and kept a buffered line)."""
        with self._writing:
            self._close_report()  # its rejects file is written and closed: the erasure rewrites it without them
            actors = [customer_id, *run_query(ANONYMOUS_IDS, {"id": customer_id}, write=False)[0]["values"]]
            yield
            self.spool.forget_person(actors)

    def flush(self) -> int:
        """Write the oldest pending messages (at most one batch) and mark them done; returns how many."""
        with self._writing:
            return self._flush()

    def _flush(self) -> int:
        pending = self.spool.pending(self.config.batch_messages)
        if not pending:
            self._rotate_report()
            if time.monotonic() - self._state_checked > STATE_CHECK_IDLE_SECONDS:
                self._state_checked = time.monotonic()
                counted = run_query(ERASURE_COUNT, write=False)  # no row: the graph has no key node yet
                if (counted[0]["erasures"] if counted else 0) != self._erasures_seen:
                    self.forget_the_erased(execute_write(Tombstones.read))
            return 0
        report = self._current_report()
        # plan_ahead=False: the collector planned its writers for every batch size at its start (warm)
        loader = Loader(report, LoadOptions(progress=False, writers=1, plan_ahead=False))
        self.forget_the_erased(loader.tombstones)
        kept = [(seq, m) for seq, m in pending
                if not self._withheld(loader, report, seq, m) and not self._off_plan(report, seq, m)]
        mapped = map_messages(kept, self.clock)
        for unmapped in mapped.unmapped:
            report.reject(Reject(SOURCE, unmapped.line, unmapped.entity, unmapped.code,
                                 unmapped.reason, None))
        with loader.writing():  # a batch that fails is written again later, under the tombstones then
            for entity in SPECS:
                rows = mapped.rows.get(entity)
                if rows and entity == "orders":
                    rows = self._new_orders(report, rows)
                if rows and entity in ("customers", "identifiers"):
                    rows = self._first_owner_wins(report, entity, rows)
                if rows and entity == "pings":
                    self._write_pings(loader, rows)
                elif rows:
                    loader.load_rows(entity, iter(rows), SOURCE)
        loader.complete()  # a person erased by another process while this batch was written: erased again
        report.sync_rejects()  # the batch's rejects on disk before its messages are forgotten (a crash kept neither)
        self.spool.done(pending[-1][0])  # the oldest pending: a prefix of the spool
        self.written += len(pending)
        self._snapshot(report)
        return len(pending)

    def _snapshot(self, report: RunReport) -> None:
        """The open report's counts on disk, at most every :data:`SNAPSHOT_EVERY_SECONDS` (until stop 41 they were
        written when the report closed, hourly, or when the API stopped: a killed process lost them)."""
        if time.monotonic() - self._snapshot_at < SNAPSHOT_EVERY_SECONDS:
            return
        self._snapshot_at = time.monotonic()
        try:
            report.snapshot()
        except OSError:
            log.exception("collector: could not write its run report's counts")

    def _new_orders(self, report: RunReport, rows: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
        """The order lines of orders the graph does not hold yet. A collected message adds an order, never
        changes one (its customer, lines, date or cancellation: until stop 38 any write key could move an
        order to another customer or reprice it); the nightly export, the retailer's own record, does."""
        ids = sorted({row["orderId"] for _, row in rows if isinstance(row.get("orderId"), str)})
        held = set(run_query(EXISTING_ORDERS, {"orderIds": ids}, write=False)[0]["orderIds"]) if ids else set()
        kept = []
        for line, row in rows:
            if row.get("orderId") in held:
                report.reject(Reject(SOURCE, line, "orders", RejectReason.INVALID_VALUE,
                                     f"order {str(row['orderId'])[:80]!r} exists already: the collection API adds "
                                     "orders, it never changes one", None))
            else:
                kept.append((line, row))
        return kept

    def _first_owner_wins(self, report: RunReport, entity: str,
                          rows: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
        """The rows without a link to an identifier (a cookie, a device, an e-mail hash) another customer holds:
        a collected message never moves one (the loaders' writers re-point it, as the nightly export, the
        retailer's record, says; until stop 38 a customer token's own messages could take anyone's cookie or
        e-mail, and with it their browsing). Such a link is a reject; the rest of its row is kept."""
        def key(row: dict[str, Any]) -> str | None:
            if entity == "identifiers":
                return identity_key(row["type"], str(row["value"]))
            return f"email_hash:{row['emailHash']}" if row.get("emailHash") else None

        keyed = [(line, row, key(row)) for line, row in rows]
        keys = sorted({k for _, _, k in keyed if k})
        if not keys:
            return rows
        owners = {r["key"]: r["owner"] for r in run_query(IDENTITY_OWNERS, {"keys": keys}, write=False)}
        kept = []
        for line, row, identifier in keyed:
            owner = owners.get(identifier) if identifier else None
            if owner is None or owner == row["customerId"]:
                kept.append((line, row))
                continue
            report.reject(Reject(SOURCE, line, entity, RejectReason.INVALID_VALUE, "the identifier belongs to another "
                                 "customer: a collected message never moves it", None))
            if entity == "customers":
                kept.append((line, {k: v for k, v in row.items() if k != "emailHash"}))
        return kept

    def _write_pings(self, loader: Loader, rows: list[tuple[int, dict[str, Any]]]) -> None:
        """Pings the consent policy permits join the customer's recent ones (a stay across micro-batches is
        one visit, its dwell growing as pings come); the visits of that window are written (ids stable)."""
        permitted = loader.permitted_pings(iter(rows), SOURCE)
        if permitted:
            window = timedelta(minutes=self.config.ping_window_minutes)
            loader.write_pings(self.spool.recent_pings(permitted, window), SOURCE)

    def forget_the_erased(self, tombstones: Tombstones) -> None:
        """Forget the kept pings and session state of people erased since the last look (by any process: an
        erasure through this API forgets them at once, :meth:`erasing`; until stop 40 one from the command line
        left them for the spool's 48 hours: found by an audit)."""
        self._state_checked = time.monotonic()
        if tombstones.erasures == self._erasures_seen:
            return
        customers, actors = self.spool.people_in_state()
        erased = [c for c in customers if tombstones.customer_erased(c)] + [
            a for a in actors if tombstones.customer_erased(a) or _anonymous_id_erased(tombstones, a)]
        if erased:
            self.spool.forget_person(erased)
        self._erasures_seen = tombstones.erasures

    def _withheld(self, loader: Loader, report: RunReport, seq: int, message: dict[str, Any]) -> bool:
        """A message of an erased person (its user id, or its anonymous id as cookie or device): rejected."""
        tombstones = loader.tombstones
        anonymous = message.get("anonymousId")
        erased = tombstones.customer_erased(message.get("userId")) or (
            anonymous is not None and _anonymous_id_erased(tombstones, anonymous))
        if erased:
            report.reject(Reject(SOURCE, seq, "events", RejectReason.ERASED, ERASED_MESSAGE, None))
        return erased

    def _off_plan(self, report: RunReport, seq: int, message: dict[str, Any]) -> bool:
        """A track message that violates the tracking plan: rejected (nothing of it is written). The reject
        keeps the message's ids, not its properties; the reason leaves out the values sent when the report
        redacts."""
        plan = self.config.tracking_plan
        reason = plan.violation(message, hide_values=report.redact) if plan is not None else None
        if reason is not None:
            ids = {name: message.get(name) for name in ("messageId", "userId", "anonymousId", "event")}
            report.reject(Reject(SOURCE, seq, "events", RejectReason.INVALID_VALUE, reason, ids))
        return reason is not None

    # --- the run report --------------------------------------------------------------------------------
    def _current_report(self) -> RunReport:
        self._rotate_report()
        if self._report is None:
            self._report = RunReport(default_report_dir(SOURCE), SOURCE, max_reject_share=1.0)
            self._report_started = datetime.now(UTC)
        return self._report

    def _rotate_report(self) -> None:
        """Close the run report after :data:`REPORT_EVERY`, and forget ids past the duplicate window."""
        if self._report is not None and datetime.now(UTC) - self._report_started >= REPORT_EVERY:
            self._close_report()
            self.spool.purge(self.config.dedup_hours)

    def _close_report(self) -> None:
        if self._report is not None:
            try:
                self._report.finish()
            except (OSError, CustomerGraphError):
                log.exception("collector: could not write its run report")
            self._report = None

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Block until nothing is pending (tests, shutdown scripts); False on timeout. Returns as soon as the spool
        is empty: the timeout only bounds a stuck writer (a first batch plans every writer, 35-42 s cold on a busy
        2-core machine: 30 s failed a test there once)."""
        deadline = time.monotonic() + timeout
        while self.spool.pending_count > 0 and time.monotonic() < deadline:
            self.wake.set()
            time.sleep(0.05)
        return self.spool.pending_count == 0

