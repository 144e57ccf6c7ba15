"""The local server's class-data-sharing archive: written by a first JVM at its exit, checked, then mapped by every
start (graph_model/local_server/class_archive.py). A real ``java``; no Neo4j needed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from graph_model.local_server import class_archive
from graph_model.local_server.distribution import java_executable


@pytest.fixture
def java() -> str:
    return java_executable()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _write_candidate(java: str, options: list[str], classpath: str) -> None:
    """Run a JVM with the start's options, as the server would, and let it exit (it writes the archive then)."""
    subprocess.run([java, *options, "-cp", classpath, "-version"], capture_output=True, check=True, timeout=120)


def test_a_first_start_writes_a_candidate_the_next_promotes_and_every_later_start_maps(tmp_path: Path,
                                                                                         java: str) -> None:
    classpath = str(tmp_path / "lib")
    options, candidate = class_archive.archive_options(java, tmp_path, classpath)
    assert candidate is not None and candidate.parent == tmp_path and candidate.name.startswith(".server-classes-")
    assert options == [f"-XX:ArchiveClassesAtExit={candidate}"]
    _write_candidate(java, options, classpath)
    class_archive.record_writer(candidate, _dead_pid())  # its JVM is gone: the archive is complete

    options, again = class_archive.archive_options(java, tmp_path, classpath)
    archive = class_archive.archive_path(java, tmp_path)
    assert again is None and options == [f"-XX:SharedArchiveFile={archive}"]
    assert archive.exists() and not candidate.exists() and not list(tmp_path.glob(".*.pid"))
    mapped = subprocess.run([java, "-Xshare:on", *options, "-cp", classpath, "-version"], capture_output=True,
                            check=False)
    assert mapped.returncode == 0, mapped.stderr
    assert class_archive.archive_options(java, tmp_path, classpath) == (options, None)


def test_a_candidate_still_being_written_is_left_alone_and_no_second_one_is_started(tmp_path: Path,
                                                                                      java: str) -> None:
    _, candidate = class_archive.archive_options(java, tmp_path, str(tmp_path))
    assert candidate is not None
    candidate.write_bytes(b"half written")
    class_archive.record_writer(candidate, os.getpid())  # a live JVM, still writing
    assert class_archive.archive_options(java, tmp_path, str(tmp_path)) == ([], None)
    assert candidate.exists()


def test_a_candidate_cut_short_is_deleted_and_written_again(tmp_path: Path, java: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A JVM killed while writing leaves a partial file: a JVM dies mapping it, so it never comes into place."""
    monkeypatch.chdir(tmp_path)
    classpath = str(tmp_path / "lib")
    options, candidate = class_archive.archive_options(java, tmp_path, classpath)
    assert candidate is not None
    _write_candidate(java, options, classpath)
    candidate.write_bytes(candidate.read_bytes()[: candidate.stat().st_size // 2])
    class_archive.record_writer(candidate, _dead_pid())
    options, second = class_archive.archive_options(java, tmp_path, classpath)
    assert second is not None and second != candidate and options == [f"-XX:ArchiveClassesAtExit={second}"]
    assert not candidate.exists() and not class_archive.archive_path(java, tmp_path).exists()
    assert not list(tmp_path.glob("hs_err*"))  # the check's crash leaves no report behind
