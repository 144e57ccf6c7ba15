"""Erasures that last beyond the write paths: the sweep erases again whatever of an erased person is in the graph,
by whichever path it came back; a run that could not check for erasures made while it wrote (its database failed)
has the next load sweep; the erasure ledger outside the database brings the tombstones back into a rebuilt or
restored graph."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from neo4j.exceptions import ServiceUnavailable
from test_loaders_privacy import ANN, ANN_COOKIE, _write_browsing, erase_while_loading

from customer_graph.cli import cli
from graph_model.connection import run_query
from graph_model.database import clear_graph
from graph_model.privacy.erasure import erase_customer
from graph_model.privacy.keys import customer_hash
from graph_model.privacy.ledger import ledger_path
from graph_model.privacy.sweep import REQUEST_FILE, sweep
from loaders.exports import write_table
from loaders.pipeline import Loader, LoadOptions, load_drop

BROUGHT_BACK = """
CREATE (c:Customer {customerId: $ann, name: 'Ann Again'})
CREATE (i:Identity {identityKey: 'cookie:' + $cookie, type: 'cookie', value: $cookie})
WITH c, i
MATCH (s:Session {sessionId: 'WS-ANN'})-[:CONTAINS]->(e:Event {eventId: 'E1'})
SET e.query = 'ann private search'
CREATE (s)-[:IDENTIFIED_BY {at: datetime()}]->(i)
"""
"""What a path that skipped the tombstones would write back: the customer, their cookie, a search on their
(kept, scrubbed) session."""


def _drop(folder: Path) -> None:
    """Ann (logged in with her cookie, and on a cookie-only session) and Bob, with searches and a URL query."""
    write_table(pd.DataFrame([{"customerId": ANN, "name": "Ann"}, {"customerId": "C2", "name": "Bob"}]),
                folder / "customers.csv")
    _write_browsing(folder, ann_cookie_when_logged_in=True)


def _personal_traces() -> dict[str, object]:
    return run_query("""
        RETURN COUNT { (c:Customer {customerId: $ann}) } AS customer,
               COUNT { (i:Identity {identityKey: 'cookie:' + $cookie}) } AS cookie,
               COLLECT { MATCH (e:Event) WHERE e.query IS NOT NULL RETURN e.eventId ORDER BY e.eventId } AS searches,
               COLLECT { MATCH (s:Session) WHERE EXISTS { (s)-[:IDENTIFIED_BY]->() }
                         RETURN s.sessionId ORDER BY s.sessionId } AS identified""",
                     {"ann": ANN, "cookie": ANN_COOKIE})[0]


def test_a_sweep_erases_again_whatever_came_back_and_leaves_the_scrubbed_alone(graph, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _drop(tmp_path / "drop")
    load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "day1", writers=1))
    assert erase_customer(ANN, actor="officer", reject_roots=[runs]).found
    clean = _personal_traces()
    assert clean == {"customer": 0, "cookie": 0, "searches": ["E3"], "identified": ["WS-BOB"]}
    nothing = sweep(actor="test", reject_roots=[runs])
    assert nothing.found == {"customers": 0, "identities": 0, "sessions": 0}  # WS-COOKIE is scrubbed: left alone
    assert nothing.read == {"customers": 1, "identities": 1, "sessions": 3}

    run_query(BROUGHT_BACK, {"ann": ANN, "cookie": ANN_COOKIE})
    counted = sweep(actor="test", dry_run=True, reject_roots=[runs])
    assert counted.found == {"customers": 1, "identities": 1, "sessions": 1}
    assert _personal_traces()["customer"] == 1  # a dry run changes nothing

    swept = sweep(actor="dpo", reject_roots=[runs])
    assert swept.erased_again.as_dict() == {"customers": 1, "identities": 1, "sessions": 1}
    assert _personal_traces() == clean
    assert run_query("MATCH (a:AuditEntry {action: 'erase', subject: $s}) RETURN a.actor AS actor ORDER BY actor",
                     {"s": customer_hash(ANN)}) == [{"actor": "dpo"}, {"actor": "officer"}]
    assert sweep(actor="test", reject_roots=[runs]).found == {"customers": 0, "identities": 0, "sessions": 0}


def test_privacy_sweep_and_each_retention_run_report_what_they_found(graph, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _drop(tmp_path / "drop")
    load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "day1", writers=1))
    assert erase_customer(ANN, actor="officer", reject_roots=[runs]).found
    run_query(BROUGHT_BACK, {"ann": ANN, "cookie": ANN_COOKIE})

    nightly = CliRunner().invoke(cli, ["privacy", "retention", "--dry-run", "--runs-dir", str(runs)])
    assert nightly.exit_code == 0, nightly.output  # each retention run sweeps too (here only counting)
    assert json.loads(nightly.output)["sweep"]["found"] == {"customers": 1, "identities": 1, "sessions": 1}
    found = CliRunner().invoke(cli, ["privacy", "sweep", "--runs-dir", str(runs)])
    assert found.exit_code == 1, found.output
    assert json.loads(found.output)["erasedAgain"] == {"customers": 1, "identities": 1, "sessions": 1}
    clean = CliRunner().invoke(cli, ["privacy", "sweep", "--runs-dir", str(runs)])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["found"] == {"customers": 0, "identities": 0, "sessions": 0}


def test_a_run_that_could_not_check_for_erasures_has_the_next_load_sweep(graph, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Until stop 40 a person erased while a run wrote them, whose database then failed before the run could
    check, stayed in the graph until erased again (only the run's log said so)."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))
    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    write_table(pd.DataFrame([{"customerId": ANN, "name": "Ann"}, {"customerId": "C2", "name": "Bob"}]),
                day1 / "customers.csv")
    load_drop(day1, LoadOptions(report_dir=runs / "day1"))
    _drop(day2)
    erase_while_loading(monkeypatch, runs, ANN, before="customers", fail_at="events",
                        failure=ServiceUnavailable("the database went away"))

    def database_still_away(loader: Loader) -> None:
        raise ServiceUnavailable("the database is still away")

    monkeypatch.setattr(Loader, "erase_again_the_erased_meanwhile", database_still_away)
    with pytest.raises(ServiceUnavailable, match="went away"):
        load_drop(day2, LoadOptions(report_dir=runs / "day2", writers=1))
    assert _personal_traces()["customer"] == 1  # written back by the run's later rows, not checked
    assert (runs / REQUEST_FILE).read_text(encoding="utf-8").split()[1] == "day2"  # names the run, no one else
    monkeypatch.undo()
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(runs))

    tomorrow = tmp_path / "tomorrow"
    write_table(pd.DataFrame([{"customerId": "C5", "name": "Cleo"}]), tomorrow / "customers.csv")
    load_drop(tomorrow, LoadOptions(report_dir=runs / "tomorrow"))
    assert _personal_traces()["customer"] == 0
    assert not (runs / REQUEST_FILE).exists()
    assert run_query("MATCH (c:Customer) RETURN c.customerId AS id ORDER BY id") == [{"id": "C2"}, {"id": "C5"}]


def test_erasures_outlive_a_rebuilt_graph_through_the_ledger(graph, tmp_path: Path) -> None:
    """Until stop 40 the tombstones lived in the graph only: a graph rebuilt from the exports (or a bulk first load
    into a new database) let an erased person back in with the next load of an export naming them."""
    runs = tmp_path / "runs"
    _drop(tmp_path / "drop")
    load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "day1", writers=1))
    assert erase_customer(ANN, actor="officer", reject_roots=[runs]).found
    ledger_text = ledger_path().read_text(encoding="utf-8")
    assert len(ledger_text.splitlines()) == 5  # the customer id, customer_ref and cookie, the person's two sessions
    assert ANN not in ledger_text and ANN_COOKIE not in ledger_text  # keyed hashes only

    clear_graph()  # the graph rebuilt: tonight's export loaded into an empty database
    report = load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "rebuilt", writers=1))
    assert report["entities"]["customers"]["rejectReasons"] == {"erased": 1}
    assert report["entities"]["sessions"]["rejectReasons"] == {"erased": 2}
    assert _personal_traces() == {"customer": 0, "cookie": 0, "searches": ["E3"], "identified": ["WS-BOB"]}
    assert run_query("MATCH (t:Tombstone) RETURN count(t) AS n, all(x IN collect(t.restoredFromLedger) WHERE x) AS "
                     "restored")[0] == {"n": 5, "restored": True}

    clear_graph()  # a bulk first load writes them into its import
    out = tmp_path / "csv"
    bulk = load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "bulk", bulk=True, bulk_csv_only=out))
    assert bulk["entities"]["customers"]["rejectReasons"] == {"erased": 1}
    assert len((out / "nodes" / "Tombstone.csv").read_text(encoding="utf-8").splitlines()) == 1 + 5


def test_a_graph_restored_from_before_an_erasure_is_swept_clean(graph, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _drop(tmp_path / "drop")
    load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "day1", writers=1))
    assert erase_customer(ANN, actor="officer", reject_roots=[runs]).found
    # the backup of the day before: the person and their cookie in it, the erasure's tombstones not
    run_query("MATCH (t:Tombstone) DETACH DELETE t")
    run_query(BROUGHT_BACK, {"ann": ANN, "cookie": ANN_COOKIE})

    swept = sweep(actor="dpo", reject_roots=[runs])
    assert swept.tombstones == 5 and swept.erased_again.as_dict() == {"customers": 1, "identities": 1, "sessions": 1}
    assert _personal_traces() == {"customer": 0, "cookie": 0, "searches": ["E3"], "identified": ["WS-BOB"]}


def test_the_ledger_survives_a_torn_line_odd_lines_and_its_own_loss(graph, tmp_path: Path) -> None:
    """Found by a re-audit (stop 40): an erasure appended after a line torn by a crash was glued to it (lost); an odd
    but valid JSON line stopped every run; and nothing copied the graph's tombstones into a lost (or not yet
    existing) ledger."""
    from graph_model.privacy import ledger
    from graph_model.privacy.keys import load_key

    runs = tmp_path / "runs"
    _drop(tmp_path / "drop")
    load_drop(tmp_path / "drop", LoadOptions(report_dir=runs / "day1", writers=1))
    path = ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"hash": "deadbeef", "kind": "cust', encoding="utf-8")  # a crash mid-append
    assert erase_customer(ANN, actor="officer", reject_roots=[runs]).found
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"hash": ["x"], "kind": "customer", "erasedAt": "2020-01-01T00:00:00", "key": "k"}\n'
                     '[1, 2]\n')
    restored = {entry.hash for entry in ledger.entries(key=load_key())}
    assert customer_hash(ANN) in restored and len(restored) == 5

    path.unlink()  # the file lost (or erasures made before it existed): the sweep copies the graph's tombstones
    sweep(actor="dpo", reject_roots=[runs])
    assert {entry.hash for entry in ledger.entries(key=load_key())} == restored
