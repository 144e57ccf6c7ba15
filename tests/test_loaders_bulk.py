"""The bulk first load (neo4j-admin import) gives the same graph and the same report as the transactional loaders.

Each test loads the same rows both ways into the session's real Neo4j (emptied in between; the example
drop's bulk load goes into a new local database instead, imported before its first start): counts per label
and relationship type and the property checksum must be equal (audit entries' ids and times differ on every
run and are left out), and so must report.json's counts and reasons. The transactional load of the Online
Retail slice with the example drop (``then``) is made once (:func:`transactional`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph_model import connection
from graph_model.connection import run_query
from graph_model.database import clear_graph, database_not_created, local_server
from graph_model.errors import LocalServerError
from graph_model.local_server.distribution import Distribution
from graph_model.local_server.server import free_port
from graph_model.settings import Settings, project_root
from loaders import bulk as bulk_module
from loaders.bulk import cypher_round
from loaders.fingerprint import graph_lines
from loaders.generator import GeneratorConfig, generate
from loaders.online_retail import load_online_retail
from loaders.pipeline import LoadError, LoadOptions, load_drop

DROP = project_root() / "data" / "examples" / "nightly-drop"


def _counts(report: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in stats.items() if k not in ("durationSeconds", "rowsPerSecond")}
            for name, stats in report["entities"].items()}


@dataclass(frozen=True)
class Loaded:
    """A load's graph (:func:`graph_lines`), its report and its run folder."""

    lines: tuple[Counter[str], Counter[str], list[str]]
    report: dict[str, Any]
    folder: Path


def _bulk_into_a_new_database(graph: Settings, tmp_path: Path, load: Any) -> Loaded:
    """``load`` in bulk into a local database not created yet (``customer-graph up`` on a new home): nothing to
    stop and nothing to ask the server; then the same checks run on the new server, which is stopped afterwards."""
    new = replace(graph, home=tmp_path / "home", bolt_port=free_port(), http_port=free_port(), heap="1g",
                  pagecache="256m")
    assert database_not_created(new)
    connection.configure(new)
    try:
        report = load(LoadOptions(report_dir=tmp_path / "bulk", progress=False, bulk=True))
        steps = json.loads((tmp_path / "bulk" / "bulk.json").read_text())["seconds"]
        assert "stop" not in steps and {"import", "start", "schema"} <= set(steps)
        assert local_server(new).running_pid() is not None and not database_not_created(new)
        assert run_query("MATCH (k:PrivacyKey) RETURN count(k) AS n")[0]["n"] == 1
        return Loaded(graph_lines(), report, tmp_path / "bulk")
    finally:
        connection.close_driver()
        local_server(connection.current_settings()).stop()
        connection.configure(graph)


def _assert_same(bulk: Loaded, transactional: Loaded) -> None:
    nodes, rels, lines = transactional.lines
    bulk_nodes, bulk_rels, bulk_lines = bulk.lines
    assert bulk_nodes == nodes
    assert bulk_rels == rels
    missing, extra = sorted(set(lines) - set(bulk_lines)), sorted(set(bulk_lines) - set(lines))
    assert (missing[:5], extra[:5]) == ([], [])
    assert bulk_lines == lines
    assert _counts(bulk.report) == _counts(transactional.report)
    assert sorted((bulk.folder / "rejects.jsonl").read_text().splitlines()) == sorted(
        (transactional.folder / "rejects.jsonl").read_text().splitlines())
    assert (bulk.folder / "bulk.json").exists()


