"""``customer-graph serve``: run the API with uvicorn."""

from __future__ import annotations

import click

from api.config import load_api_config


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql in development; /healthz, /readyz)."""
    import uvicorn

    config = load_api_config()  # fail early, with one clear message, on bad settings
    click.echo(f"customer-graph API on http://{host}:{port}/graphql "
               f"({'development: GraphiQL at that address' if config.development else 'production'})")
    click.echo("health: /healthz (process), /readyz (database reachable)")
    if config.using_dev_keys:
        click.echo("no CUSTOMER_GRAPH_API_KEYS set: development keys (send as X-API-Key or Authorization: Bearer):")
        for key, role in config.api_keys.items():
            click.echo(f"  {role.name:7s} {key}")
    else:
        click.echo(f"{len(config.api_keys)} API keys configured from CUSTOMER_GRAPH_API_KEYS")
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)
