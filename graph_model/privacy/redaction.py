"""Personal fields out of reject files: redaction when a row is rejected, purge on erasure, retention.

A rejected row is kept so an operator can see why it failed, not what it said about a person. By
default (``CUSTOMER_GRAPH_REJECTS_REDACT`` unset or ``1``) every row is redacted before it is written:

* identifiers (customer ids, email hashes, identifier values, cookies, device ids, loyalty cards) are
  replaced by a token ``h:<keyed hash>``: the same value gives the same token (rows stay comparable),
  nobody without the privacy key can test a guess, and erasure finds the person's lines by their tokens;
* free text and locations (names, home city and coordinates, ping coordinates, reply text, search
  text, page URLs, devices) are replaced by ``"[redacted]"``;
* a line that could not be parsed is replaced by its length: it may hold anything;
* the same values are replaced in the reject's message.

>>> key = b"k" * 32
>>> row = redact_row({"customerId": "12350", "name": "Ann Lee", "sku": "85123A"}, key=key)
>>> row["sku"], row["name"], row["customerId"] == value_token("12350", key=key)
('85123A', '[redacted]', True)
>>> redact_message("customerId: no Customer '12350'", {"customerId": "12350"}, key=key).startswith(
...     "customerId: no Customer 'h:")
True
>>> redact_message("customerId: no Customer '12350'", {"customerId": " 12350"}, key=key).startswith(
...     "customerId: no Customer 'h:")  # the message quotes the value as read, stripped
True
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from graph_model.model.customers import normal_key
from graph_model.privacy.keys import keyed_hash

ENV_REDACT = "CUSTOMER_GRAPH_REJECTS_REDACT"
ENV_RUNS_DIR = "CUSTOMER_GRAPH_RUNS_DIR"
REDACTED = "[redacted]"
REJECTS_FILE = "rejects.jsonl"

# lower-cased field names, so the raw columns of adapters (``CustomerID``) match too
IDENTIFIER_FIELDS = frozenset({"customerid", "emailhash", "email", "value", "cookie", "deviceid", "loyaltycard",
                               "identitykey", "userid", "anonymousid", "previousid", "resolvedcustomerid"})
FREE_TEXT_FIELDS = frozenset({"name", "city", "homelatitude", "homelongitude", "latitude", "longitude", "lat",
                              "lon", "text", "query", "searchtext", "page", "device", "phone", "address",
                              "ip", "useragent", "properties", "subject"})
_FLOAT_ID = re.compile(r"^(\d+)\.0$")


def redaction_enabled(env: Mapping[str, str] | None = None) -> bool:
    """True unless ``CUSTOMER_GRAPH_REJECTS_REDACT=0`` (keep raw rows: development only)."""
    env = os.environ if env is None else env
    return env.get(ENV_REDACT, "1") != "0"


def _canonical(value: Any) -> str:
    text = normal_key(str(value))
    match = _FLOAT_ID.match(text)  # CustomerID 12350.0 in a spreadsheet export is customer 12350
    return match.group(1) if match else text


def value_token(value: Any, *, key: bytes | None = None) -> str:
    """The token an identifier value is replaced by (``h:`` + 32 hex digits of its keyed hash)."""
    return "h:" + keyed_hash("reject", _canonical(value), key=key)[:32]


def _redact_value(name: str, value: Any, key: bytes | None) -> Any:
    lowered = name.lower()
    if value is None or value == "":
        return value
    if lowered in IDENTIFIER_FIELDS:
        return value_token(value, key=key)
    if lowered in FREE_TEXT_FIELDS:
        return REDACTED
    if lowered == "identities" and isinstance(value, list):
        return [value_token(v.get("value") if isinstance(v, dict) else v, key=key) for v in value]
    return value


def redact_row(row: Any, *, key: bytes | None = None) -> Any:
    """``row`` with its personal fields replaced (see the module docstring)."""
    if row is None:
        return None
    if isinstance(row, Mapping):
        return {name: _redact_value(str(name), value, key) for name, value in row.items()}
    return f"[unreadable line of {len(str(row))} characters, redacted]"


def _personal_values(row: Any) -> list[tuple[str, bool]]:
    """(value, is identifier) for every personal string value of ``row``, longest first."""
    found: list[tuple[str, bool]] = []
    if isinstance(row, Mapping):
        for name, value in row.items():
            lowered = str(name).lower()
            if value in (None, "") or isinstance(value, (dict, list)):
                continue
            if lowered in IDENTIFIER_FIELDS or lowered in FREE_TEXT_FIELDS:
                identifier = lowered in IDENTIFIER_FIELDS  # as written, and as a message quotes it: read as a key
                found.extend({(str(value), identifier), (normal_key(str(value)), identifier)})
    return sorted(found, key=lambda item: -len(item[0]))


def redact_message(message: str, row: Any, *, key: bytes | None = None) -> str:
    """``message`` with the personal values of ``row`` replaced as in :func:`redact_row`."""
    if not isinstance(row, Mapping):
        return message if len(message) < 200 else message[:200] + "…"
    for value, identifier in _personal_values(row):
        if len(value) >= 2 and value in message:
            message = message.replace(value, value_token(value, key=key) if identifier else REDACTED)
    return message


def runs_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where load runs keep their reports: ``CUSTOMER_GRAPH_RUNS_DIR``, else ``<project>/runs``."""
    from graph_model.settings import project_root

    env = os.environ if env is None else env
    return Path(env.get(ENV_RUNS_DIR) or project_root() / "runs")


