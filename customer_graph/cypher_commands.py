"""``customer-graph cypher ...``: list the analysts' Cypher library and run its files with parameters."""

from __future__ import annotations

from pathlib import Path

import click

from customer_graph.cypher_library import (
    CypherLibraryError,
    bind_parameters,
    format_csv,
    format_table,
    library_files,
    parse_cypher_file,
    resolve_file,
    run_cypher_file,
)


@click.group("cypher")
def cypher_group() -> None:
    """The analysts' Cypher library (cypher/*.cypher): list and run the queries."""


@cypher_group.command("list")
def list_queries() -> None:
    """Print every library file with the question it answers and its parameters."""
    files = library_files()
    width = max((len(f.path.name) for f in files), default=0)
    for cypher_file in files:
        params = " ".join(f"${name}" for name in cypher_file.defaults) or "-"
        click.echo(f"{cypher_file.path.name.ljust(width)}  {cypher_file.summary}  ({params})")


@cypher_group.command("run")
@click.argument("file")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a ':param' default of the file (repeatable). Numbers, booleans, JSON lists/maps parse.")
@click.option("--format", "-f", "output_format", type=click.Choice(["table", "csv"]), default=None,
              help="Output format (default: table, or csv when --output ends in .csv).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop the query on the server after this many seconds.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result to this file instead of standard output.")
def run(file: str, params: tuple[str, ...], output_format: str | None, timeout: float | None,
        output: Path | None) -> None:
    """Run FILE (a path, or a library name such as customer_360) and print its result."""
    cypher_file = parse_cypher_file(resolve_file(file))
    parameters = bind_parameters(cypher_file, params)
    result = run_cypher_file(cypher_file, parameters, timeout=timeout)
    chosen = output_format or ("csv" if output is not None and output.suffix.lower() == ".csv" else "table")
    text = format_csv(result) if chosen == "csv" else format_table(result)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CypherLibraryError(f"cannot write {output}: {error.strerror or error}") from None
    click.echo(f"{len(result.rows)} rows written to {output}", err=True)
