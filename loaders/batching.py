"""Batched, partitioned, retried writes.

Rows are spread over ``writers`` partitions by a key (session, customer...), so parallel writers touch
disjoint parts of the graph and do not contend; each partition has one thread that writes its batches in
order, each batch one ``UNWIND`` transaction through the driver's ``execute_write`` (retried on transient
errors and deadlocks). A batch the database refuses for another reason is split in halves until the bad
row is alone; that row is rejected with ``write_failed`` and the rest is written.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graph_model.connection import execute_write
from graph_model.errors import DatabaseUnavailable, QueryError
from loaders.report import Reject, RejectReason, RunReport

log = logging.getLogger("loaders")

Refused = list[tuple[int, RejectReason, str]]  # (index in the batch, reason, message) of each row a writer refused


@dataclass(frozen=True, slots=True)
class Written:
    """What a writer may return instead of its refused rows alone: those, and keys the load follows up once the
    file is written (the sessions writer: the identifiers its logged-in rows share with other sessions, which
    identity stitching then backfills)."""

    refused: Refused = field(default_factory=list)
    follow_up: list[str] = field(default_factory=list)


WriteFn = Callable[..., Refused | Written | None]


@dataclass(slots=True)
class Item:
    """One validated row on its way to the database, with where it came from (for a reject)."""

    file: str
    line: int
    raw: Any
    params: dict[str, Any]


class Progress:
    """Rows written per entity: a tqdm bar on a terminal, a log line every ``every`` seconds otherwise."""

    def __init__(self, entity: str, total: int | None, enabled: bool | None = None, every: float = 10.0) -> None:
        self.entity, self.total, self.every = entity, total, every
        self.done = 0
        self._lock = threading.Lock()
        self._t0 = self._last = time.perf_counter()
        tty = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        if tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=entity, unit="rows", unit_scale=True, leave=False, file=sys.stderr)

    def update(self, n: int) -> None:
        with self._lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
                return
            now = time.perf_counter()
            if now - self._last >= self.every:
                self._last = now
                rate = self.done / (now - self._t0)
                eta = f", ETA {(self.total - self.done) / rate:.0f} s" if self.total and rate else ""
                log.info("%s: %s rows written, %.0f rows/s%s", self.entity, f"{self.done:,}", rate, eta)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


T = TypeVar("T")


def chunks(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``, in order.

    >>> list(chunks(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def partition_of(key: str, partitions: int) -> int:
    """A stable partition number for ``key`` (the same in every run)."""
    return zlib.crc32(key.encode()) % partitions if partitions > 1 else 0


class PartitionedWriter:
    """Buffers items per partition and writes full batches with one thread per partition."""

    def __init__(self, entity: str, write: WriteFn, report: RunReport, *, writers: int, batch_size: int,
                 progress: Progress, on_failed: Callable[[list[Item]], None] | None = None,
                 ready: Callable[[], None] | None = None) -> None:
        """``ready``: called by a writer before each batch, returns once the writer may start (its statements
        planned: :class:`loaders.warmup.Planning`)."""
        self.entity, self.write, self.report, self.ready = entity, write, report, ready
        self.batch_size, self.progress, self.on_failed = batch_size, progress, on_failed
        self.partitions = max(1, writers)
        self.buffers: list[list[Item]] = [[] for _ in range(self.partitions)]
        self.pools = [ThreadPoolExecutor(1, thread_name_prefix=f"{entity}-{i}") for i in range(self.partitions)]
        self.pending: list[deque[Future[None]]] = [deque() for _ in range(self.partitions)]
        self.follow_up: list[str] = []  # what the committed batches' writers asked to follow up (:class:`Written`)
        self._follow_up_lock = threading.Lock()

    def add(self, item: Item, key: str | None) -> None:
        p = partition_of(key, self.partitions) if key is not None else 0
        buffer = self.buffers[p]
        buffer.append(item)
        if len(buffer) >= self.batch_size:
            self._submit(p)

    def _submit(self, p: int) -> None:
        batch, self.buffers[p] = self.buffers[p], []
        if not batch:
            return
        self.pending[p].append(self.pools[p].submit(self._write_batch, batch))
        while len(self.pending[p]) > 2:  # back-pressure: at most two batches queued per writer
            self.pending[p].popleft().result()

    def flush(self) -> None:
        """Write what is buffered and wait until every batch is committed (re-raises a fatal error)."""
        for p in range(self.partitions):
            self._submit(p)
        for queue in self.pending:
            while queue:
                queue.popleft().result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for pool in self.pools:
                pool.shutdown(wait=True)

    def _write_batch(self, batch: list[Item]) -> None:
        if self.ready is not None:
            self.ready()
        try:
            written = execute_write(self.write, [item.params for item in batch])
        except DatabaseUnavailable:
            raise
        except QueryError as error:
            if len(batch) == 1:
                self._reject(batch[0], RejectReason.WRITE_FAILED, f"{error.code}: {error}")
                if self.on_failed:
                    self.on_failed(batch)
                return
            half = len(batch) // 2
            self._write_batch(batch[:half])
            self._write_batch(batch[half:])
            return
        if isinstance(written, Written):
            rejected = written.refused
            with self._follow_up_lock:
                self.follow_up.extend(written.follow_up)
        else:
            rejected = written or []
        for index, reason, message in rejected:
            self._reject(batch[index], reason, message)
        self.report.add_loaded(self.entity, len(batch) - len(rejected))
        self.progress.update(len(batch))

    def _reject(self, item: Item, reason: RejectReason, message: str) -> None:
        self.report.reject(Reject(item.file, item.line, self.entity, reason, message, item.raw))
