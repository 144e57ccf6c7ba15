"""``customer-graph algorithms ...``: recompute the graph algorithms and write their results back."""

from __future__ import annotations

import time

import click


@click.group("algorithms")
def algorithms() -> None:
    """Product affinities, similar shoppers, recommendations, segments, retention and trends."""


@algorithms.command("run")
@click.option("--only", default=None, metavar="FAMILIES",
              help="Comma-separated families to write: affinity, similarity, segments, retention, trends, recommend "
                   "(default: all).")
@click.option("--quiet", is_flag=True, help="Print the summary only.")
def run(only: str | None, quiet: bool) -> None:
    """Read the graph, recompute, and write versioned results (switched to current at the end)."""
    from algorithms.run import run_all

    started = time.perf_counter()

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - started:7.1f}s] {message}")

    summary = run_all(only, progress=progress)
    click.echo("summary:")
    for family, counts in summary["written"].items():
        listing = ", ".join(f"{name} {count:,}" for name, count in counts.items())
        click.echo(f"  {family:<11} {listing}  (run {summary['runs'][family]})")
    for note in summary["notes"]:
        click.echo(f"  note: {note}")
    click.echo("  stages: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in summary["stages"].items()))
    click.echo(f"  total {summary['total_seconds']:.1f} s")
