"""Geofencing: raw location pings -> store visits.

A ping belongs to a store when it lies within ``radius_m`` of it (the nearest such store). A customer's
consecutive pings (in time order) at the same store, with no gap longer than ``max_gap_minutes``, form a
stay; a stay of at least ``min_dwell_minutes`` (first to last ping) is a Visit with ``source =
'location_ping'``, ``arrivedAt`` = its first ping, ``dwellMinutes`` = its length. Pings are grouped per
file: a stay split across two drops gives two visits.

The visit id (:func:`visit_id`) is ``ping:`` + 24 hex digits of the keyed hash of customer, store and
arrival: the same pings give the same visit on every load (no duplicates on a re-run), and the id names
no customer (nobody without the deployment's privacy key can tell whose visit it is).

>>> key = b"k" * 32
>>> visit_id("12350", "S1", datetime(2026, 11, 1, 10, 2, tzinfo=UTC), key=key) == visit_id(
...     "12350", "S1", datetime(2026, 11, 1, 10, 2, tzinfo=UTC), key=key)
True
>>> vid = visit_id("12350", "S1", datetime(2026, 11, 1, 10, 2, tzinfo=UTC), key=key)
>>> vid.startswith("ping:"), len(vid), "12350" in vid
(True, 29, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from graph_model.privacy.keys import keyed_hash

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class GeofenceConfig:
    """How pings become visits."""

    radius_m: float = 100.0
    min_dwell_minutes: float = 5.0
    max_gap_minutes: float = 15.0


def nearest_store_within(lat: np.ndarray, lon: np.ndarray, store_lat: np.ndarray, store_lon: np.ndarray,
                         radius_m: float, chunk: int = 200_000) -> np.ndarray:
    """Index of the nearest store within ``radius_m`` of each point, or -1 (haversine distance)."""
    result = np.full(len(lat), -1, dtype=np.int64)
    if len(store_lat) == 0 or len(lat) == 0:
        return result
    slat, slon = np.radians(store_lat)[None, :], np.radians(store_lon)[None, :]
    for start in range(0, len(lat), chunk):
        plat = np.radians(lat[start:start + chunk])[:, None]
        plon = np.radians(lon[start:start + chunk])[:, None]
        a = np.sin((slat - plat) / 2) ** 2 + np.cos(plat) * np.cos(slat) * np.sin((slon - plon) / 2) ** 2
        dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
        best = dist.argmin(axis=1)
        close = dist[np.arange(len(best)), best] <= radius_m
        result[start:start + chunk] = np.where(close, best, -1)
    return result


def visit_id(customer_id: str, store_id: str, arrived: datetime, *, key: bytes | None = None) -> str:
    """The id of the visit of ``customer_id`` to ``store_id`` arriving at ``arrived``: stable, naming no one."""
    digest = keyed_hash("visit", f"{customer_id}|{store_id}|{arrived.strftime('%Y%m%dT%H%M%S')}", key=key)
    return "ping:" + digest[:24]


def visits_from_pings(pings: list[dict[str, Any]], stores: list[tuple[str, float, float]],
                      config: GeofenceConfig, *, key: bytes | None = None) -> list[dict[str, Any]]:
    """Visits (rows for the visit writer, plus ``pings``: how many pings made each) from validated pings.

    ``key``: the privacy key the visit ids are hashed with (default: the deployment's).
    """
    if not pings or not stores:
        return []
    customers = np.array([p["customerId"] for p in pings], dtype=object)
    seconds = np.array([p["at"].timestamp() for p in pings])
    lat = np.array([p["latitude"] for p in pings])
    lon = np.array([p["longitude"] for p in pings])
    store = nearest_store_within(lat, lon, np.array([s[1] for s in stores]), np.array([s[2] for s in stores]),
                                 config.radius_m)
    order = np.lexsort((seconds, customers))
    customers, seconds, store = customers[order], seconds[order], store[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = ((customers[1:] != customers[:-1]) | (store[1:] != store[:-1])
                  | (seconds[1:] - seconds[:-1] > config.max_gap_minutes * 60))
    run = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.append(first[1:] - 1, len(order) - 1)
    dwell = (seconds[last] - seconds[first]) / 60.0
    keep = (store[first] >= 0) & (dwell >= config.min_dwell_minutes)
    counts = np.bincount(run, minlength=len(first))
    visits = []
    for i in np.flatnonzero(keep):
        store_id = stores[store[first[i]]][0]
        arrived = datetime.fromtimestamp(float(seconds[first[i]]), UTC)
        visits.append({
            "visitId": visit_id(str(customers[first[i]]), store_id, arrived, key=key),
            "customerId": customers[first[i]], "storeId": store_id, "arrivedAt": arrived,
            "dwellMinutes": round(float(dwell[i]), 1), "source": "location_ping", "zones": None,
            "pings": int(counts[i]),
        })
    return visits
