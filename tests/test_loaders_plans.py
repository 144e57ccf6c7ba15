"""Every statement of the loaders starts from index seeks: no label or index scans, no joins that scan,
no relationship-index seeks (a scan of every relationship of a type per row)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest

import loaders.writers
from graph_model.connection import session
from graph_model.privacy import consent
from loaders import identity

SCANS = {"AllNodesScan", "NodeByLabelScan", "NodeIndexScan", "NodeHashJoin", "ValueHashJoin",
         "DirectedRelationshipTypeScan", "UndirectedRelationshipTypeScan", "DirectedRelationshipIndexSeek",
         "UndirectedRelationshipIndexSeek", "DirectedRelationshipIndexScan", "UndirectedRelationshipIndexScan",
         "DirectedAllRelationshipsScan", "UndirectedAllRelationshipsScan"}


def _statements() -> Iterator[tuple[str, str]]:
    modules = [importlib.import_module(f"loaders.writers.{m.name}") for m in pkgutil.iter_modules(loaders.writers.__path__)]
    for module in [*modules, identity, consent]:  # consent: the one consent writer the loaders call
        for name, value in vars(module).items():
            if name.isupper() and not name.startswith("_") and isinstance(value, str) and "UNWIND" in value:
                yield f"{module.__name__.rsplit('.', 1)[-1]}.{name}", value


def _operators(plan: dict[str, Any]) -> Iterator[str]:
    yield plan["operatorType"].split("@")[0]
    for child in plan.get("children", []):
        yield from _operators(child)


STATEMENTS = dict(_statements())


def test_every_writer_statement_is_checked() -> None:
    assert {"events.CREATE_EVENTS", "orders.CREATE_ORDERS", "identity.BACKFILL_SESSIONS",
            "conversation.RESPONSES", "conversation.MESSAGE_CHANNELS", "consent.WRITE_CONSENTS",
            "visits.LOCATION_CONSENTS"} <= set(STATEMENTS)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statement_plans_use_index_seeks(graph, name: str) -> None:
    with session() as s:
        plan = s.run("EXPLAIN " + STATEMENTS[name]).consume().plan
    assert not SCANS & set(_operators(plan)), name
