"""The analysts' Cypher library: parse a ``cypher/*.cypher`` file, bind its parameters, run it, format the rows.

A library file pastes and runs as it is in the Neo4j Browser::

    // Question: What do we know about one customer, across every channel?
    // Parameters:
    //   customerId  the customer's id
    // Example:
    //   customerId | name  | ...
    //   "C1"       | Alice | ...
    :param customerId => 'C1';

    MATCH (c:Customer {customerId: $customerId}) ...;

The ``:param name => value`` lines give the defaults (Cypher literals: strings, numbers, booleans, null,
lists, maps); values given on the command line override them. Values only ever reach the database as
query parameters; the statement text is sent exactly as written in the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j
import neo4j.exceptions
import neo4j.graph
import neo4j.spatial
import neo4j.time

from graph_model.connection import get_driver, session
from graph_model.errors import CustomerGraphError, translate_neo4j_error
from graph_model.settings import project_root

PARAM_LINE = re.compile(r"^:param\s+`?([A-Za-z_][A-Za-z0-9_]*)`?\s*=>\s*(.*?)\s*;?\s*$")
PARAM_USE = re.compile(r"\$`?([A-Za-z_][A-Za-z0-9_]*)`?")
HEADER_SECTIONS = ("question", "parameters", "example")


class CypherLibraryError(CustomerGraphError):
    """A library file is missing or malformed, or a parameter is unknown or badly typed."""


@dataclass(frozen=True)
class CypherFile:
    """One parsed library file."""

    path: Path
    header: dict[str, str]
    defaults: dict[str, Any]
    statement: str
    used_parameters: frozenset[str] = field(default_factory=frozenset)
    default_texts: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The file name without ``.cypher`` (what ``cypher run`` also accepts)."""
        return self.path.stem

    @property
    def question(self) -> str:
        """The question the query answers, as the header states it."""
        return " ".join(self.header.get("question", "").split())

    @property
    def summary(self) -> str:
        """The first sentence of the question (what ``cypher list`` shows)."""
        match = re.match(r"^(.+?[?.])(\s|$)", self.question)
        return match.group(1) if match else self.question


@dataclass(frozen=True)
class Result:
    """Column names and rows (values as the driver returns them) of one run."""

    columns: list[str]
    rows: list[list[Any]]


# ----------------------------------------------------------------------------------------------- literals

class _LiteralParser:
    """A recursive-descent parser for Cypher literals: the values ``:param`` lines may hold."""

    _NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
    _NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Any:
        value = self._value()
        self._skip()
        if self.pos != len(self.text):
            raise ValueError(f"unexpected {self.text[self.pos:]!r}")
        return value

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _value(self) -> Any:
        self._skip()
        if self.pos >= len(self.text):
            raise ValueError("a value is missing")
        char = self.text[self.pos]
        if char in "'\"":
            return self._string(char)
        if char == "[":
            return self._sequence("]", self._value)
        if char == "{":
            return dict(self._sequence("}", self._entry))
        number = self._NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            raw = number.group()
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        word = self._NAME.match(self.text, self.pos)
        if word and word.group().lower() in ("true", "false", "null"):
            self.pos = word.end()
            return {"true": True, "false": False, "null": None}[word.group().lower()]
        raise ValueError(f"not a literal at {self.text[self.pos:]!r}")

    def _string(self, quote: str) -> str:
        escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
        out: list[str] = []
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append(escapes.get(nxt, nxt))
                self.pos += 2
                continue
            self.pos += 1
            if char == quote:
                return "".join(out)
            out.append(char)
        raise ValueError("unterminated string")

    def _sequence(self, close: str, item: Any) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        self._skip()
        if self.text.startswith(close, self.pos):
            self.pos += 1
            return items
        while True:
            items.append(item())
            self._skip()
            if self.text.startswith(close, self.pos):
                self.pos += 1
                return items
            if not self.text.startswith(",", self.pos):
                raise ValueError(f"expected ',' or {close!r} at {self.text[self.pos:]!r}")
            self.pos += 1

    def _entry(self) -> tuple[str, Any]:
        self._skip()
        if self.text.startswith(("'", '"'), self.pos):
            key = self._string(self.text[self.pos])
        elif self.text.startswith("`", self.pos):
            end = self.text.index("`", self.pos + 1)
            key, self.pos = self.text[self.pos + 1:end], end + 1
        else:
            word = self._NAME.match(self.text, self.pos)
            if not word:
                raise ValueError(f"expected a map key at {self.text[self.pos:]!r}")
            key, self.pos = word.group(), word.end()
        self._skip()
        if not self.text.startswith(":", self.pos):
            raise ValueError(f"expected ':' after map key {key!r}")
        self.pos += 1
        return key, self._value()