def reject_files(roots: Iterable[Path]) -> list[Path]:
    """Every ``rejects.jsonl`` under ``roots``."""
    files: list[Path] = []
    for root in roots:
        if root.is_file() and root.name == REJECTS_FILE:
            files.append(root)
        elif root.is_dir():  # os.walk skips a folder deleted while it walks (pathlib's rglob raises)
            files.extend(sorted(Path(folder) / REJECTS_FILE for folder, _, names in os.walk(root)
                                if REJECTS_FILE in names))
    return files


REJECTS_LOCK = ".rejects.lock"


class RejectsLock:
    """The lock a run's rejects file shares with its purges: an advisory ``flock`` on ``<folder>/.rejects.lock``.

    A run writes each reject line under it (and opens the file again when a purge replaced it); a purge reads,
    filters and replaces the file under it. So an erasure from another process while a run writes neither loses
    the run's later lines (until stop 40 they went to the replaced file) nor misses its earlier ones."""

    def __init__(self, folder: Path) -> None:
        self._fd = os.open(folder / REJECTS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> RejectsLock:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def _rewrite_without(path: Path, tokens: frozenset[str]) -> int:
    """Rewrite ``path`` without the lines holding any of ``tokens`` (atomically, mode 0600, under its folder's
    :class:`RejectsLock`)."""
    lock = RejectsLock(path.parent)
    try:
        with lock:
            with path.open(encoding="utf-8") as handle:
                lines = handle.readlines()
            kept = [line for line in lines if not any(token in line for token in tokens)]
            removed = len(lines) - len(kept)
            if removed:
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rejects-", suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.writelines(kept)
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
    finally:
        lock.close()
    return removed


def purge_person(values: Iterable[str], roots: Iterable[Path], *, key: bytes | None = None) -> int:
    """Remove every reject line that carries one of a person's identifier ``values`` (customer id, email
    hash, identifier values), redacted or raw; returns the number of lines removed."""
    plain = {_canonical(v) for v in values if v}
    tokens = frozenset({value_token(v, key=key) for v in plain} | {f'"{v}"' for v in plain})
    return sum(_rewrite_without(path, tokens) for path in reject_files(roots)) if plain else 0


#: how long reject files are kept unless told otherwise (``customer-graph up``, ``privacy retention``)
REJECTS_KEPT = "30d"


def reject_files_older_than(seconds: float, roots: Iterable[Path], *, now: float | None = None) -> list[Path]:
    """The reject files under ``roots`` last written more than ``seconds`` ago."""
    limit = (now if now is not None else time.time()) - seconds
    old = []
    for path in reject_files(roots):
        try:
            if path.stat().st_mtime < limit:
                old.append(path)
        except FileNotFoundError:  # deleted since it was listed: another purge (`up`, the retention service)
            continue
    return old


def purge_older_than(seconds: float, roots: Iterable[Path], *, now: float | None = None) -> list[Path]:
    """Delete the reject files last written more than ``seconds`` ago; returns the paths this call deleted
    (one another process deleted meanwhile is not an error, nor counted)."""
    deleted = []
    for path in reject_files_older_than(seconds, roots, now=now):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted.append(path)
    return deleted


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m`` or ``45s`` in seconds; ``ValueError`` otherwise.

    >>> parse_age("30d"), parse_age("12h")
    (2592000.0, 43200.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms])\s*", text)
    if not match:
        raise ValueError(f"an age such as 30d, 12h, 90m or 45s, not {text!r}")
    return float(match.group(1)) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[match.group(2)]
