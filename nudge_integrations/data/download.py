"""Public BEIR datasets by name: from a local copy (``$NUDGE_DATA_DIR``), the cache, or
the BEIR archive when online.

``beir_folder("scifact")`` returns a folder with ``corpus.jsonl``, ``queries.jsonl`` and
``qrels/``. It looks, in order, in ``$NUDGE_DATA_DIR/<name>`` (a BEIR folder, or a
``<name>.zip`` / ``<name>.tar.gz`` archive there, unpacked into the cache), then in the
cache (``$NUDGE_CACHE_DIR/beir/<name>``), then downloads the public BEIR archive. Offline
without a local copy it fails at once with one line saying what to set.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from nudge_integrations.core.cache import default_cache_dir
from nudge_integrations.core.errors import NudgeError

#: Where the BEIR benchmark publishes its datasets (one zip per name).
BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"


def _is_beir(folder: Path) -> bool:
    return (folder / "corpus.jsonl").is_file() and (folder / "queries.jsonl").is_file()


def _find_in(root: Path, name: str) -> Path | None:
    """A BEIR folder for ``name``: ``root/name``, ``root/name/name``, or ``root`` itself
    when it is named ``name``."""
    candidates = [root / name, root / name / name]
    if root.name == name:
        candidates.append(root)
    return next((c for c in candidates if _is_beir(c)), None)


def _unpack(archive: Path, into: Path, name: str) -> Path:
    tmp = Path(tempfile.mkdtemp(dir=into.parent))
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        found = _find_in(tmp, name)
        if found is None:
            raise NudgeError(f"{archive} holds no BEIR folder named {name!r}")
        if into.exists():
            shutil.rmtree(into)
        shutil.move(str(found), str(into))
        return into
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def beir_folder(name: str, *, download: bool = True) -> Path:
    """A local BEIR folder for the public dataset ``name`` (e.g. ``"scifact"``)."""
    cache = default_cache_dir() / "beir"
    local = os.environ.get("NUDGE_DATA_DIR")
    if local:
        root = Path(local).expanduser()
        found = _find_in(root, name)
        if found is not None:
            return found
        for suffix in (".zip", ".tar.gz", ".tgz"):
            archive = root / f"{name}{suffix}"
            if archive.is_file():
                cache.mkdir(parents=True, exist_ok=True)
                target = cache / name
                return target if _is_beir(target) else _unpack(archive, target, name)
    target = cache / name
    if _is_beir(target):
        return target
    if not download:
        raise NudgeError(f"{name!r} is not in the cache ({target}) and downloading is off")
    cache.mkdir(parents=True, exist_ok=True)
    url = BEIR_URL.format(name=name)
    archive = cache / f"{name}.zip"
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(archive, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as exc:
        archive.unlink(missing_ok=True)
        raise NudgeError(
            f"cannot download the BEIR dataset {name!r} ({exc}): offline, set NUDGE_DATA_DIR to "
            f"a folder holding {name}/ (corpus.jsonl, queries.jsonl, qrels/) or {name}.zip"
        ) from exc
    try:
        return _unpack(archive, target, name)
    finally:
        archive.unlink(missing_ok=True)