def parse_literal(text: str) -> Any:
    """Parse a Cypher literal (``'a'``, ``42``, ``0.5``, ``true``, ``null``, ``[1, 'x']``, ``{k: 1}``)."""
    return _LiteralParser(text.strip()).parse()


# ------------------------------------------------------------------------------------------------- files

def code_only(text: str) -> str:
    """``text`` with comments and the insides of strings and quoted names blanked out, same length and lines.

    What is left is code: where to look for ``;``, ``$parameters``, labels and property names.
    """
    out = list(text)

    def blank(start: int, stop: int) -> None:
        for k in range(start, min(stop, len(out))):
            if out[k] != "\n":
                out[k] = " "

    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            stop = text.find("\n", i)
            stop = n if stop < 0 else stop
        elif text.startswith("/*", i):
            stop = text.find("*/", i + 2)
            stop = n if stop < 0 else stop + 2
        elif text[i] in "'\"`":
            quote, stop = text[i], i + 1
            while stop < n and text[stop] != quote:
                stop += 2 if text[stop] == "\\" and quote != "`" else 1
            blank(i + 1, stop)
            i = stop + 1
            continue
        else:
            i += 1
            continue
        blank(i, stop)
        i = stop
    return "".join(out)


def split_statements(text: str) -> list[str]:
    """Split a script on ``;`` outside strings and comments; statements without code are dropped."""
    code = code_only(text)
    statements, start = [], 0
    for match in re.finditer(";", code):
        statements.append((text[start:match.start()], code[start:match.start()]))
        start = match.end()
    statements.append((text[start:], code[start:]))
    return [statement.strip() for statement, statement_code in statements if statement_code.strip()]


def _parse_header(lines: list[str]) -> dict[str, str]:
    """Sections of the leading ``//`` comment: ``// Question: ...``, ``// Parameters:``, ``// Example:``."""
    header: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines:
        body = line[2:].rstrip()
        body = body[1:] if body.startswith(" ") else body
        match = re.match(r"^([A-Za-z][A-Za-z ]*):\s*(.*)$", body)
        if match and match.group(1).strip().lower() in HEADER_SECTIONS:
            current = match.group(1).strip().lower()
            header[current] = [match.group(2)] if match.group(2) else []
        elif current is not None:
            header[current].append(body)
    return {key: textwrap.dedent("\n".join(value)).strip() for key, value in header.items()}


def parse_cypher_file(path: Path | str) -> CypherFile:
    """Read and check one library file: header, ``:param`` defaults and exactly one statement."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CypherLibraryError(f"no such Cypher file: {path}") from None
    except OSError as error:
        raise CypherLibraryError(f"cannot read {path}: {error.strerror or error}") from None
    header_lines: list[str] = []
    defaults: dict[str, Any] = {}
    default_texts: dict[str, str] = {}
    body: list[str] = []
    in_header = True
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if in_header:
            if stripped.startswith("//"):
                header_lines.append(stripped)
                continue
            if not stripped:
                continue
            in_header = False
        if stripped.startswith(":param"):
            match = PARAM_LINE.match(stripped)
            if not match:
                raise CypherLibraryError(f"{path}:{number}: write parameters as ':param name => value;'")
            try:
                defaults[match.group(1)] = parse_literal(match.group(2))
                default_texts[match.group(1)] = match.group(2)
            except ValueError as error:
                raise CypherLibraryError(
                    f"{path}:{number}: the value of ${match.group(1)} is not a literal: {error}") from None
        elif stripped.startswith(":"):
            raise CypherLibraryError(f"{path}:{number}: only ':param' Browser commands are allowed")
        else:
            body.append(line)
    statements = split_statements("\n".join(body))
    if len(statements) != 1:
        raise CypherLibraryError(f"{path}: a library file holds exactly one statement, found {len(statements)}")
    used = frozenset(PARAM_USE.findall(code_only(statements[0])))
    return CypherFile(path=path, header=_parse_header(header_lines), defaults=defaults,
                      statement=statements[0], used_parameters=used, default_texts=default_texts)


def library_dir() -> Path:
    """The ``cypher/`` folder of the checkout."""
    return project_root() / "cypher"


def library_files(directory: Path | None = None) -> list[CypherFile]:
    """Every ``*.cypher`` file of the library, parsed, sorted by name."""
    directory = directory or library_dir()
    if not directory.is_dir():
        raise CypherLibraryError(f"no Cypher library folder at {directory}")
    return [parse_cypher_file(path) for path in sorted(directory.glob("*.cypher"))]


def resolve_file(name: str, directory: Path | None = None) -> Path:
    """A path as given, or the name of a library file (``customer_360`` or ``customer_360.cypher``)."""
    given = Path(name)
    if given.is_file():
        return given
    directory = directory or library_dir()
    for candidate in (directory / given.name, directory / f"{given.name}.cypher"):
        if given.parent == Path(".") and candidate.is_file():
            return candidate
    known = ", ".join(path.stem for path in sorted(directory.glob("*.cypher"))) if directory.is_dir() else "none"
    raise CypherLibraryError(f"no such Cypher file: {name} (library files: {known})")


# -------------------------------------------------------------------------------------------- parameters

def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "yes", "y", "1", "on"):
        return True
    if lowered in ("false", "no", "n", "0", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_any(raw: str) -> Any:
    """JSON, else a Cypher literal, else the text itself."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return parse_literal(raw)
    except ValueError:
        return raw


