"""Loads run with few garbage collections (``loaders.garbage_collection``), and give the settings back."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from graph_model.settings import Settings, project_root
from loaders import pipeline
from loaders.pipeline import LoadOptions, load_drop


def test_a_drop_loads_with_few_collections_and_restores_the_thresholds(graph: Settings, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []
    load_export = pipeline.Loader.load_export

    def spy(self: pipeline.Loader, export: object) -> None:
        seen.append(gc.get_threshold())
        load_export(self, export)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.Loader, "load_export", spy)
    before = gc.get_threshold()
    load_drop(project_root() / "data" / "examples" / "nightly-drop", LoadOptions(report_dir=tmp_path, progress=False))
    assert seen and all(threshold[0] == 100_000 for threshold in seen)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
