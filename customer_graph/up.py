"""``customer-graph up``: the main job on the local default, end to end.

Start Neo4j (or use ``NEO4J_URI``), apply the schema, delete reject files older than 30 days (their
retention), load the real Online Retail history and the synthetic multi-channel layer drawn onto it
(:mod:`loaders.demo_channels`: web/app sessions, store visits, messages, labelled ``SYN-``), compute the
algorithms, then serve GraphQL in development on loopback (``serve --dev``: GraphiQL and the dev keys),
printing where GraphiQL and the Neo4j Browser answer and how to log in. Each step is the same sub-command a
user can run alone.

On a new local home (the database never created) the history and the synthetic layer go in first, in one
bulk import (``load-online-retail --bulk --with-demo-channels``, :mod:`loaders.bulk`), before the server's
first start: no stop and restart around it, a few seconds of ``neo4j-admin`` instead of the transactional
loads (the same graph: checked by fingerprint, keyed hashes aside).
"""

from __future__ import annotations

import socket
import time

import click

from graph_model import connection, run_query
from graph_model.database import database_not_created, ensure_running
from graph_model.errors import LocalServerError
from graph_model.privacy.redaction import REJECTS_KEPT
from graph_model.schema import apply_schema


def _run_step(ctx: click.Context, title: str, args: list[str]) -> None:
    """Run ``customer-graph <args>`` in this process, announcing it; missing commands are reported, not fatal."""
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    if root.get_command(ctx, args[0]) is None:
        click.echo(f"[up] {title}: skipped, `customer-graph {args[0]}` is not part of this version yet")
        return
    click.echo(f"[up] {title}: customer-graph {' '.join(args)}")
    started = time.monotonic()
    root.main(args, standalone_mode=False, prog_name="customer-graph")
    click.echo(f"[up] {title}: done in {time.monotonic() - started:.1f} s")


def _check_port_free(host: str, port: int) -> None:
    """Fail at once, not after minutes of loading, when the API's port is taken (another ``make demo``?)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"cannot serve the API on {host}:{port} ({error.strerror}): stop what uses it, or choose another "
                f"port: `make demo DEMO_ARGS=\"--port {port + 1}\"` (customer-graph up --port {port + 1})") from None


def _orders_loaded() -> int:
    return int(run_query("MATCH (o:Order) RETURN count(o) AS n", write=False)[0]["n"])


def _sessions_loaded() -> int:
    return int(run_query("MATCH (s:Session) RETURN count(s) AS n", write=False)[0]["n"])


@click.command("up")
@click.option("--reload", is_flag=True, help="Load the sample data again even if orders are already in the graph.")
@click.option("--skip-algorithms", is_flag=True, help="Do not recompute the algorithms.")
@click.option("--no-serve", is_flag=True, help="Stop after loading and computing; do not serve GraphQL.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the GraphQL API listens on (loopback: it serves in development).")
@click.option("--port", default=8000, show_default=True, help="Port of the GraphQL API.")
@click.pass_context
def up(ctx: click.Context, reload: bool, skip_algorithms: bool, no_serve: bool, host: str, port: int) -> None:
    """Start Neo4j, load the real sample data, compute the algorithms and serve GraphQL."""
    if not no_serve:
        _check_port_free(host, port)
    settings = connection.current_settings()
    bulk_first = database_not_created(settings)
    if bulk_first:
        click.echo("[up] database: not created yet; the sample data and the synthetic layer are bulk-imported before "
                   "the server's first start")
        try:
            _run_step(ctx, "sample data (UCI Online Retail, real transactions) and the SYNTHETIC multi-channel layer",
                      ["load-online-retail", "--bulk", "--with-demo-channels"])
        except LocalServerError as error:  # the import itself failed: the transactional loaders still can
            click.echo(f"[up] bulk first load not done, loading transactionally instead: {error}")
    where = "the local Neo4j 5.26" if settings.uses_local_server else settings.uri
    click.echo(f"[up] database: starting/checking {where}")
    pid = ensure_running(settings)
    names = apply_schema()
    click.echo(f"[up] database: ready{f' (pid {pid})' if pid else ''}; schema: {len(names)} constraints and indexes")

    _run_step(ctx, "reject retention", ["privacy", "purge-rejects", "--older-than", REJECTS_KEPT])
    existing = _orders_loaded()
    if existing and bulk_first:
        pass  # loaded above
    elif existing and not reload:
        click.echo(f"[up] sample data: {existing:,} orders already in the graph, not reloading (use --reload)")
    else:
        _run_step(ctx, "sample data (UCI Online Retail, real transactions)", ["load-online-retail"])
    if not _sessions_loaded():
        _run_step(ctx, "multi-channel layer (SYNTHETIC sessions, store visits and messages on the real customers)",
                  ["load-demo-channels"])
    if not skip_algorithms:
        _run_step(ctx, "algorithms", ["algorithms", "run"])

    click.echo("")
    if settings.uses_local_server:
        click.echo(f"Neo4j Browser:  {settings.browser_url}  (connect to bolt://127.0.0.1:{settings.bolt_port}, "
                   f"user {settings.user}, password {settings.password})")
    else:
        click.echo(f"Neo4j:          {settings.uri} (user {settings.user})")
    if no_serve:
        return
    click.echo(f"Analysts' guide: run  :play http://localhost:{port}/guide  in the Browser (the Cypher library, "
               "with graph pictures)")
    _run_step(ctx, "GraphQL API", ["serve", "--dev", "--host", host, "--port", str(port)])
