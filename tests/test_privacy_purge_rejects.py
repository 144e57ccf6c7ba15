"""``customer-graph privacy purge-rejects``: reject files older than the retention go; ``up`` runs it first."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from customer_graph import up as up_module
from customer_graph.cli import cli


def _runs(root: Path) -> tuple[Path, Path]:
    old, new = root / "20260101T000000Z-old" / "rejects.jsonl", root / "20261201T000000Z-new" / "rejects.jsonl"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text('{"reason": "invalid_value"}\n', encoding="utf-8")
        (path.parent / "report.json").write_text("{}", encoding="utf-8")
    forty_days_ago = time.time() - 40 * 86_400
    os.utime(old, (forty_days_ago, forty_days_ago))
    return old, new


def test_purge_rejects_deletes_reject_files_older_than_the_age(tmp_path: Path) -> None:
    old, new = _runs(tmp_path / "runs")
    result = CliRunner().invoke(cli, ["privacy", "purge-rejects", "--older-than", "30d",
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert not old.exists() and new.exists()
    assert (old.parent / "report.json").exists()  # the counts stay; only the rejected rows go
    assert f"removed {old}" in result.output and "1 reject file older than 30d" in result.output

    ten_seconds_ago = time.time() - 10
    os.utime(new, (ten_seconds_ago, ten_seconds_ago))
    again = CliRunner().invoke(cli, ["privacy", "purge-rejects", "--older-than", "5s",
                                     "--runs-dir", str(tmp_path / "runs")], catch_exceptions=False)
    assert again.exit_code == 0 and not new.exists()


def test_purge_rejects_uses_the_runs_dir_and_refuses_a_bad_age(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _runs(tmp_path / "elsewhere")
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path / "elsewhere"))
    result = CliRunner().invoke(cli, ["privacy", "purge-rejects"])  # default: 30d under the runs dir
    assert result.exit_code == 0, result.output
    assert not old.exists() and new.exists()
    bad = CliRunner().invoke(cli, ["privacy", "purge-rejects", "--older-than", "a month"])
    assert bad.exit_code == 2 and "30d, 12h" in bad.output


def test_up_purges_old_rejects_before_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _runs(tmp_path / "runs")
    monkeypatch.setenv("CUSTOMER_GRAPH_RUNS_DIR", str(tmp_path / "runs"))
    steps: list[str] = []
    monkeypatch.setattr(up_module, "database_not_created", lambda settings: False)  # whatever this machine holds
    monkeypatch.setattr(up_module, "ensure_running", lambda settings: None)
    monkeypatch.setattr(up_module, "apply_schema", lambda: [])
    monkeypatch.setattr(up_module, "_orders_loaded", lambda: steps.append("orders checked") or 1)
    monkeypatch.setattr(up_module, "_sessions_loaded", lambda: 1)
    result = CliRunner().invoke(cli, ["up", "--no-serve", "--skip-algorithms"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not old.exists() and new.exists()
    assert "[up] reject retention: customer-graph privacy purge-rejects --older-than 30d" in result.output
    assert result.output.index("reject retention") < result.output.index("sample data")
    assert steps == ["orders checked"]


def test_a_reject_file_another_process_deletes_meanwhile_is_skipped(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``up`` and the retention service may purge the same runs folder at once: a file listed by one and
    deleted by the other before its ``stat`` or ``unlink`` must not end the run (``--every`` would stop)."""
    from graph_model.privacy import redaction

    old, new = _runs(tmp_path / "runs")
    vanished = tmp_path / "runs" / "20260102T000000Z-gone" / "rejects.jsonl"
    listed = redaction.reject_files([tmp_path / "runs"])
    assert listed == [old, new]
    monkeypatch.setattr(redaction, "reject_files", lambda roots: [vanished, *listed])
    assert redaction.reject_files_older_than(30 * 86_400, [tmp_path / "runs"]) == [old]
    real_unlink = Path.unlink

    def deleted_by_another_process_first(path: Path, missing_ok: bool = False) -> None:
        real_unlink(path)
        real_unlink(path, missing_ok=missing_ok)  # raises FileNotFoundError, as a concurrent delete would

    monkeypatch.setattr(Path, "unlink", deleted_by_another_process_first)
    assert redaction.purge_older_than(30 * 86_400, [tmp_path / "runs"]) == []
    assert not old.exists() and new.exists()


def test_a_purge_while_a_run_writes_loses_none_of_its_lines_and_misses_none(tmp_path: Path) -> None:
    """Found by an audit (stop 40): a run's reject lines waited in a buffer (an erasure from another process missed
    them, a crash lost them), and after an erasure replaced the file the run went on writing into the old one."""
    from graph_model.privacy.redaction import purge_person
    from loaders.report import Reject, RejectReason, RunReport

    report = RunReport(tmp_path / "run", "test", 1.0)
    row = {"orderId": "O1", "sku": "NOPE", "customerId": "ANN-1"}
    report.reject(Reject("orders.csv", 2, "orders", RejectReason.UNKNOWN_REFERENCE, "sku: no Product 'NOPE'", row))
    assert purge_person(["ANN-1"], [tmp_path]) == 1  # on disk already: the erasure finds it
    report.reject(Reject("orders.csv", 3, "orders", RejectReason.UNKNOWN_REFERENCE, "sku: no Product 'NOPE'",
                         {**row, "customerId": "BOB-2"}))
    report.finish()
    lines = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    assert [line["line"] for line in lines] == [3]  # the later line is in the file the purge left