def _example_and_generated_drop(folder: Path) -> Path:
    """A small generated drop (pings with and without location consent, unsubscribes, broken rows) with the
    example drop's files beside it (``<entity>-example.csv``: the same ids in places, so rows upsert, older
    rows after newer ones among them)."""
    generate(GeneratorConfig(customers=150, days=3, message_rate=0.3, dirty_share=0.01, seed=7), folder)
    for entity in ("categories", "brands", "products", "stores", "stock", "campaigns", "offers", "customers",
                   "consents"):  # upserted master data (a session or event id in two files is not a shared case)
        shutil.copy(DROP / f"{entity}.csv", folder / f"{entity}-example.csv")
    # marketing consents on the channels of 12 messages, then their customers unsubscribe: granted before the
    # unsubscribe (withdrawn by it), granted after it (the unsubscribe is superseded), and an old grant
    # repeated after a newer withdrawal in the same file (superseded)
    with open(folder / "messages.csv", newline="") as handle:
        messages = [m for m in csv.DictReader(handle) if m["channel"] in ("email", "sms", "push")][:12]
    consents, responses = ["customerId,channel,purpose,granted,updatedAt"], ["messageId,customerId,type,at,text"]
    for n, m in enumerate(messages):
        sent = datetime.fromisoformat(m["sentAt"].replace("Z", "+00:00"))
        granted_at = sent + timedelta(days=2) if n % 3 == 1 else sent - timedelta(days=2)
        consents.append(f"{m['customerId']},{m['channel']},marketing,true,{granted_at.isoformat()}")
        if n % 3 == 2:
            consents.append(f"{m['customerId']},{m['channel']},marketing,false,{(sent - timedelta(days=1)).isoformat()}")
            consents.append(f"{m['customerId']},{m['channel']},marketing,true,{(sent - timedelta(days=3)).isoformat()}")
        responses.append(f"{m['messageId']},{m['customerId']},unsubscribed,{(sent + timedelta(hours=1)).isoformat()},")
    (folder / "consents-marketing.csv").write_text("\n".join(consents) + "\n")
    (folder / "responses-unsubscribes.csv").write_text("\n".join(responses) + "\n")
    return folder


def _retail_slice_then_drop(options: LoadOptions) -> dict[str, Any]:
    """12 days of Online Retail (4 of its orders have lines in two 5,000-row batches of the transactional
    writers), then the example drop in the same run (``then``: how ``up`` bulk-loads the demo's layer with it)."""
    return load_online_retail(limit_days=12, options=options, then=[DROP])


@dataclass(frozen=True)
class Transactional:
    """The slice and the drop loaded transactionally in one run (``then``), and one after the other."""

    one_run: Loaded
    one_after_the_other: tuple[Counter[str], Counter[str], list[str]]