def parse_value(raw: str, default: Any = None) -> Any:
    """A command-line value, read in the light of the file's default for it.

    A string default keeps the text as typed (so ``customerId=12347`` stays ``'12347'``); numbers, booleans,
    lists and maps must parse as such; a ``null`` default accepts JSON, a Cypher literal, or plain text.
    """
    text = raw.strip()
    if text.lower() == "null" and not isinstance(default, str):
        return None
    try:
        if isinstance(default, bool):
            return _parse_bool(text)
        if isinstance(default, int):
            value = _parse_any(text)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("expected a number")
            return value
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str):
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                return parse_literal(text)
            return raw
        if isinstance(default, list | dict):
            value = _parse_any(text)
            example = '["a", "b"]' if isinstance(default, list) else '{"k": 1}'
            if not isinstance(value, type(default)):
                raise ValueError(f"expected a {type(default).__name__}, e.g. {example}")
            return value
    except ValueError as error:
        raise ValueError(f"{raw!r}: {error}") from None
    return _parse_any(text)


def split_assignment(assignment: str) -> tuple[str, str]:
    """``"name=value"`` -> ``("name", "value")``."""
    name, sep, value = assignment.partition("=")
    name = name.strip().lstrip("$")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CypherLibraryError(f"write parameters as name=value, got {assignment!r}")
    return name, value


def bind_parameters(cypher_file: CypherFile, assignments: Iterable[str] = ()) -> dict[str, Any]:
    """The file's defaults overridden by ``name=value`` assignments; unknown names are refused."""
    parameters = dict(cypher_file.defaults)
    declared = sorted(cypher_file.defaults)
    for assignment in assignments:
        name, raw = split_assignment(assignment)
        if name not in cypher_file.defaults:
            listing = ", ".join(declared) if declared else "none"
            raise CypherLibraryError(f"unknown parameter {name!r} for {cypher_file.path.name} (it takes: {listing})")
        try:
            parameters[name] = parse_value(raw, cypher_file.defaults[name])
        except ValueError as error:
            raise CypherLibraryError(f"bad value for parameter {name!r}: {error}") from None
    missing = sorted(cypher_file.used_parameters - parameters.keys())
    if missing:
        raise CypherLibraryError(f"{cypher_file.path.name} uses parameters without a ':param' line: {', '.join(missing)}")
    return parameters


# --------------------------------------------------------------------------------------------- running

def ensure_reachable() -> None:
    """Fail fast, without the driver's retries, when the database does not answer."""
    try:
        get_driver().verify_connectivity()
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as error:
        raise translate_neo4j_error(error) from error


