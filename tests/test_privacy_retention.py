"""Storage limitation: past its period, browsing, location visits and free text lose what identifies a person.

A small drop is loaded through the loaders, with sessions and visits dated relative to now on both sides
of each period; the retention run must de-identify exactly those past it, keep the anonymous facts, be
counted the same by a dry run, record one audit entry, and find nothing the second time.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph_model.connection import run_query
from graph_model.errors import ConfigurationError
from graph_model.privacy.retention import COUNTED, RetentionPolicy, apply_retention, retention_policy
from loaders.pipeline import LoadOptions, load_drop

NOW = datetime.now(UTC).replace(microsecond=0)


def _ago(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat().replace("+00:00", "Z")


def _write(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)


def _session(session_id: str, days: int, *, customer: str = "", cookie: str = "") -> dict[str, Any]:
    return {"sessionId": session_id, "channel": "web", "startedAt": _ago(days), "device": "mobile",
            "customerId": customer, "cookie": cookie}


def _events(session_id: str, days: int) -> list[dict[str, Any]]:
    return [{"eventId": f"{session_id}-1", "sessionId": session_id, "type": "search", "at": _ago(days),
             "page": "/search?q=red+shoes", "query": f"red shoes {session_id}", "sku": ""},
            {"eventId": f"{session_id}-2", "sessionId": session_id, "type": "product_view", "at": _ago(days),
             "page": "/p/P1#reviews", "query": "", "sku": "P1"},
            {"eventId": f"{session_id}-3", "sessionId": session_id, "type": "custom", "at": _ago(days),
             "name": "Newsletter Signup", "properties": '{"email": "ada@example.com"}'}]


@pytest.fixture
def drop(graph, tmp_path: Path) -> Path:
    """Anonymous sessions 400 and 10 days old, a customer's sessions 1,200 and 500 days old, location visits
    400 and 10 days old and a loyalty-scan visit 400 days old, replies 1,200 and 10 days old (loaded through
    the loaders); notes 1,200 and 10 days old (written as the API writes them, backdated)."""
    folder = tmp_path / "drop"
    folder.mkdir()
    _write(folder, "stores", [{"storeId": "S1", "name": "High Street", "latitude": 51.5, "longitude": -0.1}])
    _write(folder, "products", [{"sku": "P1", "name": "Red shoes"}])
    _write(folder, "customers", [{"customerId": "C1", "name": "Ada"}])
    _write(folder, "consents", [{"customerId": "C1", "channel": "app", "purpose": "location", "granted": "true",
                                 "updatedAt": _ago(2000)}])
    sessions = [("A-OLD", 400, "", "CK-OLD"), ("A-NEW", 10, "", "CK-NEW"),  # id, days old, customer, cookie
                ("K-OLD", 1200, "C1", "CK-K-OLD"), ("K-MID", 500, "C1", "CK-K-MID")]
    _write(folder, "sessions", [_session(sid, days, customer=c, cookie=k) for sid, days, c, k in sessions])
    _write(folder, "events", [e for sid, days, _, _ in sessions for e in _events(sid, days)])
    _write(folder, "visits", [
        {"visitId": "V-OLD", "customerId": "C1", "storeId": "S1", "arrivedAt": _ago(400), "source": "location_ping"},
        {"visitId": "V-NEW", "customerId": "C1", "storeId": "S1", "arrivedAt": _ago(10), "source": "location_ping"},
        {"visitId": "V-SCAN", "customerId": "C1", "storeId": "S1", "arrivedAt": _ago(400), "source": "loyalty_scan"}])
    _write(folder, "messages", [{"messageId": m, "customerId": "C1", "channel": "email", "sentAt": _ago(days)}
                                for m, days in (("M-OLD", 1200), ("M-NEW", 10))])
    _write(folder, "responses", [{"messageId": m, "customerId": "C1", "type": "replied", "at": _ago(days),
                                  "text": f"reply {m}"} for m, days in (("M-OLD", 1200), ("M-NEW", 10))])
    report = load_drop(folder, LoadOptions(report_dir=tmp_path / "run", progress=False))
    assert report["totals"]["rejected"] == 0, report
    run_query("""UNWIND $notes AS note MATCH (c:Customer {customerId: 'C1'})
                 CREATE (c)-[:HAS_NOTE]->(:Note {noteId: note.id, text: 'prefers size 38', author: 'test',
                                                createdAt: datetime(note.at)})""",
              {"notes": [{"id": "N-OLD", "at": _ago(1200)}, {"id": "N-NEW", "at": _ago(10)}]})
    return folder


def _session_state() -> dict[str, dict[str, Any]]:
    rows = run_query("""
        MATCH (s:Session)
        RETURN s.sessionId AS id, s.device AS device, EXISTS { (:Customer)-[:HAD_SESSION]->(s) } AS owned,
               [(s)-[:IDENTIFIED_BY]->(i) | i.identityKey] AS identities,
               [(s)-[:CONTAINS]->(e) | [e.query, e.page, e.properties]] AS events,
               COUNT { (s)-[:CONTAINS]->(:Event)-[:ABOUT_PRODUCT]->(:Product) } AS productEvents""", write=False)
    return {r.pop("id"): r for r in rows}


def _identity_keys() -> set[str]:
    return {r["k"] for r in run_query("MATCH (i:Identity) RETURN i.identityKey AS k", write=False)}


def _visits() -> dict[str, str | None]:
    rows = run_query("""MATCH (v:Visit) OPTIONAL MATCH (c:Customer)-[:MADE_VISIT]->(v)
                        RETURN v.visitId AS id, v.source AS source, v.arrivedAt AS at, c.customerId AS customer""",
                     write=False)
    return {f"{r['source']}@{(NOW - r['at'].to_native()).days}": r["customer"] for r in rows}


def test_past_their_period_sessions_and_location_visits_are_de_identified(drop: Path) -> None:
    before_identities = _identity_keys()
    assert {"cookie:CK-OLD", "cookie:CK-K-OLD", "cookie:CK-NEW"} <= before_identities

    counted = apply_retention(RetentionPolicy(), now=NOW, dry_run=True)
    assert [counted[k] for k in ("anonymousSessions", "customerSessions", "visits", "replies", "notes")] == [1] * 5
    assert _session_state()["A-OLD"]["device"] == "mobile"  # a dry run changes nothing

    done = apply_retention(RetentionPolicy(), now=NOW, actor="test")
    assert [done[k] for k in ("anonymousSessions", "customerSessions", "visits", "replies", "notes")] == [1] * 5
    state = _session_state()
    for gone in ("A-OLD", "K-OLD"):  # past the period: nothing identifies anyone, the product facts stay
        assert state[gone]["device"] is None and state[gone]["identities"] == [] and not state[gone]["owned"]
        assert sorted(state[gone]["events"], key=str) == [[None, "/p/P1", None], [None, "/search", None],
                                                          [None, None, None]]
        assert state[gone]["productEvents"] == 1
    for kept, owned in (("A-NEW", False), ("K-MID", True)):  # within it: untouched
        assert state[kept]["device"] == "mobile" and state[kept]["identities"] and state[kept]["owned"] is owned
        assert [f"red shoes {kept}", "/search?q=red+shoes", None] in state[kept]["events"]
        assert [None, None, '{"email": "ada@example.com"}'] in state[kept]["events"]
    # the anonymous cookie seen only on a de-identified session is gone; identifiers of the customer (their
    # customer_ref, and the cookie their logged-in session taught the graph) are part of the customer record
    assert before_identities - _identity_keys() == {"cookie:CK-OLD"}
    assert {"customer_ref:C1", "cookie:CK-K-OLD"} <= _identity_keys()
    assert done["identities"] == 1
    searches = {r["t"] for r in run_query("MATCH (q:SearchQuery) RETURN q.text AS t", write=False)}
    assert not any("A-OLD" in t or "K-OLD" in t for t in searches)
    # the old location visit stays as an anonymous visit of the store; the scan and the recent one are the customer's
    assert _visits() == {"location_ping@400": None, "location_ping@10": "C1", "loyalty_scan@400": "C1"}
    assert run_query("MATCH (v:Visit) WHERE v.visitId IN ['V-OLD'] RETURN count(v) AS n", write=False)[0]["n"] == 0

    # what people wrote: the old reply keeps its type and time without its text, the old note is gone
    replies = run_query("MATCH (:Customer)-[r:RESPONDED]->(m:Message) RETURN m.messageId AS m, r.type AS type, "
                        "r.text AS text ORDER BY m", write=False)
    assert [tuple(r.values()) for r in replies] == [("M-NEW", "replied", "reply M-NEW"), ("M-OLD", "replied", None)]
    assert [r["id"] for r in run_query("MATCH (n:Note) RETURN n.noteId AS id", write=False)] == ["N-NEW"]

    entries = run_query("MATCH (a:AuditEntry {action: 'retention'}) RETURN a.actor AS actor, a.subject AS subject, "
                        "a.detail AS detail", write=False)
    assert [(e["actor"], e["subject"]) for e in entries] == [("test", None)]
    assert "anonymousSessions=1 customerSessions=1 identities=1 visits=1 replies=1 notes=1" in entries[0]["detail"]

    again = apply_retention(RetentionPolicy(), now=NOW, actor="test")
    assert not any(again[k] for k in COUNTED)
    assert len(run_query("MATCH (a:AuditEntry {action: 'retention'}) RETURN a", write=False)) == 1


def test_a_reload_brings_identifiers_back_until_the_next_run(drop: Path, tmp_path: Path) -> None:
    apply_retention(RetentionPolicy(), now=NOW)
    load_drop(drop, LoadOptions(report_dir=tmp_path / "reload", progress=False))
    assert _session_state()["A-OLD"]["identities"] == ["cookie:CK-OLD"]
    assert apply_retention(RetentionPolicy(), now=NOW)["anonymousSessions"] == 1
    assert _session_state()["A-OLD"]["identities"] == []


def test_keep_leaves_a_kind_alone(drop: Path) -> None:
    done = apply_retention(RetentionPolicy(anonymous_browsing=None, customer_browsing=None, location_visits=None,
                                           free_text=None), now=NOW)
    assert not any(done[k] for k in COUNTED)
    assert _session_state()["A-OLD"]["device"] == "mobile"
    # a shorter period reaches the customer's session of 500 days too
    assert apply_retention(RetentionPolicy(customer_browsing=365), now=NOW)["customerSessions"] == 2


@pytest.mark.parametrize(("setting", "says"), [
    ("anonymous_browsing=13m", "anonymous_browsing must be a number of days"),
    ("browsing=30", "unknown kind 'browsing'"),
    ("location_visits=0", "location_visits must be a number of days"),
])
def test_a_bad_setting_is_refused_with_its_name(setting: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        retention_policy({"CUSTOMER_GRAPH_RETENTION": setting})


def test_the_command_reads_the_setting_and_counts_from_another_day(drop: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from customer_graph.cli import cli

    monkeypatch.setenv("CUSTOMER_GRAPH_RETENTION", "customer_browsing=keep,free_text=keep")
    day = (NOW + timedelta(days=30)).strftime("%Y-%m-%d")  # a month on, the 10-day-old visit is still within 395
    result = CliRunner().invoke(cli, ["privacy", "retention", "--dry-run", "--as-of", day])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["policy"] == "anonymous_browsing=395,customer_browsing=keep,location_visits=395,free_text=keep"
    assert printed["now"].startswith(day) and printed["cutoffs"]["customer_browsing"] is None
    assert [printed[k] for k in COUNTED] == [1, 0, None, 1, 0, 0]
    assert _session_state()["A-OLD"]["device"] == "mobile"


def test_with_the_setting_a_load_ends_with_a_retention_run(graph, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A load of old rows does not leave their identifiers in the graph until the next scheduled run."""
    from click.testing import CliRunner

    from customer_graph.cli import cli

    folder = tmp_path / "drop"
    folder.mkdir()
    _write(folder, "sessions", [_session("A-OLD", 400, cookie="CK-OLD"), _session("A-NEW", 10, cookie="CK-NEW")])
    monkeypatch.setenv("CUSTOMER_GRAPH_RETENTION", "anonymous_browsing=395")
    result = CliRunner().invoke(cli, ["load", str(folder), "--report-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "retention (anonymous_browsing=395,customer_browsing=1095,location_visits=395,free_text=1095): " \
           "anonymousSessions 1, customerSessions 0, identities 1," in result.output
    assert _identity_keys() == {"cookie:CK-NEW"}
    assert run_query("MATCH (a:AuditEntry {action: 'retention'}) RETURN a.actor AS actor", write=False) == [
        {"actor": "loader"}]


def test_a_run_that_fails_part_way_records_what_its_finished_steps_changed(drop: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions de-identified before a later step failed are in the audit trail, marked interrupted."""
    from graph_model.errors import QueryError
    from graph_model.privacy import retention

    monkeypatch.setattr(retention, "DETACH_VISITS", "RETURN 1 / 0 AS visits")  # the visits step fails
    with pytest.raises(QueryError):
        apply_retention(RetentionPolicy(), now=NOW, actor="test")
    assert _session_state()["A-OLD"]["identities"] == []  # the sessions step had finished and committed
    [entry] = run_query("MATCH (a:AuditEntry {action: 'retention'}) RETURN a.detail AS detail", write=False)
    assert entry["detail"].startswith("anonymousSessions=1 customerSessions=1 identities=1 visits=0 replies=0 ")
    assert entry["detail"].endswith(" interrupted")


def test_every_keeps_running_until_sigterm(drop: Path, graph, tmp_path: Path) -> None:
    """``--every``: a run at start, another each interval (it finds what a later load wrote), a clean stop."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from graph_model.privacy.keys import load_key

    env = {**os.environ, "NEO4J_URI": graph.bolt_uri, "NEO4J_USER": graph.user, "NEO4J_PASSWORD": graph.password,
           "CUSTOMER_GRAPH_PRIVACY_KEY": load_key().decode(), "CUSTOMER_GRAPH_RETENTION": ""}

    def de_identified(session_id: str, seconds: float = 90) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = _session_state().get(session_id)
            if state is not None and state["identities"] == []:
                return True
            time.sleep(0.5)
        return False

    process = subprocess.Popen([sys.executable, "-m", "customer_graph", "privacy", "retention", "--every", "2s"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert de_identified("A-OLD")
        later = tmp_path / "later"
        later.mkdir()
        _write(later, "sessions", [_session("A-LATER", 500, cookie="CK-LATER")])
        load_drop(later, LoadOptions(report_dir=tmp_path / "later-run", progress=False))
        assert _session_state()["A-LATER"]["identities"] == ["cookie:CK-LATER"]
        assert de_identified("A-LATER")  # a later run of the same process
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    runs = [json.loads(line) for line in out.splitlines()]
    assert len(runs) >= 2 and sum(run["anonymousSessions"] for run in runs) == 2
    assert "retention every 2s" in err and f"retention stopped after {len(runs)} run" in err
    assert len(run_query("MATCH (a:AuditEntry {action: 'retention'}) RETURN a", write=False)) == 2


def test_every_refuses_a_dry_run_and_a_zero_interval() -> None:
    from click.testing import CliRunner

    from customer_graph.cli import cli

    for args, says in ((["--every", "1d", "--dry-run"], "not with --dry-run"), (["--every", "0s"], "longer than 0"),
                       (["--rejects-older-than", "a month"], "an age such as 30d")):
        result = CliRunner().invoke(cli, ["privacy", "retention", *args])
        assert result.exit_code == 2 and says in result.output, result.output


def test_each_run_also_deletes_old_reject_files(graph, tmp_path: Path) -> None:
    """Rejected rows are personal data too: a run deletes the reject files older than --rejects-older-than."""
    import os
    import time

    from click.testing import CliRunner

    from customer_graph.cli import cli

    old, new = tmp_path / "runs" / "old-run" / "rejects.jsonl", tmp_path / "runs" / "new-run" / "rejects.jsonl"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text('{"reason": "unknown_reference"}\n')
    forty_days_ago = time.time() - 40 * 86400
    os.utime(old, (forty_days_ago, forty_days_ago))
    args = ["privacy", "retention", "--runs-dir", str(tmp_path / "runs")]
    counted = CliRunner().invoke(cli, [*args, "--dry-run"])
    assert counted.exit_code == 0 and json.loads(counted.output)["rejectFiles"] == 1 and old.exists()
    done = CliRunner().invoke(cli, args)  # the default: 30 days
    assert done.exit_code == 0 and json.loads(done.output)["rejectFiles"] == 1
    assert not old.exists() and new.exists()
    an_hour_ago = time.time() - 3600
    os.utime(new, (an_hour_ago, an_hour_ago))
    shorter = CliRunner().invoke(cli, [*args, "--rejects-older-than", "30m"])
    assert shorter.exit_code == 0 and json.loads(shorter.output)["rejectFiles"] == 1 and not new.exists()
