"""``customer-graph privacy ...``: the privacy rules' operator commands.

Each sub-command is one ``@privacy_group.command(...)`` function here: ``erase``, ``sweep``, ``export``,
``audit``, ``purge-rejects``, ``retention``. They are thin: the rules live in :mod:`graph_model.privacy`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from graph_model.privacy import redaction
from graph_model.privacy.audit import ACTIONS


@click.group("privacy")
def privacy_group() -> None:
    """Privacy: erasure, subject-access export, the audit trail and the retention of reject files (docs/privacy.md)."""


@privacy_group.command("purge-rejects")
@click.option("--older-than", "older_than", default=redaction.REJECTS_KEPT, show_default=True,
              help="delete rejects.jsonl files last written longer ago than this (30d, 12h, 90m, 45s)")
@click.option("--runs-dir", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the load runs are (default: CUSTOMER_GRAPH_RUNS_DIR, else <project>/runs)")
def purge_rejects(older_than: str, runs_dir: Path | None) -> None:
    """Delete the reject files of load runs older than --older-than (the retention of rejected rows)."""
    seconds = _age(older_than, "--older-than")
    root = runs_dir if runs_dir is not None else redaction.runs_dir()
    deleted = redaction.purge_older_than(seconds, [root])
    for path in deleted:
        click.echo(f"removed {path}")
    click.echo(f"{len(deleted)} reject file{'' if len(deleted) == 1 else 's'} older than {older_than} "
               f"removed under {root}")


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@privacy_group.command("erase")
@click.argument("customer_id")
@click.option("--runs-dir", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the load runs' reject files are (default: CUSTOMER_GRAPH_RUNS_DIR, else <project>/runs)")
def erase(customer_id: str, runs_dir: Path | None) -> None:
    """Erase one customer (GDPR Art. 17); prints what was removed as JSON. Exit 1 if there is no such customer."""
    from graph_model.privacy.erasure import erase_customer, result_row

    result = erase_customer(customer_id, actor=_actor(), reject_roots=[runs_dir] if runs_dir else None)
    click.echo(json.dumps(result_row(result), indent=2))
    if not result.erased:
        raise SystemExit(1)


@privacy_group.command("sweep")
@click.option("--dry-run", is_flag=True, help="only count what is found of erased people; change nothing")
@click.option("--runs-dir", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the load runs' reject files are (default: CUSTOMER_GRAPH_RUNS_DIR, else <project>/runs)")
def sweep_command(dry_run: bool, runs_dir: Path | None) -> None:
    """Check that erased people stay erased: every customer id, identifier and session in the graph against the
    tombstones; what is found is erased again (audited). Prints the counts as JSON; exit 1 if anything was found."""
    from graph_model.privacy.sweep import sweep

    result = sweep(actor=_actor(), dry_run=dry_run, reject_roots=[runs_dir] if runs_dir else None)
    click.echo(json.dumps(result.as_dict(), indent=2))
    if any(result.found.values()):
        raise SystemExit(1)


@privacy_group.command("export")
@click.argument("customer_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the document to this file (mode 0600) instead of standard output")
def export(customer_id: str, output: Path | None) -> None:
    """Everything held about one customer (GDPR Art. 15) as one JSON document; the export is audited."""
    from graph_model.connection import run_query
    from graph_model.privacy import audit
    from graph_model.privacy.access import subject_access

    document = subject_access(customer_id)
    if document is None:
        raise click.ClickException(f"no customer {customer_id!r}")
    run_query(audit.RECORD_ENTRIES, {"entries": [audit.audit_entry(_actor(), "export", customer_id, "cli")]})
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        click.echo(text)
        return
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    click.echo(f"written to {output}", err=True)


@privacy_group.command("audit")
@click.option("--customer", "customer_id", default=None, help="only entries about this customer id")
@click.option("--action", type=click.Choice(ACTIONS), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
def audit_log(customer_id: str | None, action: str | None, limit: int) -> None:
    """The audit trail, newest first, one JSON object per line."""
    from graph_model.connection import run_query
    from graph_model.privacy import audit

    for row in run_query(audit.READ_ENTRIES, audit.read_parameters(customer_id, action, limit), write=False):
        entry = row["entry"]
        entry["at"] = entry["at"].iso_format() if hasattr(entry["at"], "iso_format") else str(entry["at"])
        click.echo(json.dumps(entry))


@privacy_group.command("retention")
@click.option("--dry-run", is_flag=True, help="only count what is past its period; change nothing")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="count the periods back from this day (UTC) instead of now, e.g. to see what next month's run "
                   "will remove (with --dry-run)")
@click.option("--every", "every", default=None,
              help="keep running: a run now, then one every DURATION (24h, 1d, 90m) until stopped (SIGTERM, Ctrl-C; "
                   "a run in progress finishes first); a failed run is retried after a minute")
@click.option("--rejects-older-than", "rejects_older_than", default=redaction.REJECTS_KEPT, show_default=True,
              help="each run also deletes the reject files of load runs and of the collection API last written "
                   "longer ago than this (as purge-rejects)")
@click.option("--runs-dir", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the runs' reject files are (default: CUSTOMER_GRAPH_RUNS_DIR, else <project>/runs)")
def retention(dry_run: bool, as_of: Any, every: str | None, rejects_older_than: str, runs_dir: Path | None) -> None:
    """Storage limitation: de-identify browsing, location visits and free text past their periods
    (CUSTOMER_GRAPH_RETENTION, docs/privacy.md) and delete old reject files; prints the cut-offs and counts as
    JSON; each run also sweeps for erased people (as ``privacy sweep``). Run it after each nightly load, or keep it
    running with --every 24h (compose's ``retention`` service)."""
    from datetime import UTC

    from graph_model.privacy.retention import apply_retention, retention_policy
    from graph_model.privacy.sweep import sweep

    now = as_of.replace(tzinfo=UTC) if as_of is not None else None
    if every is not None and (dry_run or as_of is not None):
        raise click.UsageError("--every runs the retention for real, as of each run's time: "
                               "not with --dry-run or --as-of")
    kept = _age(rejects_older_than, "--rejects-older-than")
    root = runs_dir if runs_dir is not None else redaction.runs_dir()
    policy = retention_policy()  # a bad setting stops here, before the first run

    def run() -> dict[str, Any]:
        result = apply_retention(policy, now=now, dry_run=dry_run, actor=_actor())
        purge = redaction.reject_files_older_than if dry_run else redaction.purge_older_than
        swept = sweep(actor=_actor(), dry_run=dry_run, reject_roots=[root])  # erased stays erased, checked daily
        return result | {"rejectFiles": len(purge(kept, [root])), "sweep": swept.as_dict()}

    if every is None:
        click.echo(json.dumps(run(), indent=2))
        return
    seconds = _age(every, "--every")
    _run_repeatedly(run, seconds, every)


def _age(text: str, option: str) -> float:
    """``30d``, ``12h``, ``90m``, ``45s`` in seconds (more than 0), or a usage error naming ``option``."""
    try:
        seconds = redaction.parse_age(text)
        if seconds <= 0:
            raise ValueError(f"a duration longer than 0 s, not {text!r}")
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from error
    return seconds


#: how long a failed run of ``--every`` waits before it is tried again (at most the interval itself)
RETRY_SECONDS = 60.0


def _run_repeatedly(job: Callable[[], dict[str, Any]], seconds: float, every: str) -> None:
    """``job`` now and every ``seconds`` until SIGTERM or Ctrl-C; one JSON line per run, one line per failure."""
    import signal
    import threading

    from customer_graph.schedule import run_every

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    retry = min(seconds, RETRY_SECONDS)
    click.echo(f"retention every {every}; stop with SIGTERM or Ctrl-C", err=True)

    def failed(error: Exception) -> None:
        click.echo(f"retention failed ({type(error).__name__}): {error}; next try in {retry:.0f} s", err=True)

    runs = run_every(job, every=seconds, retry=retry, stop=stop,
                     on_result=lambda result: click.echo(json.dumps(result), nl=True), on_error=failed)
    click.echo(f"retention stopped after {runs} run{'' if runs == 1 else 's'}", err=True)
