"""The runner of the Cypher library: file parsing, parameter parsing, table/CSV output and the command line."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from customer_graph import cli as cli_module
from customer_graph.cypher_library import (
    CypherLibraryError,
    Result,
    bind_parameters,
    code_only,
    format_csv,
    format_table,
    parse_cypher_file,
    parse_literal,
    parse_value,
    resolve_file,
    split_statements,
)
from graph_model import run_query
from graph_model.settings import Settings, project_root

ROOT = project_root()

GOOD_FILE = """// Question: Who is this? A test.
// Parameters:
//   $customerId  the id
//   $limit       how many
// Example:
//   customerId
//   C1
:param customerId => 'C1';
:param limit => 5;

// a comment between the parameters and the statement
MATCH (c:Customer {customerId: $customerId}) RETURN c.customerId AS customerId, ';' AS semi LIMIT $limit;
"""


def write(tmp_path: Path, text: str, name: str = "q.cypher") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- parsing (no DB)

@pytest.mark.parametrize(("text", "value"), [
    ("'C1'", "C1"), ('"it\\"s"', 'it"s'), ("'a\\nb'", "a\nb"), ("42", 42), ("-3", -3), ("0.5", 0.5), ("1e3", 1000.0),
    ("true", True), ("FALSE", False), ("null", None), ("[]", []), ("[1, 'x', [true]]", [1, "x", [True]]),
    ("{a: 1, `b c`: 'd', 'e': [2]}", {"a": 1, "b c": "d", "e": [2]}),
])
def test_parse_literal(text: str, value: object) -> None:
    parsed = parse_literal(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("text", ["", "'open", "[1, 2", "{a 1}", "datetime()", "1 2", "$x"])
def test_parse_literal_refuses_what_is_not_a_literal(text: str) -> None:
    with pytest.raises(ValueError):
        parse_literal(text)


@pytest.mark.parametrize(("raw", "default", "value"), [
    ("12347", "C1", "12347"),  # a string parameter stays a string, even when it looks like a number
    ("'C 2'", "C1", "C 2"),
    ("7", 5, 7), ("2.5", 5, 2.5), ("0.75", 0.6, 0.75), ("1", 0.6, 1.0),
    ("true", False, True), ("no", True, False),
    ('["a", "b"]', ["x"], ["a", "b"]), ("['a']", ["x"], ["a"]), ('{"k": 1}', {}, {"k": 1}),
    ("web", None, "web"), ("10", None, 10), ("'10'", None, "10"), ("[1,2]", None, [1, 2]), ("null", None, None), ("null", 5, None),
    ("2011-12-01T00:00:00Z", None, "2011-12-01T00:00:00Z"),
])
def test_parse_value_follows_the_default(raw: str, default: object, value: object) -> None:
    parsed = parse_value(raw, default)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("raw", "default"), [("ten", 5), ("maybe", True), ("x", 0.5), ("1", ["a"]), ("[1]", {})])
def test_parse_value_refuses_a_value_of_the_wrong_type(raw: str, default: object) -> None:
    with pytest.raises(ValueError):
        parse_value(raw, default)


def test_split_statements_ignores_semicolons_in_strings_and_comments() -> None:
    script = "RETURN ';' AS a; // not; a statement\nRETURN \"x;y\" AS b;\n/* c; d */\n;"
    assert split_statements(script) == ["RETURN ';' AS a", "// not; a statement\nRETURN \"x;y\" AS b"]


def test_a_library_file_is_parsed(tmp_path: Path) -> None:
    parsed = parse_cypher_file(write(tmp_path, GOOD_FILE))
    assert parsed.question == "Who is this? A test." and parsed.summary == "Who is this?"
    assert parsed.header["parameters"].splitlines()[0].strip() == "$customerId  the id"
    assert parsed.header["example"].splitlines() == ["customerId", "C1"]
    assert parsed.defaults == {"customerId": "C1", "limit": 5}
    assert parsed.used_parameters == {"customerId", "limit"}
    assert parsed.statement.startswith("// a comment") and parsed.statement.endswith("LIMIT $limit")


@pytest.mark.parametrize(("text", "message"), [
    ("RETURN 1; RETURN 2;", "exactly one statement, found 2"),
    ("// nothing\n", "exactly one statement, found 0"),
    (":param x = 1;\nRETURN $x;", "write parameters as ':param name => value;'"),
    (":param x => datetime();\nRETURN $x;", "is not a literal"),
    (":use system;\nRETURN 1;", "only ':param' Browser commands"),
])
def test_a_malformed_file_is_refused_with_its_location(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CypherLibraryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cypher_file(write(tmp_path, text))


def test_parameters_bind_with_overrides_and_refuse_unknown_names(tmp_path: Path) -> None:
    parsed = parse_cypher_file(write(tmp_path, GOOD_FILE))
    assert bind_parameters(parsed) == {"customerId": "C1", "limit": 5}
    assert bind_parameters(parsed, ["customerId=12347", "$limit=2"]) == {"customerId": "12347", "limit": 2}
    with pytest.raises(CypherLibraryError, match=r"unknown parameter 'custId' for q.cypher \(it takes: customerId, limit\)"):
        bind_parameters(parsed, ["custId=C2"])
    with pytest.raises(CypherLibraryError, match="write parameters as name=value"):
        bind_parameters(parsed, ["customerId"])
    with pytest.raises(CypherLibraryError, match="bad value for parameter 'limit'"):
        bind_parameters(parsed, ["limit=many"])
    undeclared = parse_cypher_file(write(tmp_path, "RETURN $x AS x;", "u.cypher"))
    with pytest.raises(CypherLibraryError, match="uses parameters without a ':param' line: x"):
        bind_parameters(undeclared)


def test_files_resolve_by_path_or_library_name(tmp_path: Path) -> None:
    assert resolve_file("customer_360") == ROOT / "cypher" / "customer_360.cypher"
    assert resolve_file("customer_360.cypher") == ROOT / "cypher" / "customer_360.cypher"
    path = write(tmp_path, GOOD_FILE)
    assert resolve_file(str(path)) == path
    with pytest.raises(CypherLibraryError, match="no such Cypher file: nope.cypher .library files: .*customer_360"):
        resolve_file("nope.cypher")
    with pytest.raises(CypherLibraryError, match="no such Cypher file"):
        parse_cypher_file(tmp_path / "missing.cypher")


def test_table_and_csv_formatting() -> None:
    result = Result(columns=["name", "n", "share", "tags", "missing", "ok"],
                    rows=[["Alice", 3, 33.3, ["a", "b"], None, True], ["B, \"quoted\"", 10, 0.0, [], None, False]])
    table = format_table(result).splitlines()
    assert table[0] == "name        | n  | share | tags       | missing | ok"
    assert table[2].startswith("Alice       | 3  | 33.3  | [\"a\", \"b\"] |")
    assert table[-1] == "(2 rows)"
    rows = list(csv.reader(io.StringIO(format_csv(result))))
    assert rows == [["name", "n", "share", "tags", "missing", "ok"], ["Alice", "3", "33.3", '["a", "b"]', "", "true"],
                    ['B, "quoted"', "10", "0.0", "[]", "", "false"]]
    assert format_table(Result(columns=["x"], rows=[])).splitlines()[-1] == "(0 rows)"


def test_csv_escapes_what_a_spreadsheet_would_run_as_a_formula() -> None:
    result = Result(columns=["text", "n"], rows=[
        ['=HYPERLINK("http://x","y")', -3.5], ["+44 20 7946 0000", -2], ["-3.5", 0], ["@SUM(A1:A9)", 1.5],
        ["\tcmd", None], ["\r=1", True], ["a=b", 1], [["=x"], {"k": "=y"}], ["x\r=1+1", 2],
    ])
    assert format_csv(result) == (
        "text,n\n"
        "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-3.5\n"
        "'+44 20 7946 0000,-2\n"
        "'-3.5,0\n"
        "'@SUM(A1:A9),1.5\n"
        "'\tcmd,\n"
        "\"'\r=1\",true\n"
        "a=b,1\n"
        "\"[\"\"=x\"\"]\",\"{\"\"k\"\": \"\"=y\"\"}\"\n"
        "\"x\r=1+1\",2\n"  # quoted: a spreadsheet starts no new row (where =1+1 would run) at the \r
    )
    assert list(csv.reader(io.StringIO(format_csv(result), newline="")))[-1] == ["x\r=1+1", "2"]
    assert format_table(result).splitlines()[2].startswith('=HYPERLINK("http://x","y") | -3.5')  # only CSV is escaped


# ------------------------------------------------------------------------------------- command line

def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``customer-graph ARGS`` in-process through ``main()``; return exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["customer-graph", *args])
    code = 0
    try:
        cli_module.main()
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err




def test_cli_runs_a_file_and_prints_a_table(analyst_graph: Settings, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "cypher", "run", "cypher/product_affinities.cypher")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split(" | ")[:3] == ["kind           ", "rank", "sku"]
    assert lines[2].startswith("bought_together | 1    | P1  | White Hanging Heart T-Light Holder")
    assert lines[-1] == "(3 rows)"


def test_cli_param_overrides_the_file_default_and_writes_csv(analyst_graph: Settings, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "carol.csv"
    code, out, err = run_cli(monkeypatch, capsys, "cypher", "run", "customer_360", "--param", "customerId=C3",
                             "-p", "recent=2", "--format", "csv", "--output", str(target))
    assert code == 0, err
    assert out == "" and "1 rows written to" in err
    [row] = list(csv.DictReader(target.open(encoding="utf-8")))
    assert row["customerId"] == "C3" and row["name"] == "Carol White" and row["netValue"] == "300.0"
    assert row["lastOrderAt"] == "2011-06-15T12:50:00Z"
    assert row["recentActivity"] == '["2011-11-20T08:00:00Z message M4 email", "2011-11-01T08:00:00Z message M3 email"]'
    code, out, _ = run_cli(monkeypatch, capsys, "cypher", "run", "product_affinities", "-p", "kind=viewed_together",
                           "-p", "limit=5", "-f", "csv")
    assert code == 0 and out.splitlines()[1].startswith("viewed_together,1,P2,Red Woolly Hottie,0.7")
    code, out, _ = run_cli(monkeypatch, capsys, "cypher", "run", "store_catchment", "-p", "bandsKm=[5]", "-f", "csv")
    assert code == 0 and [line.split(",")[2] for line in out.splitlines()[1:]] == ["0-5 km", "5+ km", "0-5 km", "unknown"]


def test_cli_csv_escapes_a_search_text_that_is_a_formula(analyst_graph: Settings, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    formula = '=HYPERLINK("http://x","y")'
    run_query("CREATE (:Session {sessionId: 'S-CSV'})-[:CONTAINS]->(:Event {eventId: 'S-CSV-E1', type: 'search', "
              "resultsCount: 0, at: datetime('2011-12-01T10:00:00Z')})-[:SEARCHED]->(:SearchQuery {text: $text})",
              {"text": formula})
    try:
        code, out, err = run_cli(monkeypatch, capsys, "cypher", "run", "searches_without_results", "-f", "csv")
    finally:
        run_query("MATCH (s:Session {sessionId: 'S-CSV'})-[:CONTAINS]->(e)-[:SEARCHED]->(q) DETACH DELETE s, e, q")
    assert code == 0, err
    assert '"\'=HYPERLINK(""http://x"",""y"")",1,1,2011-12-01T10:00:00Z' in out.splitlines()
    [row] = [row for row in csv.DictReader(io.StringIO(out)) if "HYPERLINK" in row["search"]]
    assert row["search"] == "'" + formula and row["searches"] == "1"


def test_cli_lists_the_library(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "cypher", "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(list((ROOT / "cypher").glob("*.cypher")))
    customer_360 = next(line for line in lines if line.startswith("customer_360.cypher"))
    assert "What do we know about one customer, across every channel?" in customer_360
    assert customer_360.endswith("($customerId $recent)")


@pytest.mark.parametrize(("args", "message"), [
    (["cypher", "run", "cypher/nope.cypher"], "error: no such Cypher file: cypher/nope.cypher"),
    (["cypher", "run", "customer_360", "--param", "customer=C1"],
     "error: unknown parameter 'customer' for customer_360.cypher (it takes: customerId, recent)"),
    (["cypher", "run", "customer_360", "--param", "recent=lots"], "error: bad value for parameter 'recent'"),
    (["cypher", "run", "customer_360", "--param", "recent"], "error: write parameters as name=value"),
])
def test_cli_errors_are_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                       args: list[str], message: str) -> None:
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_installed_command_prints_no_stack_trace() -> None:
    command = Path(sys.executable).parent / "customer-graph"
    completed = subprocess.run([str(command), "cypher", "run", "missing_query", "--param", "x=1"],
                               capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert completed.returncode == 1
    assert completed.stderr.startswith("error: no such Cypher file: missing_query (library files: ")
    assert "Traceback" not in completed.stderr


def test_code_only_blanks_comments_and_strings_but_keeps_positions() -> None:
    text = "MATCH (n {a: 'x;$y'}) // $z;\nRETURN `we;ird` /* $w */, $v"
    code = code_only(text)
    assert len(code) == len(text) and code.count("\n") == 1
    assert "$" not in code.replace("$v", "") and ";" not in code
    assert code.startswith("MATCH (n {a: '    '})")


def test_cli_timeout_stops_a_long_query(analyst_graph: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    slow = write(tmp_path, "// Question: Slow?\n// Parameters:\n//   $n  how many\n// Example:\n//   1\n"
                           ":param n => 1000000000;\nUNWIND range(1, $n) AS x WITH x WHERE x % 7 = 0 RETURN count(*) AS c;\n")
    code, out, err = run_cli(monkeypatch, capsys, "cypher", "run", str(slow), "--timeout", "0.5")
    assert code == 1 and out == "" and err.startswith("error: ") and "timeout" in err and "Traceback" not in err


def test_an_unreachable_database_fails_fast_with_one_message() -> None:
    command = Path(sys.executable).parent / "customer-graph"
    env = {"PATH": "/usr/bin:/bin", "NEO4J_URI": "bolt://127.0.0.1:9", "NEO4J_PASSWORD": "whatever-password"}
    completed = subprocess.run([str(command), "cypher", "run", "customer_360"], capture_output=True, text=True,
                               timeout=60, cwd=ROOT, env=env, check=False)
    assert completed.returncode == 1
    assert completed.stderr.startswith("error: Neo4j is not reachable") and "retried" not in completed.stderr
