"""The load pipeline: read -> validate -> check references -> batch -> write, for files, drops and adapters.

Every row ends either loaded or in the rejects file with a reason; the run report counts both.

The privacy rules apply to every load (files, drops and the Online Retail adapter alike):

* the erasure tombstones are read once per run; a row of an erased customer, or carrying an erased
  identifier, is dropped as ``erased`` (its reject holds no row and a message that names no value); a
  person erased by another process while the run writes is erased again at its end (:meth:`Loader.complete`);
* location pings of a customer the consent policy (:func:`graph_model.privacy.policy.current_policy`)
  does not allow ``location`` for are never geofenced: dropped as ``no_consent``, coordinates not written.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from graph_model.connection import current_settings, execute_read, execute_write, run_query
from graph_model.errors import CustomerGraphError
from graph_model.model.customers import identity_key, normal_key
from graph_model.privacy.erasure import erase_again
from graph_model.privacy.keys import load_key
from graph_model.privacy.policy import current_policy
from graph_model.privacy.redaction import purge_person, runs_dir
from graph_model.privacy.sweep import request_sweep, sweep_if_requested
from graph_model.privacy.tombstone import Tombstones
from graph_model.schema import apply_schema
from graph_model.settings import Settings
from graph_model.timestamps import latest_acceptable
from loaders.batching import Item, PartitionedWriter, Progress, chunks
from loaders.entities import SPECS, EntitySpec, future_dated
from loaders.exports import ExportFile, recognise
from loaders.garbage_collection import few_collections
from loaders.geofence import GeofenceConfig, visits_from_pings
from loaders.identity import stitch_sessions
from loaders.readers import RawRow, UnreadableRow, count_rows, read_rows
from loaders.references import KeyCache
from loaders.report import Reject, RejectReason, RunReport
from loaders.schemas import known_columns
from loaders.warmup import Planning
from loaders.writers.visits import LOCATION_CONSENTS, write_visits

log = logging.getLogger("loaders")

SourceRows = Iterable[tuple[int, RawRow | UnreadableRow]]


class LoadError(CustomerGraphError):
    """A load cannot start: no such file or folder, a file whose entity is unknown."""


@dataclass(frozen=True)
class LoadOptions:
    """How a run loads: batch size, parallel writers, reject threshold, report folder, geofencing."""

    batch_size: int = 5_000
    writers: int = 2
    max_reject_share: float = 0.05
    report_dir: Path | None = None
    progress: bool | None = None  # None: a bar on a terminal, log lines otherwise
    geofence: GeofenceConfig = field(default_factory=GeofenceConfig)
    apply_schema: bool = True
    plan_ahead: bool = True  # plan each entity's statements while its first rows are validated (a file load)
    bulk: bool = False  # a first load into an empty database through neo4j-admin import (loaders.bulk)
    bulk_csv_only: Path | None = None  # bulk: only write the import CSVs (and the command) into this folder


_schema_ready: set[Settings] = set()


def ensure_schema() -> None:
    """Apply the schema once per process and database (every statement is IF NOT EXISTS anyway)."""
    settings = current_settings()
    if settings not in _schema_ready:
        apply_schema()
        _schema_ready.add(settings)


def default_report_dir(name: str) -> Path:
    """``<runs dir>/<UTC time>-<name>``: under ``CUSTOMER_GRAPH_RUNS_DIR``, else ``<project>/runs``
    (:func:`graph_model.privacy.redaction.runs_dir`, where erasure and retention look for rejects)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return runs_dir() / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[:60]}"


ERASED_CUSTOMER = "row of an erased customer"
ERASED_IDENTIFIER = "erased identifier"
ERASED_SESSION = "session of an erased customer"
NO_LOCATION_CONSENT = "no location consent"

#: The reject of a row none of whose columns the format knows (kept without the row, and its column names are not
#: reported: they are the first row's values; until stop 40 a header-less customers file put names, e-mails and
#: phone numbers in clear into the rejects, the report and the summary: found by an audit).
NO_KNOWN_COLUMN = ("none of the row's columns is in the format: a file without its header line? (row and column "
                   "names not kept: they may be values)")

SESSION_ENTITIES = frozenset({"sessions", "events"})  # whose sessionId is checked against the tombstones

