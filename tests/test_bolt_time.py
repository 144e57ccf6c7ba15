"""The fast UTC datetime encoder (graph_model.bolt_time) sends what the driver would, and the database
reads back what was written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from graph_model import bolt_time
from graph_model.connection import run_query


def _values() -> list[datetime]:
    rng = np.random.default_rng(3)
    seconds = rng.integers(-2_000_000_000, 4_000_000_000, 300)
    micros = rng.integers(0, 1_000_000, 300)
    edges = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
             datetime(1970, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]
    return edges + [datetime.fromtimestamp(int(s), UTC) + timedelta(microseconds=int(m))
                    for s, m in zip(seconds, micros, strict=True)]


def test_the_fast_encoding_is_the_drivers_encoding() -> None:
    from neo4j._codec.hydration.v2 import temporal

    assert bolt_time.install() and bolt_time.installed()
    assert temporal.dehydrate_datetime is not bolt_time._driver_encoder  # the driver now asks ours
    for value in _values():
        ours, theirs = bolt_time.encode_utc(value), bolt_time._driver_encoder(value)
        assert (ours.tag, ours.fields) == (theirs.tag, theirs.fields), value


@pytest.mark.parametrize("value", [datetime(2024, 6, 30, 12, 0, 0, 123_456, tzinfo=UTC),
                                   datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)])
def test_the_database_reads_back_the_instant_written(neo4j_settings, value: datetime) -> None:
    row = run_query("RETURN $t AS t, $t.epochSeconds AS s, $t.microsecond AS us, $t.offsetSeconds AS offset",
                    {"t": value})[0]
    assert row["t"].to_native() == value
    assert (row["s"], row["us"], row["offset"]) == (int((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
                                                        // 1), value.microsecond, 0)


def test_other_datetimes_keep_the_drivers_encoding(neo4j_settings) -> None:
    paris = datetime(2024, 6, 30, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2024, 6, 30, 12, 0)
    row = run_query("RETURN $a AS a, $a.offsetSeconds AS offset, $b AS b", {"a": paris, "b": naive})[0]
    assert row["a"].to_native() == paris and row["offset"] == 7_200
    assert row["b"].to_native() == naive  # a LocalDateTime, as the driver sends it
