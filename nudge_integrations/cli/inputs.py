"""What the command line reads: QA data (a BEIR folder or a QA JSON) and vectors (given
``.npy`` files with their ids, or embedded by the offline MiniLM model, cached)."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import (
    NonFiniteError,
    NudgeError,
    ShapeError,
    UnknownIdError,
    ZeroVectorError,
)
from nudge_integrations.data.beir import load_beir
from nudge_integrations.data.dataset import QADataset

TABLES = (".jsonl", ".csv", ".tsv", ".parquet")


def load_qa(path: str | Path, queries: Path | None = None, qrels: Path | None = None) -> QADataset:
    """A BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/``; every split pooled),
    a QA JSON in LlamaIndex's ``EmbeddingQAFinetuneDataset`` schema, or a corpus file
    (jsonl/csv/tsv/parquet, BEIR's field names) with ``queries`` and ``qrels`` files."""
    p = Path(path)
    if not p.exists():
        raise NudgeError(f"{p} does not exist: pass a BEIR folder or a QA dataset JSON file")
    if (queries is None) != (qrels is None) or (queries is not None and p.is_dir()):
        raise NudgeError(
            "--queries and --qrels go together, with a corpus file as DATA (a BEIR folder or "
            "a QA JSON already holds its queries and judgements)"
        )
    if p.is_dir():
        return load_beir(p)
    if p.suffix.lower() in TABLES:
        if queries is None or qrels is None:
            raise NudgeError(
                f"{p} is a corpus file: pass --queries FILE and --qrels FILE with it (BEIR "
                "fields: _id, title, text; query-id, corpus-id, score)"
            )
        from nudge_integrations.data.hf import load_files

        return load_files(p, queries, qrels)
    if p.suffix.lower() == ".json":
        return QADataset.from_json(p)
    raise NudgeError(
        f"{p}: unknown format {p.suffix or '(no suffix)'!r}; pass a BEIR folder (corpus.jsonl, "
        "queries.jsonl, qrels/*.tsv), a QA dataset .json (queries, corpus, relevant_docs), or "
        "a corpus .jsonl/.csv/.tsv/.parquet with --queries and --qrels"
    )


def _ids(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise NudgeError(f"{path} does not exist: pass the JSON list of ids of the {what} rows")
    try:
        ids = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise NudgeError(f"{path} is not valid JSON ({exc}): it must be a list of ids") from exc
    if not isinstance(ids, list):
        raise NudgeError(f"{path} must hold a JSON list of ids, not a {type(ids).__name__}")
    return [str(i) for i in ids]


def _matrix(path: Path, what: str) -> NDArray[np.float32]:
    if not path.is_file():
        raise NudgeError(f"{path} does not exist: pass the .npy file of the {what} vectors")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError):
        raise NudgeError(
            f"{path} is not a .npy array: save the {what} vectors with numpy.save"
        ) from None
    if arr.ndim != 2:
        raise ShapeError(f"{path} holds a {arr.ndim}-d array; {what} vectors must be 2-d (n, d)")
    return np.asarray(arr, dtype=np.float32)


_CHUNK = 65536


@dataclass
class Vectors:
    """Rows of vectors by id (``path``: the .npy file they were read from, if any)."""

    ids: list[str]
    matrix: NDArray[np.float32]
    path: Path | None = None

    def check(self, wanted: list[str], what: str, *, dim: int | None = None) -> None:
        """Raise, naming the file, its row and the id, if a row of ``wanted`` holds NaN or
        infinity or is all zeros, or if the vectors are not ``dim``-d."""
        where = f"{self.path}" if self.path is not None else f"the embedded {what} vectors"
        if dim is not None and self.matrix.shape[1] != dim:
            raise ShapeError(
                f"{where} holds {self.matrix.shape[1]}-d {what} vectors but the corpus "
                f"vectors are {dim}-d: embed both with the same model"
            )
        index = {i: n for n, i in enumerate(self.ids)}
        rows = np.array(sorted({index[i] for i in wanted if i in index}), dtype=np.int64)
        for start in range(0, rows.size, _CHUNK):
            part = rows[start : start + _CHUNK]
            block = np.asarray(self.matrix[part], dtype=np.float32)
            bad_finite = ~np.isfinite(block).all(axis=1)
            bad_zero = ~block.any(axis=1)
            if bad_finite.any():
                row = int(part[np.flatnonzero(bad_finite)[0]])
                raise NonFiniteError(
                    f"{where} row {row} ({what} id {self.ids[row]!r}) contains NaN or "
                    "infinity: re-embed that item or drop it"
                )
            if bad_zero.any():
                row = int(part[np.flatnonzero(bad_zero)[0]])
                raise ZeroVectorError(
                    f"{where} row {row} ({what} id {self.ids[row]!r}) is an all-zero "
                    "vector, which has no direction: re-embed that item or drop it"
                )

    def rows(self, wanted: list[str], what: str) -> NDArray[np.float32]:
        row = {i: n for n, i in enumerate(self.ids)}
        missing = [i for i in wanted if i not in row]
        if missing:
            raise UnknownIdError(
                f"{len(missing)} {what} ids have no vector (e.g. {missing[0]!r}): the ids file "
                "must list every id of the QA data, in the order of the .npy rows"
            )
        return self.matrix[[row[i] for i in wanted]]


def given_vectors(npy: Path, ids_path: Path, what: str) -> Vectors:
    matrix = _matrix(npy, what)
    ids = _ids(ids_path, what)
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise NudgeError(f"{ids_path} lists the id {i!r} twice: one id per row, each once")
        seen.add(i)
    if len(ids) != matrix.shape[0]:
        raise ShapeError(
            f"{npy} has {matrix.shape[0]} rows but {ids_path} lists {len(ids)} ids: one id per row"
        )
    return Vectors(ids, matrix, npy)


def embedded(
    texts: dict[str, str], *, cache_dir: Path | None, progress: bool, what: str = "texts"
) -> Vectors:
    """Texts embedded by the offline all-MiniLM-L6-v2 (``demo`` extra), cached on disk;
    ``progress``: a bar on a terminal, else progress lines (``what`` names the texts)."""
    from nudge_integrations.embedding import default_cache_dir, embed_texts, load_minilm

    if not progress or not sys.stderr.isatty():  # transformers' bar while loading weights
        with contextlib.suppress(ImportError):
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model: Any = load_minilm("cpu")
    ids = list(texts)
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    matrix = embed_texts(
        [texts[i] for i in ids], model, cache_dir=cache, progress=progress, what=what
    )
    return Vectors(ids, matrix)
