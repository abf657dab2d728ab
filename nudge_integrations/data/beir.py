"""Load a BEIR folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv (graded)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.records import RowSource, dataset_from_rows


class _Lines:
    """The file and line of each row a reader has yielded (for ``path:line`` messages)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.at: list[tuple[Path, int]] = []

    def place(self, i: int) -> str:
        path, line = self.at[i]
        return f"{path}:{line}"

    def source(self) -> RowSource:
        return RowSource(self.name, self.place)


def _jsonl(path: Path, lines: _Lines) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise NudgeError(f"{path}:{line_no} is not valid JSON: {exc}") from exc
                lines.at.append((path, line_no))
                yield row


def _qrels(path: Path, lines: _Lines) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for line_no, row in enumerate(reader, 1):
            if not row or (line_no == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise NudgeError(
                    f"{path}:{line_no}: expected query-id<TAB>corpus-id<TAB>score, got {row!r}"
                )
            lines.at.append((path, line_no))
            yield {"query-id": row[0], "corpus-id": row[1], "score": row[2]}


def beir_splits(folder: str | Path) -> list[str]:
    """Names of the qrels splits in a BEIR folder (e.g. ``["test", "train"]``)."""
    return sorted(p.stem for p in (Path(folder) / "qrels").glob("*.tsv"))


def load_beir(folder: str | Path, splits: str | Sequence[str] | None = None) -> QADataset:
    """Read a BEIR dataset; ``splits`` picks qrels files (default: all of them, pooled).

    Queries without a positive judgement in the chosen splits are left out.
    """
    root = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (root / name).is_file():
            raise NudgeError(f"{root} is not a BEIR folder: {name} is missing")
    available = beir_splits(root)
    if not available:
        raise NudgeError(f"{root / 'qrels'} holds no .tsv judgement files")
    chosen = available if splits is None else [splits] if isinstance(splits, str) else list(splits)
    for split in chosen:
        if split not in available:
            raise NudgeError(f"{root} has no qrels split {split!r}; available: {available}")

    files = [root / "qrels" / f"{split}.tsv" for split in chosen]
    where = {
        "corpus": _Lines(str(root / "corpus.jsonl")),
        "queries": _Lines(str(root / "queries.jsonl")),
        "qrels": _Lines(", ".join(str(f) for f in files)),
    }

    def qrels() -> Iterator[dict[str, Any]]:
        for file in files:
            yield from _qrels(file, where["qrels"])

    return dataset_from_rows(
        _jsonl(root / "corpus.jsonl", where["corpus"]),
        _jsonl(root / "queries.jsonl", where["queries"]),
        qrels(),
        source=str(root),
        sources={kind: lines.source() for kind, lines in where.items()},
    )
