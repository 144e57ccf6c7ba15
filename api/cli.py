"""``customer-graph serve``: run the API with uvicorn (production unless ``--dev`` or
``CUSTOMER_GRAPH_ENV=development``; development listens only on loopback)."""

from __future__ import annotations

import os

import click

from api.collection.config import DEV_WRITE_KEY, load_collection_config
from api.config import load_api_config
from graph_model.errors import ConfigurationError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--dev", is_flag=True,
              help="Development: GraphiQL, introspection and the dev keys; loopback only (CUSTOMER_GRAPH_ENV=development).")
def serve(host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the GraphQL API (/graphql, /healthz, /readyz; GraphiQL in development)."""
    import uvicorn

    from api.serving import uvicorn_options

    if dev:
        os.environ["CUSTOMER_GRAPH_ENV"] = "development"  # the app factory (and every worker) reads it
    config = load_api_config()  # fail early, with one clear message, on bad settings
    config.check_host(host)
    if config.development:
        mode = "development: GraphiQL at that address"
    else:
        mode = "production" + (": introspection and GraphiQL enabled" if config.introspection_enabled else "")
    click.echo(f"customer-graph API on http://{host}:{port}/graphql ({mode})")
    click.echo("health: /healthz (process), /readyz (database reachable)")
    if config.using_dev_keys:
        click.echo("no CUSTOMER_GRAPH_API_KEYS set: development keys (send as X-API-Key or Authorization: Bearer):")
        for key, role in config.api_keys.items():
            click.echo(f"  {role.name:7s} {key}")
    else:
        click.echo(f"{len(config.api_keys)} API keys configured from CUSTOMER_GRAPH_API_KEYS")
    collection = load_collection_config(development=config.development)
    if collection.enabled:
        if workers > 1:
            raise ConfigurationError("the collection API keeps one spool per process: serve it with --workers 1 "
                                     "(or leave CUSTOMER_GRAPH_WRITE_KEYS unset on the extra workers)")
        note = " (development write key: dev-write-key)" if collection.write_keys == {DEV_WRITE_KEY} else ""
        click.echo(f"collection (Segment tracking API): POST /v1/batch, /v1/track, ...{note}; spool "
                   f"{collection.spool_path}")
    if config.tokens.enabled:
        kinds = [name for name, on in (("HS256", config.tokens.secret), ("RS256 (JWKS)", config.tokens.jwks)) if on]
        click.echo(f"customer tokens (Authorization: Bearer <jwt>): {', '.join(kinds)}")
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, **uvicorn_options())
