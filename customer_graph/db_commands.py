"""``customer-graph db ...``: the local server's life cycle and the schema."""

from __future__ import annotations

import click

from graph_model import connection
from graph_model.database import ensure_running, graph_counts, local_server, server_versions
from graph_model.errors import CustomerGraphError
from graph_model.schema import apply_schema


@click.group("db")
def db_group() -> None:
    """Start, stop and inspect the database; apply the schema."""


@db_group.command("start")
def start() -> None:
    """Start the local Neo4j (assembled from Maven Central on first use) and apply the schema."""
    settings = connection.current_settings()
    if not settings.uses_local_server:
        click.echo(f"NEO4J_URI is set ({settings.uri}): using that server, nothing to start.")
        return
    pid = ensure_running(settings)
    names = apply_schema()
    click.echo(f"Neo4j is running (pid {pid}) on bolt://127.0.0.1:{settings.bolt_port}; "
               f"Browser {settings.browser_url} (user {settings.user}); schema: {len(names)} constraints/indexes.")


@db_group.command("stop")
def stop() -> None:
    """Shut the local Neo4j down cleanly."""
    stopped = local_server().stop()
    click.echo("Neo4j stopped." if stopped else "Neo4j was not running.")


@db_group.command("status")
def status() -> None:
    """Print pid, ports, versions, data folder and log path of the database."""
    settings = connection.current_settings()
    if not settings.uses_local_server:
        click.echo(f"external server: {settings.uri} (database {settings.database})")
    else:
        state = local_server(settings).status()
        click.echo(f"local server: {'running, pid ' + str(state.pid) if state.running else 'not running'}")
        click.echo(f"bolt:         bolt://127.0.0.1:{state.bolt_port}")
        click.echo(f"browser:      {settings.browser_url}")
        click.echo(f"data folder:  {state.data_dir}")
        click.echo(f"log:          {state.log_path}")
        click.echo(f"jars:         {settings.dist_dir}")
        if not state.running:
            return
    try:
        for name, version in server_versions().items():
            click.echo(f"{name + ':':<13} {version}")
        nodes, relationships = graph_counts()
        click.echo(f"graph:        {sum(nodes.values()):,} nodes, {sum(relationships.values()):,} relationships")
    except CustomerGraphError as error:
        click.echo(f"database:     not answering ({error})")


@db_group.command("init")
def init() -> None:
    """Apply the schema (constraints and indexes, IF NOT EXISTS): safe to run on every start."""
    names = apply_schema()
    click.echo(f"schema applied: {len(names)} constraints and indexes are online.")


@db_group.command("install")
def install() -> None:
    """Resolve the Neo4j server, Browser, APOC and GDS jars from Maven Central into the cache (once)."""
    from graph_model.local_server import ensure_distribution

    dist = ensure_distribution(connection.current_settings().dist_dir)
    click.echo(f"Neo4j 5.26 with Browser, APOC and GDS is ready in {dist.root}")
