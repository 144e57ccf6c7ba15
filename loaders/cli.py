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


def _options(batch_size: int, writers: int, max_reject_share: float, report_dir: Path | None,
             radius: float, dwell: float, bulk: bool = False, bulk_csv_only: Path | None = None) -> object:
    from loaders.geofence import GeofenceConfig
    from loaders.pipeline import LoadOptions

    return LoadOptions(batch_size=batch_size, writers=writers, max_reject_share=max_reject_share,
                       report_dir=report_dir, geofence=GeofenceConfig(radius_m=radius, min_dwell_minutes=dwell),
                       bulk=bulk or bulk_csv_only is not None, bulk_csv_only=bulk_csv_only)


def load_options(command: click.Command) -> click.Command:
    """The options every load command shares."""
    for option in reversed([
        click.option("--batch-size", type=click.IntRange(min=1), default=5_000, show_default=True,
                     help="rows per transaction"),
        click.option("--writers", type=click.IntRange(1, 16), default=2, show_default=True,
                     help="parallel writers (partitioned by session/customer)"),
        click.option("--max-reject-share", type=click.FloatRange(0, 1), default=0.05, show_default=True,
                     help="exit code 3 when a larger share of the rows is rejected"),
        click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="where report.json and rejects.jsonl go (default <runs dir>/<time>-<name>, "
                          "runs dir: CUSTOMER_GRAPH_RUNS_DIR, else <project>/runs)"),
        click.option("--geofence-radius", "radius", type=click.FloatRange(min=1), default=100.0, show_default=True,
                     help="metres around a store in which a ping counts as in the store"),
        click.option("--geofence-dwell", "dwell", type=click.FloatRange(min=0), default=5.0, show_default=True,
                     help="minutes of pings at a store that make a visit"),
        click.option("--bulk", is_flag=True,
                     help="first load into an EMPTY database with neo4j-admin import (restarts the local server)"),
        click.option("--bulk-csv-only", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="bulk: only write the import CSVs and import.sh into this folder (for a remote server)"),
    ]):
        command = option(command)
    return command


def _finish(data: dict, *, wrote_graph: bool = True) -> None:
    """Print the run's summary; when ``CUSTOMER_GRAPH_RETENTION`` is set, end with a retention run, so a load of
    old rows never leaves what identifies a person past its period (docs/privacy.md); exit 3 on too many rejects."""
    from graph_model.privacy.retention import COUNTED, apply_retention, retention_configured
    from loaders.report import summary_text

    click.echo(summary_text(data))
    if wrote_graph and retention_configured():
        done = apply_retention(actor="loader")
        click.echo(f"retention ({done['policy']}): " + ", ".join(f"{k} {done[k]:,}" for k in COUNTED))
    if not data["ok"]:
        raise SystemExit(3)


def _prepare(bulk: object = False) -> None:
    import logging

    from graph_model.database import database_not_created, ensure_running

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # The driver retries deadlocks between the parallel writers by itself; its one-line notices are noise here.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    if bulk and database_not_created():
        return  # the bulk loader imports before the server's first start (loaders.bulk)
    ensure_running()


@click.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--entity", default=None, help="load PATH (a file) as this entity, e.g. orders")
@load_options
def load(path: Path, entity: str | None, **kwargs: object) -> None:
    """Load a nightly drop folder (reference data first), or one export file."""
    from loaders.pipeline import load_drop, load_file

    _prepare(kwargs["bulk"] or kwargs["bulk_csv_only"])
    options = _options(**kwargs)  # type: ignore[arg-type]
    data = load_file(path, entity, options) if path.is_file() else load_drop(path, options)  # type: ignore[arg-type]
    _finish(data, wrote_graph=kwargs["bulk_csv_only"] is None)


@click.command("load-online-retail")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the UCI Online Retail CSV (default: data/online-retail/online_retail_all.csv.xz)")
@click.option("--by-day", is_flag=True, help="replay the history as nightly drops, one day after the other")
@click.option("--limit-days", type=click.IntRange(min=1), default=None, help="only the first N days")
@click.option("--with-demo-channels", is_flag=True,
              help="also load the demo's SYNTHETIC layer (as load-demo-channels draws it) in the same run")
@load_options
def load_online_retail(csv_path: Path | None, by_day: bool, limit_days: int | None, with_demo_channels: bool,
                       **kwargs: object) -> None:
    """Load the real UCI Online Retail history (customers, products, orders, countries) through the export path."""
    import tempfile

    from loaders.demo_channels import LayerConfig, write_layer
    from loaders.online_retail import load_online_retail as run

    _prepare(kwargs["bulk"] or kwargs["bulk_csv_only"])
    with tempfile.TemporaryDirectory(prefix="demo-channels-") as folder:
        then = []
        if with_demo_channels:
            write_layer(Path(folder), LayerConfig(), csv_path)
            then.append(Path(folder))
        data = run(csv_path, by_day=by_day, limit_days=limit_days, options=_options(**kwargs),  # type: ignore[arg-type]
                   then=then)
    _finish(data, wrote_graph=kwargs["bulk_csv_only"] is None)


@click.command("load-demo-channels")
@click.option("--customers", type=click.IntRange(min=10), default=1_500, show_default=True,
              help="how many of the history's most active UK customers get synthetic web/app/store activity")
@click.option("--days", type=click.IntRange(min=1), default=14, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the UCI Online Retail CSV the layer is drawn onto (default: the copy in data/online-retail/)")
@load_options
def load_demo_channels(customers: int, days: int, seed: int, csv_path: Path | None, **kwargs: object) -> None:
    """Load the demo's SYNTHETIC multi-channel layer (sessions, store visits, messages) onto the real customers."""
    from loaders.demo_channels import LayerConfig, load_layer

    _prepare()
    data = load_layer(LayerConfig(customers=customers, days=days, seed=seed), _options(**kwargs),  # type: ignore[arg-type]
                      csv_path)
    _finish(data)
