"""A fingerprint of the whole graph: node and relationship counts and one checksum over every property.

Two graphs with the same fingerprint hold the same nodes (by label and natural key), the same
relationships between them and the same property values. Used to prove that loads are idempotent and
crash-safe; meant for test- and demo-sized graphs (it reads everything).

The deployment's ``(:PrivacyKey)`` node is left out: it is no loaded data, just the fingerprint of the
privacy key with the time it was first used (see :mod:`graph_model.privacy.tombstone`). Audit entries count,
but their id and time (new on every run) are left out by default (:data:`PER_RUN`), so a reload or a rerun
after a crash that audits the same changes has the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graph_model.connection import session
from graph_model.model import NODE_CLASSES

NODE_KEYS: dict[str, str] = {
    cls.__label__: name
    for cls in NODE_CLASSES
    for name, prop in cls.defined_properties(aliases=False, rels=False).items()
    if prop.unique_index
}

PER_RUN: dict[str, tuple[str, ...]] = {"AuditEntry": ("entryId", "at")}


@dataclass(frozen=True)
class Fingerprint:
    """Counts per label and relationship type, and a SHA-256 over all keys and properties."""

    nodes: dict[str, int]
    relationships: dict[str, int]
    checksum: str


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if hasattr(value, "srid"):
        return [value.srid, *[round(float(c), 9) for c in value]]
    if isinstance(value, float):
        return repr(value)
    return value


def _node_key(labels: list[str], props: dict[str, Any]) -> str:
    label = sorted(labels)[0] if labels else ""
    key = NODE_KEYS.get(label)
    return f"{label}:{props[key] if key and key in props else json.dumps(_plain(props), sort_keys=True)}"


def graph_lines(ignore: Mapping[str, Iterable[str]] | None = PER_RUN) -> tuple[Counter[str], Counter[str], list[str]]:
    """Node counts per label, relationship counts per type and one sorted line per node and relationship.

    ``ignore``: properties left out per label (values that differ on every run, e.g. an audit entry's id and
    time); a node whose key is left out is named by its remaining properties.
    """
    dropped = {label: set(names) for label, names in (ignore or {}).items()}
    keys: dict[str, str] = {}
    nodes: Counter[str] = Counter()
    rels: Counter[str] = Counter()
    lines: list[str] = []
    with session() as s:
        for record in s.run("MATCH (n) WHERE NOT n:PrivacyKey "
                            "RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props"):
            props = record["props"]
            for label in record["labels"]:
                for name in dropped.get(label, ()):
                    props.pop(name, None)
            key = _node_key(record["labels"], props)
            keys[record["id"]] = key
            nodes.update(record["labels"])
            lines.append(json.dumps(["n", sorted(record["labels"]), key, _plain(props)], sort_keys=True))
        for record in s.run("MATCH (a)-[r]->(b) RETURN elementId(a) AS a, type(r) AS t, elementId(b) AS b, "
                            "properties(r) AS props"):
            rels[record["t"]] += 1
            lines.append(json.dumps(["r", keys[record["a"]], record["t"], keys[record["b"]], _plain(record["props"])],
                                    sort_keys=True))
    return nodes, rels, sorted(lines)


def graph_fingerprint(ignore: Mapping[str, Iterable[str]] | None = PER_RUN) -> Fingerprint:
    """The fingerprint of the configured database's graph (``ignore``: see :func:`graph_lines`)."""
    nodes, rels, lines = graph_lines(ignore)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return Fingerprint(dict(sorted(nodes.items())), dict(sorted(rels.items())), digest.hexdigest())