def run_cypher_file(cypher_file: CypherFile, parameters: Mapping[str, Any] | None = None,
                    timeout: float | None = None) -> Result:
    """Run the file's statement in a read transaction with ``parameters`` (defaults when ``None``).

    ``timeout`` (seconds) makes the server stop a query that runs longer.
    """
    params = dict(cypher_file.defaults if parameters is None else parameters)

    @neo4j.unit_of_work(timeout=timeout)
    def work(tx: neo4j.ManagedTransaction) -> Result:
        result = tx.run(cypher_file.statement, params)
        columns = list(result.keys())
        return Result(columns=columns, rows=[list(record.values()) for record in result])

    ensure_reachable()
    with session(default_access_mode=neo4j.READ_ACCESS, notifications_min_severity="OFF") as s:
        return s.execute_read(work)


def run_script(text: str, parameters: Mapping[str, Any] | None = None) -> int:
    """Run every ``;``-separated statement of a script (e.g. a test fixture) in one write transaction."""
    statements = split_statements(text)

    def work(tx: neo4j.ManagedTransaction) -> None:
        for statement in statements:
            tx.run(statement, dict(parameters or {})).consume()

    with session() as s:
        s.execute_write(work)
    return len(statements)


# ------------------------------------------------------------------------------------------- formatting

def to_plain(value: Any) -> Any:
    """A driver value as plain JSON-able data: temporals as ISO text, points as maps, nodes as properties."""
    if isinstance(value, neo4j.graph.Node):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, neo4j.graph.Relationship):
        return {"type": value.type, **{key: to_plain(item) for key, item in value.items()}}
    if isinstance(value, neo4j.graph.Path):
        return [to_plain(node) for node in value.nodes]
    if isinstance(value, neo4j.spatial.WGS84Point):
        return {"longitude": value.longitude, "latitude": value.latitude}
    if isinstance(value, neo4j.spatial.Point):
        return list(value)
    if isinstance(value, neo4j.time.DateTime) and value.nanosecond % 1000 == 0:
        text = value.to_native().isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


def cell_text(value: Any) -> str:
    """One value as text for a table or CSV cell (lists and maps as JSON, null as empty)."""
    plain = to_plain(value)
    if plain is None:
        return ""
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, float):
        return repr(round(plain, 6))
    if isinstance(plain, list | dict):
        return json.dumps(plain, ensure_ascii=False, default=str)
    return str(plain)


#: a spreadsheet takes a cell starting with one of these as a formula (OWASP "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    r"""One value as a CSV cell: :func:`cell_text`, with a ``'`` before text a spreadsheet would run as a formula.

    Numbers stay as they are (a negative number is no formula); any other value whose text starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single quote, as OWASP advises.

    >>> [csv_cell(v) for v in ['=HYPERLINK("http://x","y")', "-3.5", -3.5, -2, "+1", "@SUM(A1)", "a=b", None]]
    ['\'=HYPERLINK("http://x","y")', "'-3.5", '-3.5', '-2', "'+1", "'@SUM(A1)", 'a=b', '']
    """
    text = cell_text(value)
    if text.startswith(FORMULA_STARTS) and not (isinstance(value, int | float) and not isinstance(value, bool)):
        return "'" + text
    return text


def format_csv(result: Result) -> str:
    """The result as CSV with a header row; text that would be a spreadsheet formula is escaped (:func:`csv_cell`).

    >>> print(format_csv(Result(columns=["search", "delta"], rows=[["=1+1", -1.5], ["mug", 2]])), end="")
    search,delta
    '=1+1,-1.5
    mug,2
    >>> format_csv(Result(columns=["search"], rows=[["a\\r=1"], [""]]))
    'search\\n"a\\r=1"\\n""\\n'
    """
    # "\r\n" as the writer's terminator makes it quote a cell holding a lone "\r" too (with "\n" it does not, and
    # a spreadsheet would start a new row there, where "=..." after the "\r" runs); rows still end in "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    lines = []
    for cells in [result.columns, *result.rows]:
        writer.writerow([csv_cell(value) for value in cells])
        lines.append(buffer.getvalue()[:-2] + "\n")
        buffer.seek(0)
        buffer.truncate()
    return "".join(lines)


def format_table(result: Result, max_width: int = 60) -> str:
    """The result as an aligned text table; long cells are cut at ``max_width`` characters."""
    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cut(cell_text(value)) for value in row] for row in result.rows]
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(result.columns)]
    lines = [" | ".join(column.ljust(widths[i]) for i, column in enumerate(result.columns)).rstrip(),
             "-+-".join("-" * width for width in widths)]
    lines += [" | ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in cells]
    count = len(result.rows)
    lines.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(lines) + "\n"
