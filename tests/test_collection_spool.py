"""The spool's group commit and its two connections (no database needed)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from api.collection.spool import Spool


def _messages(start: int, n: int) -> list[dict[str, str]]:
    return [{"messageId": f"m{i}", "type": "track"} for i in range(start, start + n)]


def test_concurrent_appends_each_count_their_new_messages_and_duplicates_are_ignored(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    # 40 appends of 50 messages from 8 threads; each batch overlaps the next by half: 1,025 distinct ids
    with ThreadPoolExecutor(8) as pool:
        added = list(pool.map(lambda k: spool.append(_messages(k * 25, 50)), range(40)))
    assert sum(added) == 1_025 == spool.pending_count
    pending = spool.pending(2_000)
    seqs = [seq for seq, _ in pending]
    assert len(seqs) == 1_025 and seqs == sorted(set(seqs))
    assert len({message["messageId"] for _, message in pending}) == 1_025
    spool.close()


def test_done_marks_a_prefix_while_appends_go_on_and_a_reopened_spool_finds_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    spool.append(_messages(0, 100))
    first = spool.pending(60)
    stop = threading.Event()

    def keep_appending() -> None:
        n = 100
        while not stop.is_set():
            spool.append(_messages(n, 10))
            n += 10

    appender = threading.Thread(target=keep_appending)
    appender.start()
    spool.done(first[-1][0])
    stop.set()
    appender.join()
    rest = spool.pending(100_000)
    assert rest[0][0] == first[-1][0] + 1 and len(rest) == spool.pending_count
    assert spool.append(_messages(0, 60)) == 0  # written ones are still duplicates
    spool.close()
    reopened = Spool(tmp_path / "spool.sqlite")
    assert reopened.pending_count == len(rest)
    reopened.close()


def test_an_append_cancelled_before_its_group_stores_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    with spool._writing:  # the appender takes `first` and waits for the write lock: `second` queues behind it
        first = spool.submit(_messages(0, 1))
        deadline = time.monotonic() + 10
        while not first.running() and time.monotonic() < deadline:
            time.sleep(0.001)
        second = spool.submit(_messages(1, 1))
        assert second.cancel()  # the client went away before its group started
    assert first.result(10) == 1 and second.cancelled()
    assert spool.pending_count == 1 and [m["messageId"] for _, m in spool.pending(10)] == ["m0"]
    spool.close()
