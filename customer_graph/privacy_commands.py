"""``customer-graph privacy ...``: the privacy rules' operator commands.

Each sub-command is one ``@privacy_group.command(...)`` function here (retention of reject files now;
erasure, export and audit join the same group).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group("privacy")
def privacy_group() -> None:
    """Privacy: retention of reject files (and the other rights and duties of docs/privacy.md)."""


@privacy_group.command("purge-rejects")
@click.option("--older-than", "older_than", default="30d", show_default=True,
              help="delete rejects.jsonl files last written longer ago than this (30d, 12h, 90m, 45s)")
@click.option("--runs-dir", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the load runs are (default: CUSTOMER_GRAPH_RUNS_DIR, else <project>/runs)")
def purge_rejects(older_than: str, runs_dir: Path | None) -> None:
    """Delete the reject files of load runs older than --older-than (the retention of rejected rows)."""
    from graph_model.privacy import redaction

    try:
        seconds = redaction.parse_age(older_than)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--older-than") from error
    root = runs_dir if runs_dir is not None else redaction.runs_dir()
    deleted = redaction.purge_older_than(seconds, [root])
    for path in deleted:
        click.echo(f"removed {path}")
    click.echo(f"{len(deleted)} reject file{'' if len(deleted) == 1 else 's'} older than {older_than} "
               f"removed under {root}")
