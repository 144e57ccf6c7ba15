"""``customer-graph generate``, ``load`` and ``load-online-retail``."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import click

from loaders.exports import FORMATS


@click.command("generate")
@click.option("--customers", type=click.IntRange(min=10), default=1_000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder to write the drop into")
@click.option("--start", "start", type=click.DateTime(formats=["%Y-%m-%d"]), default="2026-11-01", show_default=True,
              help="first day of activity")
@click.option("--session-rate", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="mean web/app sessions per customer and day (about 5 events each)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--dirty-share", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="share of broken rows appended to some files (to exercise the rejects)")
def generate(customers: int, days: int, seed: int, out: Path, start: object, session_rate: float, fmt: str,
             dirty_share: float) -> None:
    """Write a deterministic synthetic nightly drop (same arguments, same files)."""
    from loaders.generator import GeneratorConfig
    from loaders.generator import generate as run

    config = GeneratorConfig(customers=customers, days=days, seed=seed, start=date.fromisoformat(str(start)[:10]),
                             session_rate=session_rate, fmt=fmt, dirty_share=dirty_share)
    t0 = time.perf_counter()
    written = run(config, out)
    for name, rows in written.items():
        click.echo(f"{name:<24} {rows:>12,}")
    click.echo(f"wrote {sum(written.values()):,} rows into {out} in {time.perf_counter() - t0:.1f} s")
