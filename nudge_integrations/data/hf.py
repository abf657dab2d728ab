"""Load QA data from Hugging Face ``datasets`` objects or local files (the ``data`` extra).

The expected shape is BEIR's, as on the Hub (``corpus``/``queries`` with ``_id``,
``title``, ``text``; qrels with ``query-id``, ``corpus-id``, ``score``); every field name
can be changed. Local files are read with ``datasets.load_dataset`` (json, jsonl, csv,
tsv or parquet), which works offline.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.records import RowSource, dataset_from_rows

_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}


def _rows(obj: Any, name: str) -> Iterable[Mapping[str, Any]]:
    """Rows of a Dataset, a one-split DatasetDict, or any iterable of dicts."""
    if hasattr(obj, "keys") and hasattr(obj, "values") and not isinstance(obj, Mapping):
        obj = dict(obj)
    if isinstance(obj, Mapping) and not {"_id", "query-id"} & set(obj):
        # a DatasetDict (split name -> Dataset): accept exactly one split
        if not obj:
            raise NudgeError(f"{name} is an empty mapping: pass a dataset split or a list of rows")
        if len(obj) != 1:
            first = next(iter(obj))
            raise NudgeError(
                f"{name} has several splits {sorted(obj)}: pass one, e.g. {name}['{first}']"
            )
        obj = next(iter(obj.values()))
    if isinstance(obj, str | bytes) or not isinstance(obj, Iterable):
        raise NudgeError(f"{name} must be a datasets.Dataset or an iterable of dict rows")
    return obj


def from_hf(
    corpus: Any,
    queries: Any,
    qrels: Any,
    *,
    id_field: str = "_id",
    text_field: str = "text",
    title_field: str = "title",
    query_id_field: str = "query-id",
    doc_id_field: str = "corpus-id",
    score_field: str = "score",
) -> QADataset:
    """Build a :class:`QADataset` from three Hugging Face datasets (or lists of dict rows)."""
    return dataset_from_rows(
        _rows(corpus, "corpus"),
        _rows(queries, "queries"),
        _rows(qrels, "qrels"),
        id_field=id_field,
        text_field=text_field,
        title_field=title_field,
        query_id_field=query_id_field,
        doc_id_field=doc_id_field,
        score_field=score_field,
        source="hf",
    )


def load_local(path: str | Path) -> Any:
    """Read one local json/jsonl/csv/tsv/parquet file as a ``datasets.Dataset``."""
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "reading local files needs the 'data' extra: pip install 'nudge-integrations[data]'"
        ) from exc
    file = Path(path)
    builder = _BUILDERS.get(file.suffix.lower())
    if builder is None:
        raise NudgeError(f"{file}: unsupported file type; use one of {sorted(_BUILDERS)}")
    if not file.is_file():
        raise NudgeError(f"{file} does not exist")
    if file.suffix.lower() in (".csv", ".tsv", ".jsonl") and not _record_lines(file, first=1):
        return []  # a header and no rows: ``datasets`` would fail, naming no file
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        # keep ids such as "007" as written: declare every column a string (the csv
        # builder takes no pandas ``dtype``; it derives one from ``features``)
        delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
        kwargs["delimiter"] = delimiter
        kwargs["keep_default_na"] = False  # a title (or id) "NA" or "null" stays text
        with file.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), [])
        if header:
            kwargs["features"] = datasets.Features({c: datasets.Value("string") for c in header})
    return datasets.load_dataset(builder, data_files=str(file), split="train", **kwargs)


def load_files(
    corpus: str | Path, queries: str | Path, qrels: str | Path, **fields: str
) -> QADataset:
    """Build a :class:`QADataset` from local corpus, queries and qrels files; a problem
    with a row names its file and line (``path:line``)."""
    files = {"corpus": Path(corpus), "queries": Path(queries), "qrels": Path(qrels)}
    return dataset_from_rows(
        *(_rows(load_local(f), kind) for kind, f in files.items()),
        source="files",
        sources={kind: RowSource(str(f), _place_in(f)) for kind, f in files.items()},
        **fields,  # type: ignore[arg-type]
    )


def _place_in(file: Path) -> Callable[[int], str]:
    """Where record ``i`` of a local file lies: ``path:line`` in a csv/tsv (after its
    header) or JSON Lines file, ``path row N`` in others; lines are counted only when a
    message needs one."""
    lines: list[int] | None = None

    def place(i: int) -> str:
        nonlocal lines
        if lines is None:
            lines = _record_lines(file)
        return f"{file}:{lines[i]}" if i < len(lines) else f"{file} row {i + 1}"

    return place


def _record_lines(file: Path, first: int | None = None) -> list[int]:
    """The line each record of a text file starts on (blank lines skipped, as the
    loaders do; only the ``first`` ones when given); empty for a file without one
    record a line."""
    suffix = file.suffix.lower()
    out: list[int] = []
    try:
        with file.open(encoding="utf-8-sig", newline="") as fh:
            if suffix in (".csv", ".tsv"):
                reader = csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ",")
                start = 1
                for n, row in enumerate(reader):
                    if n and row:
                        out.append(start)
                        if first is not None and len(out) >= first:
                            break
                    start = reader.line_num + 1
            elif suffix in (".jsonl", ".json"):
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    if not out and line.lstrip().startswith("["):
                        return []  # one JSON array: no record a line
                    out.append(n)
                    if first is not None and len(out) >= first:
                        break
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return out
