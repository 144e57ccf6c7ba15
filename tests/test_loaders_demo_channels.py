"""The demo's synthetic multi-channel layer lands on real Online Retail customers and products, labelled.

A slice of the real history (its first 20 days) is loaded, then a small layer drawn from that same slice:
every row must load (no reject), every person it names must be a real customer of the history, every
product a real product, and every id it invents must say it is synthetic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graph_model.connection import run_query
from graph_model.settings import Settings
from loaders.demo_channels import SYNTHETIC, LayerConfig, load_layer, write_layer
from loaders.online_retail import default_csv, load_online_retail, read_source
from loaders.pipeline import LoadOptions

SMALL = LayerConfig(customers=80, days=4, session_rate=0.6)


@pytest.fixture(scope="module")
def history_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = read_source(default_csv())
    first_days = sorted(source["day"].unique())[:20]
    columns = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
               "Country"]
    path = tmp_path_factory.mktemp("history") / "slice.csv"
    source[source["day"].isin(set(first_days))][columns].to_csv(path, index=False)
    return path


def test_the_layer_is_the_same_for_the_same_arguments(history_slice: Path, tmp_path: Path) -> None:
    write_layer(tmp_path / "a", SMALL, history_slice)
    write_layer(tmp_path / "b", SMALL, history_slice)
    for file in sorted((tmp_path / "a").iterdir()):
        assert file.read_bytes() == (tmp_path / "b" / file.name).read_bytes(), file.name


def test_the_layer_loads_onto_real_customers_and_products_labelled_synthetic(
        graph: Settings, history_slice: Path, tmp_path: Path) -> None:
    load_online_retail(history_slice, options=LoadOptions(report_dir=tmp_path / "history", progress=False))
    before = run_query("MATCH (c:Customer) WITH count(c) AS customers MATCH (p:Product) "
                       "RETURN customers, count(p) AS products")[0]
    report = load_layer(SMALL, LoadOptions(report_dir=tmp_path / "layer", progress=False), history_slice)

    rejected = {name: stats["rejected"] for name, stats in report["entities"].items() if stats.get("rejected")}
    assert rejected == {} or set(rejected) <= {"pings"}, rejected  # pings without location consent only
    after = run_query("MATCH (c:Customer) WITH count(c) AS customers MATCH (p:Product) "
                      "RETURN customers, count(p) AS products")[0]
    assert after == before  # nobody and nothing invented: real people, real products
    real = set(read_source(history_slice)["customerId"].dropna())
    layered = run_query("MATCH (c:Customer)-[:HAD_SESSION]->(s:Session) RETURN DISTINCT c.customerId AS id, "
                        "collect(s.sessionId) AS sessions")
    assert layered and {row["id"] for row in layered} <= real
    assert all(s.startswith(SYNTHETIC) for row in layered for s in row["sessions"])
    channels = run_query("""
        MATCH (c:Customer)-[:HAD_SESSION]->(:Session)
        WITH DISTINCT c
        OPTIONAL MATCH (c)-[:MADE_VISIT]->(v:Visit)
        OPTIONAL MATCH (m:Message)-[:SENT_TO]->(c)
        OPTIONAL MATCH (c)-[:PLACED]->(o:Order)
        RETURN count(DISTINCT v) AS visits, count(DISTINCT m) AS messages,
               count(DISTINCT CASE WHEN NOT o.orderId STARTS WITH $syn THEN o END) AS realOrders""",
                         {"syn": SYNTHETIC})[0]
    assert channels["visits"] > 0 and channels["messages"] > 0 and channels["realOrders"] > 0
    chained = run_query("MATCH (:Event)-[n:NEXT]->(e:Event) WHERE e.eventId STARTS WITH $syn RETURN count(n) AS n",
                        {"syn": SYNTHETIC})[0]["n"]
    assert chained > 0
    names = run_query("MATCH (k:Campaign) RETURN collect(k.name) AS names")[0]["names"]
    assert names and all(name.endswith("(synthetic)") for name in names)


@pytest.mark.parametrize(("sessions", "expected"), [(0, True), (12, False)])
def test_up_adds_the_layer_only_to_a_graph_without_sessions(monkeypatch: pytest.MonkeyPatch, sessions: int,
                                                            expected: bool) -> None:
    from click.testing import CliRunner

    import customer_graph.up as up_module
    from customer_graph.cli import cli

    steps: list[list[str]] = []
    monkeypatch.setattr(up_module, "ensure_running", lambda settings: None)
    monkeypatch.setattr(up_module, "apply_schema", lambda: [])
    monkeypatch.setattr(up_module, "_orders_loaded", lambda: 1)
    monkeypatch.setattr(up_module, "_sessions_loaded", lambda: sessions)
    monkeypatch.setattr(up_module, "_run_step", lambda ctx, title, args: steps.append(args))
    result = CliRunner().invoke(cli, ["up", "--no-serve", "--skip-algorithms"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (["load-demo-channels"] in steps) is expected
