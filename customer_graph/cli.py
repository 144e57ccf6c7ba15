"""Entry point of the ``customer-graph`` command.

Project errors (:class:`graph_model.errors.CustomerGraphError`) are printed as one clear message with
exit code 1, never as a stack trace.
"""

from __future__ import annotations

import os
import sys

import click

from customer_graph.lazy_group import LazyGroup
from graph_model.errors import CustomerGraphError

LAZY_COMMANDS = {
    "algorithms": "algorithms.cli:algorithms",
    "cypher": "customer_graph.cypher_commands:cypher_group",
    "db": "customer_graph.db_commands:db_group",
    "generate": "loaders.cli:generate",
    "load": "loaders.cli:load",
    "load-demo-channels": "loaders.cli:load_demo_channels",
    "load-online-retail": "loaders.cli:load_online_retail",
    "privacy": "customer_graph.privacy_commands:privacy_group",
    "serve": "api.cli:serve",
    "up": "customer_graph.up:up",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """customer-graph: the retailer's company memory as a graph in Neo4j."""


def main() -> None:
    """Run the command line; project errors become one line on stderr and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except CustomerGraphError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, the trace only on request
        if os.environ.get("CUSTOMER_GRAPH_DEBUG"):
            raise
        click.echo(f"internal error: {type(error).__name__}: {error} (set CUSTOMER_GRAPH_DEBUG=1 for the trace)",
                   err=True)
        sys.exit(2)
