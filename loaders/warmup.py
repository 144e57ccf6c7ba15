"""Plan the loaders' statements before the first rows arrive, so the first batches write at full speed.

Neo4j plans and compiles a statement the first time it runs (and again when the graph's statistics have
moved far since): 30–500 ms for a writer, so a process's first batches (the collection API's first
micro-batches after a start, or after a Neo4j restart) are several times slower than the later ones.

The plan cache is keyed on the statement *and its parameters' types*: ``EXPLAIN`` does not compile the
runtime, and a run with an empty list (``List<Nothing>``) caches a plan the real rows (``List<Map>``) do
not use; and a plan is kept per size class of the list (1, 2-10, 11-100, 101-1,000, 1,001-10,000 rows,
measured on 5.26). So :func:`warm` runs each statement on a list of empty elements of the right kind (maps
for rows, strings for ids), once per size class, inside a transaction that is **rolled back**: whatever the
statement does with them (or the error it raises on the missing values) leaves no trace, and the plan is
cached.

:func:`writer_statements` is also the list the plan tests check (``tests/test_loaders_plans.py``).
"""

from __future__ import annotations

import importlib
import itertools
import logging
import pkgutil
import re
import threading
import time
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import neo4j

import loaders.writers
from graph_model.connection import session
from graph_model.privacy import consent
from loaders import identity
from loaders.references import prefetch_query

log = logging.getLogger(__name__)

# Neo4j caches a plan per size class of a list parameter (measured on 5.26: 1, 2-10, 11-100, 101-1,000,
# 1,001-10,000): one size of each class a writer's batch can have (the loaders' batches hold <= 10,000 rows)
LIST_SIZES = (1, 10, 100, 1_000, 10_000)
_UNWIND_LIST = re.compile(r"^\s*UNWIND\s+\$(\w+)\s+AS\s+(\w+)")
_UNWIND_INDEX = re.compile(r"^\s*UNWIND\s+range\(0,\s*size\(\$(\w+)\)\s*-\s*1\)")


def module_statements(module: ModuleType) -> dict[str, str]:
    """The parameterised statements a module names as upper-case constants (fragments without parameters
    are left out), by ``module.NAME``."""
    short = module.__name__.rsplit(".", 1)[-1]
    return {f"{short}.{name}": value for name, value in vars(module).items()
            if name.isupper() and not name.startswith("_") and isinstance(value, str) and "$" in value}


def writer_statements(modules: Iterable[str] | None = None) -> dict[str, str]:
    """Every parameterised statement of the writers, the stitching and the consent writer, by
    ``module.NAME`` (fragments without parameters are left out); ``modules`` keeps only those modules, or
    those statements where an entry names one (``"identity.BACKFILL_SESSIONS"``).

    >>> sorted(writer_statements(["identity.BACKFILL_SESSIONS", "consent"]))
    ['consent.RECORD_ENTRIES', 'consent.WRITE_CONSENTS', 'identity.BACKFILL_SESSIONS']
    """
    writers = [importlib.import_module(f"loaders.writers.{m.name}") for m in pkgutil.iter_modules(loaders.writers.__path__)]
    wanted = set(modules) if modules is not None else None
    statements: dict[str, str] = {}
    for module in [*writers, identity, consent]:
        short = module.__name__.rsplit(".", 1)[-1]
        statements.update({name: statement for name, statement in module_statements(module).items()
                           if wanted is None or short in wanted or name in wanted})
    return statements


def sample_parameters(statement: str, size: int = 1) -> dict[str, list[Any]] | None:
    """Parameters of the types the real rows have (``size`` empty elements) for a statement that starts by
    unwinding its list, none for a statement without parameters; ``None`` for any other statement (not warmed).

    >>> sample_parameters("UNWIND $rows AS r MERGE (c:Customer {customerId: r.id})")
    {'rows': [{}]}
    >>> sample_parameters("UNWIND $sessionIds AS sessionId MATCH (s:Session {sessionId: sessionId}) RETURN s", 2)
    {'sessionIds': ['', '']}
    >>> sample_parameters("UNWIND range(0, size($rows) - 1) AS index WITH $rows[index] AS r RETURN r.id")
    {'rows': [{}]}
    >>> sample_parameters("MATCH (c:Customer {customerId: $id}) RETURN c") is None
    True
    >>> sample_parameters("MATCH (k:PrivacyKey {name: 'privacy'}) RETURN k.erasures")
    {}
    """
    if match := _UNWIND_LIST.match(statement):
        parameter, variable = match.groups()
        rows = re.search(rf"\b{variable}\.\w", statement[match.end():]) is not None
        return {parameter: [{} if rows else "" for _ in range(size)]}
    if match := _UNWIND_INDEX.match(statement):
        return {match.group(1): [{} for _ in range(size)]}
    return {} if "$" not in statement else None


def warm(modules: Iterable[str] | None = None, labels: Iterable[str] = (),
         sizes: Iterable[int] = LIST_SIZES, extra: Iterable[str] = (), stop: threading.Event | None = None) -> float:
    """Plan the statements of ``modules`` (all writers when ``None``), the key look-ups of ``labels`` and the
    ``extra`` statements for lists of each of ``sizes``, each in a rolled-back transaction, until ``stop`` is
    set (a process stopping does not wait for the rest: ~10 s for the collector's); returns the seconds it
    took."""
    statements = [*writer_statements(modules).values(), *(prefetch_query(label) for label in labels), *extra]
    started = time.perf_counter()
    with session() as s:
        for statement, size in itertools.product(statements, sizes):
            if stop is not None and stop.is_set():
                break
            parameters = sample_parameters(statement, size)
            if parameters is None:
                continue
            with s.begin_transaction() as tx:
                try:
                    tx.run(statement, parameters).consume()
                except neo4j.exceptions.ClientError as error:  # e.g. MERGE on the sample's missing key
                    log.debug("warm-up of a statement ended with %s (planned all the same)", error.code)
                tx.rollback()
    return time.perf_counter() - started


class Planning:
    """Plans groups of writer modules in a thread of its own, one group after the other, each for lists of
    ``size`` rows; :meth:`wait` returns once the first group is planned (or planning failed).

    A file load starts it with the entity's writer first and what runs after the file (the stitching) next,
    so Neo4j plans the writer while the first chunk is read and validated, instead of when the first batch
    arrives: on a first load after a start, ~0.3 s of planning for the sessions writer alone. Planning ahead
    is an optimisation: a failure is logged and the writers plan for themselves.
    """

    def __init__(self, groups: Iterable[Iterable[str]], size: int) -> None:
        self.groups = [tuple(group) for group in groups]
        self.size = size
        self.first_planned = threading.Event()
        self.thread = threading.Thread(target=self._run, name="planning", daemon=True)

    def start(self) -> Planning:
        if self.groups:
            self.thread.start()
        else:
            self.first_planned.set()
        return self

    def _run(self) -> None:
        try:
            for group in self.groups:
                warm(group, sizes=(self.size,))
                self.first_planned.set()
        except Exception as error:  # noqa: BLE001 - planning ahead never stops a load
            log.info("could not plan the writers ahead (%s)", error)
        finally:
            self.first_planned.set()

    def wait(self) -> None:
        """Return once the first group is planned (or planning failed)."""
        self.first_planned.wait()

    def join(self) -> None:
        """Return once every group is planned (or planning failed)."""
        if self.thread.is_alive():
            self.thread.join()
