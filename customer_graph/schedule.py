"""Running a job again and again in a long-lived process: ``customer-graph privacy retention --every 24h``.

One run at start, then one every ``every`` seconds counted from the start of the previous run (a run that
takes longer than the interval is followed by the next at once). A run that fails with a project error (the
database unavailable, a query refused) is reported and tried again after ``retry`` seconds, so a database
restart or a network cut costs one late run, never the process. ``stop`` (an event set by SIGTERM or
Ctrl-C) ends the loop between runs: a run in progress finishes first, so what it changed is recorded.

>>> import threading
>>> from graph_model.errors import DatabaseUnavailable
>>> stop, seen = threading.Event(), []
>>> def job() -> int:
...     seen.append(len(seen))
...     if len(seen) == 2:
...         raise DatabaseUnavailable("the database is restarting")
...     if len(seen) == 4:
...         stop.set()
...     return len(seen)
>>> run_every(job, every=3600, retry=0.0, stop=stop, on_result=lambda n: print("run", n),
...           on_error=lambda e: print("failed:", e), sleep=lambda s: print(f"wait {s:.0f} s"))
run 1
wait 3600 s
failed: the database is restarting
wait 0 s
run 3
wait 3600 s
run 4
4
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from graph_model.errors import ConfigurationError, CustomerGraphError

T = TypeVar("T")


def run_every(job: Callable[[], T], *, every: float, retry: float, stop: threading.Event,
              on_result: Callable[[T], None], on_error: Callable[[CustomerGraphError], None],
              sleep: Callable[[float], None] | None = None) -> int:
    """Run ``job`` now and then every ``every`` seconds until ``stop`` is set; the number of runs started.

    ``sleep`` waits between runs (default: wait on ``stop``, so setting it ends the wait at once). A
    :class:`ConfigurationError` ends the loop (a bad setting does not mend itself); other project errors
    are passed to ``on_error`` and the job is tried again after ``retry`` seconds."""
    wait = sleep if sleep is not None else stop.wait
    runs = 0
    while not stop.is_set():
        started = time.monotonic()
        runs += 1
        try:
            result = job()
        except ConfigurationError:
            raise
        except CustomerGraphError as error:
            on_error(error)
            pause = retry
        else:
            on_result(result)
            pause = max(0.0, every - (time.monotonic() - started))
        if stop.is_set():
            break
        wait(pause)
    return runs