# The identifiers a row of each entity carries, as (type, field): checked against the tombstones.
ROW_IDENTIFIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("email_hash", "emailHash"),),
    "sessions": (("cookie", "cookie"), ("device_id", "deviceId")),
    "loyalty_scans": (("loyalty_card", "loyaltyCard"),),
}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else normal_key(str(value))


def row_keys(entity: str, fields: Any) -> tuple[str | None, str | None, list[str]]:
    """The customer id, session id and identity keys (``"<type>:<value>"``) a row of ``entity`` carries: what
    the tombstones are asked about. ``fields(name)`` gives the row's value of a field (or ``None``)."""
    customer = fields("customerId")
    if customer is not None:  # on every written row (:class:`WrittenKeys`): the common case kept short
        customer = _text(customer)
    session = fields("sessionId") if entity in SESSION_ENTITIES else None
    if session is not None:
        session = _text(session)
    identifiers = ROW_IDENTIFIERS.get(entity)
    keys = [identity_key(kind, v) for kind, name in identifiers if (v := _text(fields(name)))] if identifiers else []
    if entity == "identifiers" and (kind := _text(fields("type"))) and (v := _text(fields("value"))):
        keys.append(identity_key(kind, v))
    return customer, session, keys


def erased_message(tombstones: Tombstones, entity: str, fields: Any) -> str | None:
    """Why a row of ``entity`` must not be loaded under the erasure tombstones, or ``None``.

    ``fields(name)`` gives the row's value of a field (or ``None``). The message names no value.
    """
    if not tombstones.hashes:
        return None
    customer, session, keys = row_keys(entity, fields)
    if tombstones.customer_erased(customer):
        return ERASED_CUSTOMER
    if tombstones.session_erased(session):
        return ERASED_SESSION
    return ERASED_IDENTIFIER if any(map(tombstones.identity_erased, keys)) else None


@dataclass
class WrittenKeys:
    """The customer ids, session ids and identity keys of the rows a run wrote: what it erases again when
    their person is erased while it runs (:meth:`Loader.complete`)."""

    customers: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    identities: set[str] = field(default_factory=set)

    def add(self, entity: str, row: Any) -> None:
        """Remember what a validated row of ``entity`` carries (a pydantic model: its fields are its ``__dict__``;
        a rejected row as read: a dict)."""
        customer, session, keys = row_keys(entity, row.get if isinstance(row, dict) else row.__dict__.get)
        if customer:
            self.customers.add(customer)
        if session:
            self.sessions.add(session)
        self.identities.update(keys)

    def erased(self, tombstones: Tombstones, hashes: frozenset[str]) -> tuple[list[str], list[str], list[str]]:
        """The customer ids, identity keys and session ids written whose tombstone is among ``hashes``."""
        if not hashes:
            return [], [], []
        erased = Tombstones(hashes, tombstones.key)
        return (sorted(filter(erased.customer_erased, self.customers)),
                sorted(filter(erased.identity_erased, self.identities)),
                sorted(filter(erased.session_erased, self.sessions)))


def _validation_reject(error: ValidationError) -> tuple[RejectReason, str]:
    errors = error.errors(include_url=False)
    missing = all(e["type"] == "missing" for e in errors)
    message = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in errors)
    return (RejectReason.MISSING_FIELD if missing else RejectReason.INVALID_VALUE), message


def _missing_reference(spec: EntitySpec, row: Any, known: dict[str, set[str]]) -> tuple[RejectReason, str] | None:
    """The reject of ``row`` when it refers to a key not in ``known`` (per label), else ``None``."""
    for ref in spec.references:
        value = getattr(row, ref.field)
        if value is None:
            continue
        keys = known[ref.label]
        for key in value if isinstance(value, list) else (value,):
            if key not in keys:
                return ref.reason, f"{ref.field}: no {ref.label} {key!r} in the graph or earlier in this drop"
    return None


