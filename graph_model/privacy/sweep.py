"""Erased stays erased, checked over the whole graph: whatever of an erased person is found is erased again.

Every write path withholds the rows of erased people, and a run erases again what it wrote of someone erased
while it ran (:mod:`graph_model.privacy.tombstone`). The sweep trusts neither: it reads every customer id,
identity key and session id in the graph, hashes each as the tombstones are made
(:mod:`graph_model.privacy.keys`), and hands what matches a tombstone to
:func:`graph_model.privacy.erasure.erase_again`:

* a **customer** node with an erased id: erased again, as ``erase_customer`` does (audited, reject lines purged);
* an **identifier** with an erased key: deleted, the sessions it identifies scrubbed and tombstoned;
* an erased person's **session** (kept anonymous by the erasure) that holds something personal again: a
  device, an identifier link, a search text, a custom event's properties, a URL query string
  (:data:`graph_model.privacy.erasure.SESSIONS_TO_SCRUB`): scrubbed again. A session scrubbed as it should be
  is left alone (and not counted).

When it runs: ``customer-graph privacy sweep`` (the data-protection officer's check: it prints what it read
and what it erased again); each ``privacy retention`` run (so the nightly service repairs within a day); and
at the next load after a run that could not check for erasures made while it wrote, because the database
failed (:func:`request_sweep`, :func:`sweep_if_requested`). Cost: one keyed hash per key (a few us) and a
paged read of the three indexes, once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph_model.connection import execute_write, run_query
from graph_model.privacy import ledger
from graph_model.privacy.erasure import SESSIONS_TO_SCRUB, ErasedAgain, erase_again
from graph_model.privacy.redaction import runs_dir
from graph_model.privacy.tombstone import Tombstones

log = logging.getLogger("privacy")

#: One page of a label's keys in key order, after ``$after`` (the unique constraint's index serves the order).
PAGES = {
    "customers": "MATCH (n:Customer) WHERE n.customerId > $after "
                 "RETURN n.customerId AS key ORDER BY key LIMIT $limit",
    "identities": "MATCH (n:Identity) WHERE n.identityKey > $after "
                  "RETURN n.identityKey AS key ORDER BY key LIMIT $limit",
    "sessions": "MATCH (n:Session) WHERE n.sessionId > $after "
                "RETURN n.sessionId AS key ORDER BY key LIMIT $limit",
}

#: Every tombstone as the ledger keeps it
LEDGER_ROWS = "MATCH (t:Tombstone) RETURN t.hash AS hash, t.kind AS kind, t.erasedAt AS erasedAt"

#: The file that asks the next load to sweep first (under the runs folder; it names the run, never a person).
REQUEST_FILE = "sweep-requested"


@dataclass(frozen=True)
class SweepResult:
    """How many keys were read per label, how many were found of erased people, and what was erased again."""

    tombstones: int
    read: dict[str, int]
    found: dict[str, int]
    erased_again: ErasedAgain

    def as_dict(self) -> dict[str, Any]:
        return {"tombstones": self.tombstones, "read": self.read, "found": self.found,
                "erasedAgain": self.erased_again.as_dict()}


def keys_of(label: str, page_size: int = 10_000) -> Iterator[str]:
    """Every key of ``label`` (``customers``, ``identities``, ``sessions``), a page at a time."""
    after = ""
    while True:
        page = [row["key"] for row in run_query(PAGES[label], {"after": after, "limit": page_size}, write=False)]
        yield from page
        if len(page) < page_size:
            return
        after = page[-1]


def erased_in_graph(tombstones: Tombstones, page_size: int = 10_000) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Keys read per label, and the keys in the graph whose tombstone exists (sessions: only those that hold
    something personal again)."""
    tests: dict[str, Callable[[str], bool]] = {"customers": tombstones.customer_erased,
                                              "identities": tombstones.identity_erased,
                                              "sessions": tombstones.session_erased}
    read: dict[str, int] = {}
    found: dict[str, list[str]] = {}
    for label, erased in tests.items():
        count, matches = 0, []
        for key in keys_of(label, page_size):
            count += 1
            if erased(key):
                matches.append(key)
        read[label], found[label] = count, matches
    if found["sessions"]:
        found["sessions"] = run_query(SESSIONS_TO_SCRUB, {"sessionIds": found["sessions"]},
                                      write=False)[0]["sessionIds"]
    return read, found


def sweep(*, actor: str, dry_run: bool = False, reject_roots: list[Path] | None = None,
          page_size: int = 10_000) -> SweepResult:
    """Find what the graph holds of erased people and erase it again (see the module docstring); ``dry_run``:
    only count it."""
    tombstones = execute_write(Tombstones.read)
    # the graph's tombstones the ledger lacks (erasures from before it, or a lost file) go into it: a rebuilt or
    # restored graph gets them back (found by a re-audit, stop 40: nothing copied them)
    ledger.add_missing([{**row, "erasedAt": row["erasedAt"].to_native()} for row in run_query(
        LEDGER_ROWS, write=False)], key=tombstones.key)
    if not tombstones.hashes:  # nobody was ever erased: nothing to read
        nothing = {label: 0 for label in PAGES}
        return SweepResult(0, nothing, nothing, ErasedAgain())
    read, found = erased_in_graph(tombstones, page_size)
    counts = {label: len(keys) for label, keys in found.items()}
    if dry_run:
        return SweepResult(len(tombstones.hashes), read, counts, ErasedAgain())
    again = erase_again(found["customers"], found["identities"], found["sessions"], actor=actor,
                        why="found by a sweep", reject_roots=reject_roots)
    if any(again.as_dict().values()):
        log.warning("sweep: erased people found in the graph and erased again: %s", again.as_dict())
    return SweepResult(len(tombstones.hashes), read, counts, again)


def request_sweep(run: str, root: Path | None = None) -> Path:
    """Ask the next load to sweep first: ``run`` could not check for people erased while it wrote."""
    path = (root or runs_dir()) / REQUEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{datetime.now(UTC).isoformat()} {run}\n")
    return path


def sweep_if_requested(*, actor: str, root: Path | None = None) -> SweepResult | None:
    """Sweep when a run asked for it (:func:`request_sweep`), then forget the request; ``None`` when none did."""
    path = (root or runs_dir()) / REQUEST_FILE
    if not path.exists():
        return None
    taken = path.with_name(REQUEST_FILE + ".taken")  # a request made while this sweep runs waits for the next
    os.replace(path, taken)
    requests = taken.read_text(encoding="utf-8")
    log.warning("a run could not check for erasures made while it wrote (%s): sweeping first",
                requests.strip().replace("\n", "; "))
    try:
        result = sweep(actor=actor, reject_roots=[root] if root else None)
    except BaseException:
        with path.open("a", encoding="utf-8") as handle:  # not done: asked again
            handle.write(requests)
        raise
    finally:
        taken.unlink(missing_ok=True)
    return result
