"""The database as a whole: the local server described by the settings, its versions, emptying it."""

from __future__ import annotations

import neo4j

from graph_model.connection import current_settings, run_query, session
from graph_model.local_server import LocalServer
from graph_model.settings import Settings


def local_server(settings: Settings | None = None) -> LocalServer:
    """The project-managed local server described by ``settings`` (the environment by default)."""
    settings = settings or current_settings()
    return LocalServer(
        home=settings.home, dist_dir=settings.dist_dir, password=settings.password,
        bolt_port=settings.bolt_port, http_port=settings.http_port,
        heap=settings.heap, pagecache=settings.pagecache, transaction_timeout=settings.transaction_timeout,
    )


def ensure_running(settings: Settings | None = None) -> int | None:
    """Start the local server unless ``NEO4J_URI`` points elsewhere; return its pid (``None`` when external)."""
    settings = settings or current_settings()
    return local_server(settings).start() if settings.uses_local_server else None


def database_not_created(settings: Settings | None = None) -> bool:
    """True when the local server's database has never been created: the server is stopped and no store exists
    yet, so the database is known to be empty without asking it (a bulk import can go first, see
    :mod:`loaders.bulk`). Always False for a server elsewhere (``NEO4J_URI``)."""
    settings = settings or current_settings()
    if not settings.uses_local_server:
        return False
    server = local_server(settings)
    return server.running_pid() is None and not server.has_database(settings.database)


def server_versions() -> dict[str, str]:
    """Versions of Neo4j (with edition), APOC and GDS as the server reports them; missing ones are left out."""
    versions: dict[str, str] = {}
    for row in run_query("CALL dbms.components() YIELD name, versions, edition RETURN name, versions[0] AS v, edition",
                         write=False):
        versions[row["name"]] = f"{row['v']} {row['edition']}"
    for name, query in (("APOC", "RETURN apoc.version() AS v"), ("GDS", "RETURN gds.version() AS v")):
        try:
            versions[name] = run_query(query, write=False)[0]["v"]
        except Exception:  # noqa: BLE001 - a server without the plugin simply has no version to show
            continue
    return versions


def clear_graph(batch_size: int = 1000) -> None:
    """Delete every node and relationship (constraints and indexes stay), in batches small enough for dense nodes.

    The outer transaction has no timeout (the server's ``db.transaction.timeout`` covers it too, and emptying a
    big graph may take longer); the batches are committed one by one.
    """
    with session() as s:
        s.run(neo4j.Query("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $batch ROWS", timeout=0),
              {"batch": batch_size}).consume()


def graph_counts() -> tuple[dict[str, int], dict[str, int]]:
    """Node counts per label and relationship counts per type (answered from the count store)."""
    nodes: dict[str, int] = {}
    for row in run_query("CALL db.labels() YIELD label RETURN label", write=False):
        label = row["label"]
        escaped = label.replace("`", "``")  # names come from the database itself, never from users
        nodes[label] = run_query(f"MATCH (n:`{escaped}`) RETURN count(n) AS c", write=False)[0]["c"]
    relationships: dict[str, int] = {}
    for row in run_query("CALL db.relationshipTypes() YIELD relationshipType AS t RETURN t", write=False):
        rel_type = row["t"]
        escaped = rel_type.replace("`", "``")
        relationships[rel_type] = run_query(f"MATCH ()-[r:`{escaped}`]->() RETURN count(r) AS c", write=False)[0]["c"]
    return nodes, relationships