class Loader:
    """One run: loads entities from files or adapters into the graph and fills one :class:`RunReport`."""

    def __init__(self, report: RunReport, options: LoadOptions, *, database_exists: bool = True) -> None:
        """``database_exists=False``: the database has not been created yet (the bulk loader imports before the
        local server's first start), so it holds no keys and no tombstones and nothing is asked of it."""
        self.report, self.options = report, options
        self.database_exists = database_exists
        self.written = WrittenKeys()
        self.rejected = WrittenKeys()  # whom the run's reject lines name: purged if erased while it runs
        report.on_reject = self._remember_rejected
        self.keys = KeyCache(read_graph=database_exists)
        self.tombstones: Tombstones
        if database_exists:
            if options.apply_schema:
                ensure_schema()
            # a run that could not check for erasures made while it wrote asked for a sweep: first that
            sweep_if_requested(actor=f"loader:{report.source}")
            # once per run; a write: the first read records the privacy key's fingerprint in the graph
            self.tombstones = execute_write(Tombstones.read)
        else:
            self.tombstones = Tombstones.before_the_database(load_key())

    def _remember_rejected(self, reject: Reject) -> None:
        if isinstance(reject.row, dict):
            self.rejected.add(reject.entity, reject.row)

    # ------------------------------------------------------------------ entry points
    def load_export(self, export: ExportFile) -> None:
        """Load one recognised export file."""
        total = count_rows(export)
        self.load_rows(export.entity, read_rows(export), export.path.name, total=total)

    def load_rows(self, entity: str, rows: SourceRows, source: str, *, total: int | None = None,
                  prefilter_rejects: Iterable[Reject] = ()) -> None:
        """Validate and write ``rows`` of ``entity``; ``source`` names them in rejects and the report."""
        spec = SPECS[entity]
        stats = self.report.stats(entity)
        stats.files.append(source)
        for reject in prefilter_rejects:
            stats.read += 1
            self.report.reject(reject)
        t0 = time.perf_counter()
        progress = Progress(entity, total, self.options.progress)
        try:
            if entity == "pings":
                self._load_pings(spec, rows, source, progress)
            else:
                self._load_streamed(spec, rows, source, progress)
        finally:
            progress.close()
            stats.seconds += time.perf_counter() - t0

    # ------------------------------------------------------------------ the common path
    def erased(self, entity: str, row: Any) -> str | None:
        """Why ``row`` (validated, or raw as read) of ``entity`` is withheld under the tombstones, or ``None``."""
        if not self.tombstones.hashes:
            return None
        if isinstance(row, dict):
            fields = SPECS[entity].schema.model_fields
            return erased_message(self.tombstones, entity, lambda name: row.get(name) if name in fields else None)
        return erased_message(self.tombstones, entity, row.__dict__.get)

    def _validated(self, spec: EntitySpec, rows: SourceRows, source: str) -> Iterable[Item]:
        """The rows that pass every check, as items, in file order; the others are rejects with a reason.
        Rows are checked a chunk at a time: the keys a chunk refers to are read from the graph in one
        look-up per label before its references are checked."""
        written = self.written
        for chunk in chunks(rows, self.options.batch_size):
            checked = list(self._checked(spec, chunk, source))
            self._prefetch_references(spec, [row for _, _, row in checked])
            known = {ref.label: self.keys.keys(ref.label) for ref in spec.references}  # live sets, read once
            provided = self.keys.keys(spec.provides[0]) if spec.provides else None
            for line, raw, row in checked:
                missing = _missing_reference(spec, row, known)
                if missing:
                    self.report.reject(Reject(source, line, spec.name, missing[0], missing[1], raw))
                    continue
                params = spec.params(row)
                if provided is not None and spec.provides:
                    provided.add(params[spec.provides[1]])
                written.add(spec.name, row)
                yield Item(source, line, raw, params)

    def _checked(self, spec: EntitySpec, rows: SourceRows, source: str) -> Iterable[tuple[int, RawRow, Any]]:
        """``(line, raw, row)`` of the rows that are readable, valid, not erased and pass the entity's check."""
        stats = self.report.stats(spec.name)
        known = known_columns(spec.schema)
        columns = set(known)  # and the unknown ones reported already, each named once
        latest = latest_acceptable()  # once per chunk: the clock moves on during a long load
        for line, raw in rows:
            stats.read += 1
            if isinstance(raw, UnreadableRow):
                self.report.reject(Reject(source, line, spec.name, RejectReason.UNREADABLE, raw.message, raw.text))
                continue
            if known.isdisjoint(raw):  # a file without its header line: its first row's values are the names
                self.report.reject(Reject(source, line, spec.name, RejectReason.UNREADABLE, NO_KNOWN_COLUMN, None))
                continue
            if not columns.issuperset(raw):  # a column the format does not know: named in the report
                unknown = [name for name in raw if name not in columns]
                self.report.ignore_columns(source, unknown, known_columns(spec.schema))
                columns.update(unknown)
            try:
                row = spec.schema.model_validate(raw)
            except ValidationError as error:
                erased = self.erased(spec.name, raw)  # a broken row of an erased person: still no trace of it
                if erased:
                    self.report.reject(Reject(source, line, spec.name, RejectReason.ERASED, erased, None))
                    continue
                reason, message = _validation_reject(error)
                self.report.reject(Reject(source, line, spec.name, reason, message, raw))
                continue
            erased = self.erased(spec.name, row)
            if erased:
                self.report.reject(Reject(source, line, spec.name, RejectReason.ERASED, erased, None))
                continue
            problem = (spec.check(row) if spec.check else None) or future_dated(spec, row, latest)
            if problem:
                self.report.reject(Reject(source, line, spec.name, RejectReason.INVALID_VALUE, problem, raw))
                continue
            yield line, raw, row

    def _prefetch_references(self, spec: EntitySpec, rows: list[Any]) -> None:
        """Read which of the keys ``rows`` refer to exist in the graph (one look-up per label)."""
        wanted: dict[str, set[str]] = {}
        for ref in spec.references:
            keys = wanted.setdefault(ref.label, set())
            for row in rows:
                value = getattr(row, ref.field)
                if value is not None:
                    keys.update(value if isinstance(value, list) else (value,))
        for label, keys in wanted.items():
            self.keys.prefetch(label, keys)

    def _forget(self, spec: EntitySpec) -> Any:
        if spec.provides is None:
            return None
        label, key = spec.provides
        return lambda items: self.keys.discard(label, [item.params[key] for item in items])

    def _load_streamed(self, spec: EntitySpec, rows: SourceRows, source: str, progress: Progress) -> None:
        self._write_streamed(spec, self._validated(spec, rows, source), progress)

    def _plans(self, spec: EntitySpec, rows: int | None) -> tuple[tuple[str, ...], ...]:
        """What to plan ahead for ``rows`` rows (``None``: not known) of ``spec``: nothing when the options say
        so, or when the rows fill no batch (their plan is of another size, and planning a whole module for a
        file of 35 categories took 2.8 s on a just-started server)."""
        if not self.options.plan_ahead or (rows is not None and rows < self.options.batch_size):
            return ()
        return spec.plans

    def _write_streamed(self, spec: EntitySpec, items: Iterable[Item], progress: Progress) -> None:
        """Write validated ``items`` of ``spec`` with its writer (then stitch around the sessions/identifiers)."""
        assert spec.write is not None
        writers = self.options.writers if spec.partition else 1
        planning = Planning(self._plans(spec, progress.total), self.options.batch_size).start()
        writer = PartitionedWriter(spec.name, spec.write, self.report, writers=writers,
                                   batch_size=self.options.batch_size, progress=progress,
                                   on_failed=self._forget(spec), ready=planning.wait)
        touched_sessions: list[str] = []
        identity_keys: list[str] = []
        keyed = spec.partition_all(items) if spec.partition_all else (
            (item, spec.partition(item.params) if spec.partition else None) for item in items)
        try:
            for item, key in keyed:
                if spec.name == "sessions":
                    touched_sessions.append(item.params["sessionId"])
                    if item.params["customerId"] is None:  # a logged-in row's: from the writer, if shared
                        identity_keys.extend(identity["key"] for identity in item.params["identities"])
                elif spec.name == "identifiers":
                    identity_keys.append(item.params["identityKey"])
                writer.add(item, key)
        finally:
            writer.close()
            planning.join()
        identity_keys.extend(writer.follow_up)
        if touched_sessions or identity_keys:
            changes = stitch_sessions(touched_sessions, identity_keys, linked=spec.name == "sessions",
                                      batch_size=self.options.batch_size)
            stats = self.report.stats(spec.name)
            stats.extra["sessionsStitched"] = stats.extra.get("sessionsStitched", 0) + changes["sessionsStitched"]

    def location_permitted(self, items: list[Item]) -> list[Item]:
        """The pings whose customer the consent policy allows ``location`` for; the others are rejected
        as ``no_consent`` without their row (their coordinates are written nowhere)."""
        customers = sorted({item.params["customerId"] for item in items})
        if not customers:
            return items
        records = dict(execute_read(
            lambda tx: tx.run(LOCATION_CONSENTS, customerIds=customers).single(strict=True)["consents"]))
        return self.permitted_by(items, records)

    def permitted_by(self, items: list[Item], records: dict[str, list[dict[str, Any]]]) -> list[Item]:
        """The pings whose customer's consent records (``records``: customer id -> its records) allow
        ``location`` under the consent policy; the others are rejected as ``no_consent`` without their row."""
        policy = current_policy()
        allowed = {c for c in {item.params["customerId"] for item in items}
                   if policy.permits(records.get(c, []), "location")}
        permitted = []
        for item in items:
            if item.params["customerId"] in allowed:
                permitted.append(item)
            else:
                self.report.reject(Reject(item.file, item.line, "pings", RejectReason.NO_CONSENT,
                                          NO_LOCATION_CONSENT, None))
        return permitted

    def permitted_pings(self, rows: SourceRows, source: str) -> list[dict[str, Any]]:
        """Validated ping rows whose customer allows location (the others are rejected, their coordinates
        kept nowhere); for a caller that geofences them together with earlier pings (the collection API)."""
        return [item.params for item in self.location_permitted(list(self._validated(SPECS["pings"], rows, source)))]

    def write_pings(self, pings: list[dict[str, Any]], source: str) -> None:
        """Geofence ``pings`` (validated, permitted) into visits and write them."""
        self._write_pings([Item(source, 0, ping, ping) for ping in pings], source, Progress("pings", None, False))

    def _load_pings(self, spec: EntitySpec, rows: SourceRows, source: str, progress: Progress) -> None:
        self._write_pings(list(self._validated(spec, rows, source)), source, progress)

    def _write_pings(self, items: list[Item], source: str, progress: Progress) -> None:
        """Geofence validated pings the consent policy permits into visits and write them."""
        pings = [item.params for item in self.location_permitted(items)]
        stores = [(r["storeId"], r["lat"], r["lon"]) for r in run_query(
            "MATCH (s:Store) RETURN s.storeId AS storeId, s.location.latitude AS lat, s.location.longitude AS lon",
            write=False)]
        visits = visits_from_pings(pings, stores, self.options.geofence, key=self.tombstones.key)
        planning = Planning(self._plans(SPECS["pings"], len(visits)), self.options.batch_size).start()
        writer = PartitionedWriter("pings", write_visits, self.report, writers=self.options.writers,
                                   batch_size=self.options.batch_size, progress=progress, ready=planning.wait)
        # the pings are loaded once their visits are written; the writer counts visits, so count pings here
        try:
            for visit in visits:
                writer.add(Item(source, 0, visit, visit), visit["customerId"])
        finally:
            writer.close()
            planning.join()
        self.count_pings(pings, visits)

    def count_pings(self, pings: list[dict[str, Any]], visits: list[dict[str, Any]]) -> None:
        """The pings' figures in the report: every permitted ping is loaded, and the visits they made."""
        stats = self.report.stats("pings")
        stats.loaded = len(pings)
        stats.extra["visitsFromPings"] = len(visits)
        stats.extra["pingsInVisits"] = sum(v["pings"] for v in visits)

    def complete(self) -> None:
        """Called once after the last entity of a run, before its report is written (the bulk loader imports
        first): :meth:`erase_again_the_erased_meanwhile`."""
        self.erase_again_the_erased_meanwhile()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a run's writes: a run that fails still erases again what it wrote of people erased while it
        ran (then its error goes on; a failure of that is logged, never in the error's place, and asks the next
        run to sweep first: :mod:`graph_model.privacy.sweep`)."""
        try:
            yield
        except BaseException:
            try:
                self.erase_again_the_erased_meanwhile()
            except Exception:  # the database may be what failed: the run's own error is the one to see
                log.exception("could not check for people erased while this run wrote: the next load sweeps "
                              "first (graph_model.privacy.sweep)")
                if self.written.customers or self.written.sessions or self.written.identities:
                    request_sweep(self.report.source)
            raise

    def erase_again_the_erased_meanwhile(self) -> None:
        """Erase again what the run wrote of people erased while it ran, once no erasure is in flight (the
        tombstones were read when the run started; :mod:`graph_model.privacy.tombstone`)."""
        if not self.database_exists:
            return
        current = execute_write(self.tombstones.current)
        if current is self.tombstones:
            return
        new = current.hashes - self.tombstones.hashes
        customers, identities, sessions = self.written.erased(current, new)
        named_customers, named_identities, _ = self.rejected.erased(current, new)
        self.tombstones = current
        if customers or identities or sessions:
            with self.report.rejects_closed():  # the erasure purges this run's rejects file too
                again = erase_again(customers, identities, sessions, actor=f"loader:{self.report.source}")
            self.report.erased_again(again.as_dict())
            log.warning("erased while this run wrote them, erased again: %s", again.as_dict())
        named = [*(c for c in named_customers if c not in customers),  # the written were erased again (lines too)
                 *(key.partition(":")[2] for key in named_identities if key not in identities)]
        if named:  # only rejected, never written: the run's lines naming them go (the erasure read them before)
            with self.report.rejects_closed():
                removed = purge_person(named, [self.report.rejects_path], key=self.tombstones.key)
            if removed:
                self.report.erased_again({"rejectLines": removed})


def make_loader(report: RunReport, options: LoadOptions) -> Loader:
    """The loader of a run: transactional, or the bulk first load (:mod:`loaders.bulk`) when ``options.bulk``."""
    if options.bulk:
        from loaders.bulk import BulkLoader

        return BulkLoader(report, options)
    return Loader(report, options)


def _run(name: str, options: LoadOptions) -> tuple[Loader, RunReport]:
    report = RunReport(options.report_dir or default_report_dir(name), name, options.max_reject_share)
    return make_loader(report, options), report


def drop_exports(directory: Path) -> tuple[list[ExportFile], list[str]]:
    """The export files of a drop folder in dependency order, and the names of files it does not recognise."""
    exports, unknown = [], []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        export = recognise(path)
        if export is None:
            unknown.append(path.name)
        else:
            exports.append(export)
    order = {name: i for i, name in enumerate(SPECS)}
    exports.sort(key=lambda e: (order[e.entity], e.path.name))
    return exports, unknown


@few_collections()
def load_drop(directory: Path, options: LoadOptions | None = None) -> dict[str, Any]:
    """Load a whole nightly drop (every recognised file of ``directory``, reference data first); a folder
    without any export file is a :class:`LoadError` (a run that loads nothing must not look like a success)."""
    options = options or LoadOptions()
    if not directory.is_dir():
        raise LoadError(f"not a folder: {directory}")
    exports, unknown = drop_exports(directory)
    if not exports:  # a wrong path, or an export that failed upstream: not a night with nothing to load
        named = f" (not recognised: {', '.join(unknown[:10])}{', ...' if len(unknown) > 10 else ''})" if unknown else ""
        raise LoadError(f"no export file in {directory}{named}: name files <entity>.<csv|jsonl|parquet>[.gz], "
                        f"<entity> one of {', '.join(SPECS)}")
    loader, report = _run(directory.name, options)
    report.unrecognised_files.extend(unknown)
    with loader.writing():
        for export in exports:
            log.info("loading %s as %s", export.path.name, export.entity)
            loader.load_export(export)
    loader.complete()
    return report.finish()


@few_collections()
def load_file(path: Path, entity: str | None = None, options: LoadOptions | None = None) -> dict[str, Any]:
    """Load one export file (its entity from ``entity`` or from its name)."""
    options = options or LoadOptions()
    if not path.is_file():
        raise LoadError(f"not a file: {path}")
    if entity is not None and entity not in SPECS:
        raise LoadError(f"unknown entity {entity!r}; one of: {', '.join(SPECS)}")
    export = recognise(path, entity)
    if export is None:
        raise LoadError(f"cannot tell the entity or format of {path.name}: name it <entity>.<csv|jsonl|parquet>[.gz] "
                        f"or pass --entity")
    loader, report = _run(path.name, options)
    with loader.writing():
        loader.load_export(export)
    loader.complete()
    return report.finish()
