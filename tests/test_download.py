"""Public BEIR datasets by name: a local copy through NUDGE_DATA_DIR (folder or archive),
the cache, and a one-line error offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data import download
from nudge_integrations.data.beir import load_beir

from .conftest import SCIFACT_BEIR


def test_archive_in_nudge_data_dir_is_unpacked_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not SCIFACT_BEIR.is_file():
        pytest.skip(f"{SCIFACT_BEIR} not found (../shared is absent)")
    local = tmp_path / "data"
    local.mkdir()
    shutil.copy(SCIFACT_BEIR, local / "scifact.tar.gz")
    monkeypatch.setenv("NUDGE_DATA_DIR", str(local))
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    folder = download.beir_folder("scifact")
    assert folder == tmp_path / "cache" / "beir" / "scifact"
    assert len(load_beir(folder).corpus) == 5183
    # a second call reuses the unpacked copy, and a plain folder there is used as is
    assert download.beir_folder("scifact") == folder
    monkeypatch.setenv("NUDGE_DATA_DIR", str(tmp_path / "cache" / "beir"))
    assert download.beir_folder("scifact") == folder


def test_offline_without_a_local_copy_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUDGE_DATA_DIR", raising=False)
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path))
    # a local port nothing listens on: the download fails at once, as offline
    monkeypatch.setattr(download, "BEIR_URL", "http://127.0.0.1:9/{name}.zip")
    with pytest.raises(NudgeError, match="set NUDGE_DATA_DIR to a folder holding nfcorpus/"):
        download.beir_folder("nfcorpus")
    assert not list(tmp_path.rglob("*.zip"))  # no partial file left behind
    with pytest.raises(NudgeError, match="downloading is off"):
        download.beir_folder("nfcorpus", download=False)