@pytest.fixture(scope="session")
def transactional(neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Transactional:
    """:func:`_retail_slice_then_drop` loaded transactionally, and the same history and drop loaded one after the
    other; made once (the session's database is emptied before each load, and by each test). Session-scoped:
    the then= test makes it in its place in the module, and the restart test, which runs last (conftest), reads
    it there."""
    runs = tmp_path_factory.mktemp("transactional")
    connection.configure(neo4j_settings)
    clear_graph()
    load_online_retail(limit_days=12, options=LoadOptions(report_dir=runs / "one", progress=False))
    load_drop(DROP, LoadOptions(report_dir=runs / "two", progress=False))
    one_after_the_other = graph_lines()
    clear_graph()
    report = _retail_slice_then_drop(LoadOptions(report_dir=runs / "tx", progress=False))
    return Transactional(Loaded(graph_lines(), report, runs / "tx"), one_after_the_other)


def test_example_drop_same_graph_both_ways_into_a_database_not_created_yet(graph: Settings, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if not graph.uses_local_server:
        pytest.skip("needs the project's local server (the import writes its files)")
    classpaths = []
    import_command = bulk_module.import_command

    def recorded(*args: Any, classpath: str, **kwargs: Any) -> list[str]:
        classpaths.append(classpath)
        return import_command(*args, classpath=classpath, **kwargs)

    monkeypatch.setattr(bulk_module, "import_command", recorded)

    drop = _example_and_generated_drop(tmp_path / "drop")

    def load(options: LoadOptions) -> dict[str, Any]:
        return load_drop(drop, options)

    report = load(LoadOptions(report_dir=tmp_path / "tx", progress=False))
    transactional = Loaded(graph_lines(), report, tmp_path / "tx")
    entities = report["entities"]  # what the in-memory consent, response and ping rules must meet
    assert entities["responses"]["loaded"] > 0 and entities["pings"]["rejectReasons"].get("no_consent", 0) > 0
    assert run_query("MATCH (:Customer)-[r:RESPONDED {type: 'unsubscribed'}]->() RETURN count(r) AS n")[0]["n"] > 0
    assert run_query("MATCH (k:Consent) WHERE k.purpose = 'marketing' AND NOT k.granted "
                     "RETURN count(k) AS n")[0]["n"] > 0
    _assert_same(_bulk_into_a_new_database(graph, tmp_path, load), transactional)
    # neo4j-admin runs on the server's jars alone: the plugins' ~150 jars made the import 3.5 s slower
    assert classpaths == [Distribution(graph.dist_dir).admin_classpath]
    assert "plugins" not in classpaths[0]


@pytest.mark.restarts_server
def test_online_retail_slice_and_drop_same_graph_both_ways_with_a_restart(graph: Settings, transactional: Transactional,
                                                                          tmp_path: Path) -> None:
    """Into the session's server, emptied after the transactional load: stopped, imported into, started again."""
    bulk = _retail_slice_then_drop(LoadOptions(report_dir=tmp_path / "bulk", progress=False, bulk=True))
    assert "stop" in json.loads((tmp_path / "bulk" / "bulk.json").read_text())["seconds"]
    _assert_same(Loaded(graph_lines(), bulk, tmp_path / "bulk"), transactional.one_run)


def test_online_retail_and_drop_folders_load_in_one_run(transactional: Transactional) -> None:
    """``then``: drop folders loaded by the same loader after the history (how ``up`` bulk-loads the demo's
    layer with it); the same graph as the history and the drop loaded one after the other."""
    assert transactional.one_run.lines == transactional.one_after_the_other
    report = transactional.one_run.report
    assert report["entities"]["sessions"]["loaded"] > 0 and report["entities"]["orders"]["loaded"] > 0


def test_bulk_refuses_a_database_that_is_not_empty(graph: Settings, tmp_path: Path) -> None:
    run_query("CREATE (:Brand {brandId: 'B1', name: 'x'})")
    with pytest.raises(LoadError, match="empty database"):
        load_drop(DROP, LoadOptions(report_dir=tmp_path, progress=False, bulk=True))
    assert run_query("MATCH (b:Brand) RETURN count(b) AS n")[0]["n"] == 1


def test_a_taken_port_stops_a_first_bulk_load_before_any_work(graph: Settings, tmp_path: Path) -> None:
    """The server's first start follows the import: a taken port is said at once, not after reading and importing
    every row (``make demo`` beside another Neo4j spent a minute on the import first)."""
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        new = replace(graph, home=tmp_path / "home", bolt_port=squatter.getsockname()[1], http_port=free_port())
        connection.configure(new)
        try:
            with pytest.raises(LocalServerError, match="is taken by another process.*NEO4J_BOLT_PORT"):
                load_drop(DROP, LoadOptions(report_dir=tmp_path / "run", progress=False, bulk=True))
            assert database_not_created(new)  # nothing imported
        finally:
            connection.configure(graph)


def test_csv_only_writes_the_files_and_the_command(graph: Settings, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    load_drop(DROP, LoadOptions(report_dir=tmp_path / "run", progress=False, bulk_csv_only=out, bulk=True))
    events = (out / "nodes" / "Event.csv").read_text().splitlines()
    assert events[0].startswith(":ID,eventId:string,")
    (contains,) = [path for path in (out / "relationships").iterdir() if path.name.startswith("CONTAINS__Session__")]
    header, rel = contains.read_text().splitlines()[:2]
    assert header.startswith(":START_ID,:END_ID,")
    assert all(cell.isdigit() for cell in rel.split(",")[:2])  # store ids, not keys: the import maps nothing
    assert "--id-type=actual" in (out / "import.sh").read_text()
    assert "neo4j-admin database import full neo4j" in (out / "import.sh").read_text()
    assert {p.name for p in (out / "after").iterdir()} == {"loyalty_scans.jsonl"}
    assert (out / "nodes" / "Consent.csv").exists() and (out / "relationships" / "RESPONDED__Customer__Message.csv").exists()
    # the stitching is in the CSVs (an import elsewhere runs none after it)
    assert {"LINKED_TO__Identity__Identity.csv", "IDENTIFIES__Identity__Customer.csv"} <= {
        p.name for p in (out / "relationships").iterdir()}
    assert run_query("MATCH (n) WHERE NOT n:PrivacyKey RETURN count(n) AS n")[0]["n"] == 0


def _small_graph() -> bulk_module.BulkGraph:
    """Two sessions' events with shared times (an event's time is also on its CONTAINS), a product, a gap."""
    g = bulk_module.BulkGraph()
    at = datetime.fromisoformat("2026-12-01T09:00:00+00:00")
    for n in range(6):
        session, event, when = f"S{n % 2}", f"E{n}", at + timedelta(minutes=n, microseconds=n)
        g.node("Session", session)["channel"] = "web"
        g.node("Event", event).update({"type": "page_view", "at": when})
        g.rel("CONTAINS", ("Session", session), ("Event", event))["at"] = when
        if n % 3 == 0:
            g.node("Product", "P1")["name"] = 'Mug "big", blue'
            g.rel("ABOUT_PRODUCT", ("Event", event), ("Product", "P1"))
    g.rel("NEXT", ("Event", "E0"), ("Event", "E2"))["gapSeconds"] = 120.000002
    return g


def _files(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): path.read_text() for path in sorted(folder.rglob("*.csv"))}


def test_csv_files_are_the_same_written_by_one_process_or_two(tmp_path: Path) -> None:
    assert bulk_module._fork_available()  # Linux: the two-process path is the one taken on large graphs
    one = bulk_module.write_csv(_small_graph(), tmp_path / "one", fork_from_rows=10**9)
    two = bulk_module.write_csv(_small_graph(), tmp_path / "two", fork_from_rows=0)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert one.arguments(tmp_path) == two.arguments(tmp_path)
    assert (one.node_count, one.relationship_count, one.multiline) == (two.node_count, two.relationship_count,
                                                                       two.multiline) == (9, 9, False)
    files = _files(tmp_path / "two")
    assert files["nodes/Event.csv"].splitlines()[:3] == [
        ":ID,eventId:string,at:datetime,type:string",
        '0,"E0",2026-12-01T09:00:00Z,"page_view"',
        '1,"E1",2026-12-01T09:01:00.000001Z,"page_view"']
    assert files["nodes/Product.csv"] == ':ID,sku:string,name:string\n6,"P1","Mug ""big"", blue"\n'
    assert files["relationships/ABOUT_PRODUCT__Event__Product.csv"] == ":START_ID,:END_ID\n0,6\n3,6\n"
    assert files["relationships/CONTAINS__Session__Event.csv"].splitlines()[1] == "7,0,2026-12-01T09:00:00Z"
    assert files["relationships/NEXT__Event__Event.csv"] == ":START_ID,:END_ID,gapSeconds:double\n0,2,120.000002\n"


def test_a_small_import_compiles_with_c1_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = bulk_module.write_csv(_small_graph(), tmp_path / "csv")
    assert "-XX:TieredStopAtLevel=1" in bulk_module.import_command(files, "neo4j")
    monkeypatch.setattr(bulk_module, "QUICK_JIT_BYTES", files.size_bytes())  # as large as the threshold
    command = bulk_module.import_command(files, "neo4j")
    assert not any(option.startswith("-XX:TieredStopAtLevel") for option in command)
    assert command[command.index("org.neo4j.cli.AdminTool"):][:5] == [
        "org.neo4j.cli.AdminTool", "database", "import", "full", "neo4j"]


def test_a_csv_writer_that_dies_is_a_clear_load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parent, write_files = os.getpid(), bulk_module._write_files

    def dies_in_the_child(*args: Any) -> bool:
        if os.getpid() != parent:
            os._exit(9)  # as the kernel's out-of-memory killer would end it
        return write_files(*args)

    monkeypatch.setattr(bulk_module, "_write_files", dies_in_the_child)
    with pytest.raises(LoadError, match="ended before it was done"):
        bulk_module.write_csv(_small_graph(), tmp_path / "csv", fork_from_rows=0)


def test_only_indexed_types_answer_a_nodes_targets() -> None:
    g = _small_graph()
    g.rel("HAS_CONSENT", ("Customer", "C1"), ("Consent", "K1"))
    assert g.targets("HAS_CONSENT", ("Customer", "C1"), "Consent") == {("K1", None)}
    assert g.out.keys() == {("HAS_CONSENT", "Customer", "Consent")}  # events' relationships are not indexed
    with pytest.raises(ValueError, match="CONTAINS relationships are not indexed"):
        g.targets("CONTAINS", ("Session", "S0"), "Event")


def test_cypher_round_is_half_up_on_the_decimal_form() -> None:
    assert [cypher_round(2.675), cypher_round(1.005), cypher_round(0.125)] == [2.68, 1.01, 0.13]


def test_stitching_in_memory_links_claims_first_customer_and_backfills() -> None:
    """Exact results of the in-memory stitching on three sessions: C1 logs in on cookie K at 10:00, an
    anonymous session shows K at 09:00, C2 logs in on K at 11:00: K stays C1's (first customer wins), the
    anonymous session joins C1, then K's IDENTIFIES.at is that session's 09:00 (the earliest of C1's)."""
    from loaders.bulk import BulkWriters
    from loaders.entities import SPECS

    def at(hour: int) -> datetime:
        return datetime.fromisoformat(f"2026-12-01T{hour:02d}:00:00+00:00")

    writers = BulkWriters()
    spec = SPECS["sessions"]
    rows = [("S2", 10, "C1"), ("S1", 9, None), ("S3", 11, "C2")]
    for session_id, hour, customer in rows:
        row = spec.schema.model_validate({"sessionId": session_id, "channel": "web", "startedAt": at(hour).isoformat(),
                                          "customerId": customer, "cookie": "K"})
        writers.sessions(spec.params(row))
    keys = ["cookie:K", "customer_ref:C1", "customer_ref:C2"]
    assert writers.stitch(["S2", "S1", "S3"], keys, batch_size=2) == 1
    g = writers.g
    assert {(a, b): (p["at"], p["origin"]) for (a, b, _), p in g.rels[("LINKED_TO", "Identity", "Identity")].items()} \
        == {("cookie:K", "customer_ref:C1"): (at(10), "login"), ("cookie:K", "customer_ref:C2"): (at(11), "login")}
    assert {(i, c): p["at"] for (i, c, _), p in g.rels[("IDENTIFIES", "Identity", "Customer")].items()} \
        == {("cookie:K", "C1"): at(9), ("customer_ref:C1", "C1"): at(10), ("customer_ref:C2", "C2"): at(11)}
    assert {(c, s): p["at"] for (c, s, _), p in g.rels[("HAD_SESSION", "Customer", "Session")].items()} \
        == {("C1", "S2"): at(10), ("C1", "S1"): at(9), ("C2", "S3"): at(11)}


@pytest.mark.parametrize(("new_database", "bulk_fails", "expected"), [
    (True, False, [["load-online-retail", "--bulk", "--with-demo-channels"]]),
    (True, True, [["load-online-retail", "--bulk", "--with-demo-channels"], ["load-online-retail"]]),
    (False, False, [["load-online-retail"]]),
])
def test_up_bulk_imports_the_history_into_a_new_local_database_first(monkeypatch: pytest.MonkeyPatch,
                                                                      new_database: bool, bulk_fails: bool,
                                                                      expected: list[list[str]]) -> None:
    """``customer-graph up`` on a new home imports before the first start; a failed import falls back."""
    from click.testing import CliRunner

    import customer_graph.up as up_module
    from customer_graph.cli import cli

    events: list[object] = []
    orders = {"n": 0}

    def run_step(ctx: object, title: str, args: list[str]) -> None:
        events.append(args)
        if args[0] == "load-online-retail":
            if "--bulk" in args and bulk_fails:
                raise LocalServerError("neo4j-admin database import failed (exit 1)")
            orders["n"] = 10

    monkeypatch.setattr(up_module, "database_not_created", lambda settings: new_database)
    monkeypatch.setattr(up_module, "ensure_running", lambda settings: events.append("start"))
    monkeypatch.setattr(up_module, "apply_schema", lambda: [])
    monkeypatch.setattr(up_module, "_orders_loaded", lambda: orders["n"])
    monkeypatch.setattr(up_module, "_sessions_loaded", lambda: 1)
    monkeypatch.setattr(up_module, "_run_step", run_step)
    result = CliRunner().invoke(cli, ["up", "--no-serve", "--skip-algorithms"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    loads = [e for e in events if isinstance(e, list) and e[0] == "load-online-retail"]
    assert loads == expected
    if new_database:  # the import comes before the server's first start
        assert events.index(["load-online-retail", "--bulk", "--with-demo-channels"]) < events.index("start")
    assert ("bulk first load not done" in result.output) is bulk_fails
