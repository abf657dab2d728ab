"""``nudge finetune`` and ``nudge evaluate``: NUDGE on your corpus and QA pairs, from the
shell. The QA data is split with the paper's protocol (70/10/20 train/val/test, seed 0);
test queries are never used to fit."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.cli.inputs import Vectors, embedded, given_vectors, load_qa
from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.core.errors import MetricMismatchError, NudgeError, ShapeError
from nudge_integrations.core.report import (
    DEFAULT_COLUMNS,
    evaluate_embeddings,
    evaluate_ranked_ids,
    format_table,
)
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.splits import paper_split

if TYPE_CHECKING:
    from nudge_integrations.core.sources import RecordSource
    from nudge_integrations.session import StoreSession
    from nudge_integrations.stores.base import StoreWriter
    from nudge_integrations.stores.binding import Bound

NUDGED = "nudged.npy"
NUDGED_IDS = "nudged_ids.json"
SUMMARY = "summary.json"

#: Query vectors and judgements by corpus id of one split (``Inputs.split``).
Split = tuple[NDArray[np.float32], list[dict[str, float]]]
#: Metrics by row label (``no fine-tuning``, ``NUDGE-N``, ``store before``, ...).
Table = dict[str, dict[str, float]]


def add_inputs(p: argparse.ArgumentParser) -> None:
    """The arguments both commands read their data with."""
    p.add_argument("data", nargs="?", type=Path, help="a BEIR folder or a QA dataset .json")
    p.add_argument("--corpus", type=Path, help="the same as DATA, as an option")
    p.add_argument("--queries", type=Path, help="with a corpus file: the queries file")
    p.add_argument("--qrels", type=Path, help="with a corpus file: the judgements file")
    p.add_argument(
        "--dataset",
        help="a public BEIR dataset by name (e.g. scifact): from $NUDGE_DATA_DIR, the cache, "
        "or downloaded when online",
    )
    p.add_argument("--embeddings", type=Path, help="corpus vectors (.npy, one row per id)")
    p.add_argument("--ids", type=Path, help="JSON list of the corpus ids of --embeddings rows")
    p.add_argument("--query-embeddings", type=Path, help="query vectors (.npy)")
    p.add_argument("--query-ids", type=Path, help="JSON list of the query ids of those rows")
    p.add_argument("--cache-dir", type=Path, help="embedding cache (default $NUDGE_CACHE_DIR)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


class Inputs:
    """QA data split with the paper's protocol, corpus and query vectors by id.

    ``corpus=False`` (``--native``) reads no corpus vectors: the store holds them."""

    def __init__(self, args: argparse.Namespace, progress: bool, *, corpus: bool = True) -> None:
        given = [x for x in (args.data, args.corpus, args.dataset) if x is not None]
        if len(given) > 1:
            raise NudgeError("pass the data once: DATA, --corpus or --dataset, not several")
        source = args.data or args.corpus
        if source is None and args.dataset:
            from nudge_integrations.data.download import beir_folder

            source = beir_folder(args.dataset)
        if source is None:
            raise NudgeError(
                "pass the data: a BEIR folder or a QA dataset .json (or --corpus, or "
                "--dataset NAME for a public BEIR dataset)"
            )
        self.source = Path(source)
        self.dataset = load_qa(self.source, args.queries, args.qrels)
        self.parts = paper_split(self.dataset)
        for name in ("train", "val", "test"):
            if not len(self.parts.get(name, ())):
                raise NudgeError(
                    f"{self.source} has too few judged queries ({len(self.dataset)}) for a "
                    "train/val/test split: give at least 10"
                )
        self.corpus = self._corpus_vectors(args, progress) if corpus else None
        self.queries = self._query_vectors(args, progress)
        self.ids = self.dataset.corpus_ids
        self.row = {d: n for n, d in enumerate(self.ids)}
        self._base: NDArray[np.float32] | None = None
        # checked here, by file row and id, before the split picks its rows
        dim = None if self.corpus is None else int(self.corpus.matrix.shape[1])
        self.queries.check(self.dataset.query_ids, "query", dim=dim)
        if self.corpus is not None:
            self.corpus.check(self.ids, "corpus")
            self._base = self.corpus.rows(self.ids, "corpus")

    @property
    def base(self) -> NDArray[np.float32]:
        """The corpus vectors, rows aligned with ``ids`` (not read with ``--native``)."""
        if self._base is None:
            raise NudgeError("no corpus vectors were read: --native takes them from the store")
        return self._base

    def _corpus_vectors(self, args: argparse.Namespace, progress: bool) -> Vectors:
        if args.embeddings is not None or args.ids is not None:
            if args.embeddings is None or args.ids is None:
                raise NudgeError("--embeddings and --ids go together: the vectors and their ids")
            return given_vectors(args.embeddings, args.ids, "corpus")
        return embedded(
            self.dataset.corpus, cache_dir=args.cache_dir, progress=progress, what="the corpus"
        )

    def _query_vectors(self, args: argparse.Namespace, progress: bool) -> Vectors:
        if args.query_embeddings is not None or args.query_ids is not None:
            if args.query_embeddings is None or args.query_ids is None:
                raise NudgeError(
                    "--query-embeddings and --query-ids go together: the vectors and their ids"
                )
            return given_vectors(args.query_embeddings, args.query_ids, "query")
        if args.embeddings is not None:
            raise NudgeError(
                "with --embeddings, pass --query-embeddings and --query-ids too (vectors from "
                "the same model), or neither to embed both with the offline MiniLM model"
            )
        return embedded(
            self.dataset.queries, cache_dir=args.cache_dir, progress=progress, what="the queries"
        )

    def split(self, name: str) -> tuple[NDArray[np.float32], list[dict[str, float]]]:
        """Query vectors and judgements by corpus id of one split."""
        part: QADataset = self.parts[name]
        return self.queries.rows(part.query_ids, "query"), part.judgements()

    def rows(self, judgements: list[dict[str, float]]) -> list[dict[int, float]]:
        """Judgements by corpus row, for scoring."""
        return [{self.row[d]: g for d, g in j.items()} for j in judgements]


def finetune(args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    """Fit NUDGE on train/val, evaluate on test, write the moved vectors and a summary;
    with ``--store``, swap them into the store (``--native``: fit against it too)."""
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise NudgeError(f"--out {out} is a file: pass a folder for the outputs")
    _check_native(args)
    data = Inputs(args, progress, corpus=not args.native)
    store = _open_for_fit(args) if args.store else None
    train, val, test = data.split("train"), data.split("val"), data.split("test")
    result, seconds = _fit(args, data, store, train, val)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / NUDGED, result.vectors)
    (out / NUDGED_IDS).write_text(json.dumps([str(i) for i in result.ids]))
    swapped: dict[str, Any] | None  # the swap's report, with --store
    if store is not None and args.native:
        table, swapped = _score_native(args, store, result, data, test)
    else:
        table, swapped = _score_vectors(args, store, result, data, test)
    summary = _summary(args, data, result, table, seconds)
    plot = _plot(
        result, table, out, data.source.stem if data.source.is_file() else data.source.name
    )
    if plot:
        summary["outputs"] += plot
    if swapped is not None:
        summary["store"] = swapped
    (out / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


def _fit(
    args: argparse.Namespace, data: Inputs, store: Bound | None, train: Split, val: Split
) -> tuple[NudgeResult, float]:
    """Fit on train/val (against the store with ``--native``): the result, the fit's seconds."""
    (q_tr, r_tr), (q_va, r_va) = train, val
    est = _estimator(args)
    start = time.perf_counter()
    if store is not None and args.native:
        from nudge_integrations.stores.native_fit import fit_store

        texts = _ledger_texts(store.writer, args, data, r_tr + r_va)
        fit_store(est, store.writer, q_tr, r_tr, q_va, r_va, ledger=args.ledger, texts=texts)
    else:
        est.fit(data.base, q_tr, r_tr, q_va, r_va, ids=data.ids)
    seconds = time.perf_counter() - start
    result: NudgeResult = est.result_
    return result, seconds


def _score_native(
    args: argparse.Namespace, store: Bound, result: NudgeResult, data: Inputs, test: Split
) -> tuple[Table, dict[str, Any]]:
    """Swap into the store; test metrics through its own search before and after, the report."""
    q_te, j_te = test
    writer = store.writer
    search = cast("RecordSource", writer).nearest
    depth = max(k for _, k in DEFAULT_COLUMNS)
    before = search(q_te, depth)  # what the store serves the test queries now
    base = _native_base(args, result, data, writer)
    swapped = swap_into_store(args, store, result, data, base)
    table = {
        "store before": evaluate_ranked_ids(before, j_te),
        "store after": evaluate_ranked_ids(search(q_te, depth), j_te),
    }
    return table, swapped


def _score_vectors(
    args: argparse.Namespace, store: Bound | None, result: NudgeResult, data: Inputs, test: Split
) -> tuple[Table, dict[str, Any] | None]:
    """Test metrics of base and nudged corpus vectors; then, with ``--store``, swap, the report."""
    q_te, j_te = test
    r_te = data.rows(j_te)
    table = {
        "no fine-tuning": evaluate_embeddings(q_te, data.base, r_te, device="cpu"),
        f"NUDGE-{args.variant}": evaluate_embeddings(
            q_te, result.apply(data.base), r_te, device="cpu"
        ),
    }
    swapped: dict[str, Any] | None = None
    if store is not None:
        base = {str(i): data.base[data.row[str(i)]] for i in result.ids}
        swapped = swap_into_store(args, store, result, data, base)
    return table, swapped


def _summary(
    args: argparse.Namespace, data: Inputs, result: NudgeResult, table: Table, seconds: float
) -> dict[str, Any]:
    """What ``summary.json`` records of a fit: data, options, gamma curve, test table."""
    summary: dict[str, Any] = {
        "data": str(data.source),
        "variant": args.variant,
        "gamma": result.gamma,
        "moved": len(result.ids),
        "records": result.n_records if args.native else len(data.ids),
        "dim": int(result.dim),
        "split": {k: len(v) for k, v in data.parts.items()},
        "validation_metric": f"{result.metric}@{result.k}",
        "refit_with_validation": bool(args.refit_with_validation),
        "native": bool(args.native),
        "curve": [[g, s] for g, s in result.curve.items()],
        "test": table,
        "fit_seconds": round(seconds, 3),
        "outputs": [NUDGED, NUDGED_IDS, SUMMARY],
    }
    if result.notes:
        summary["notes"] = list(result.notes)
    return summary


def _estimator(args: argparse.Namespace) -> NudgeN | NudgeM:
    """The estimator the options ask for."""
    params: dict[str, Any] = {
        "metric": args.metric,
        "k": args.k,
        "refit_with_validation": args.refit_with_validation,
    }
    if args.gamma is not None:
        params["gamma"] = args.gamma
    return NudgeN(**params) if args.variant == "N" else NudgeM(**params)


def _check_native(args: argparse.Namespace) -> None:
    """Refuse ``--native`` without a store to fit against, or with corpus vectors."""
    if not args.native:
        return
    if not args.store:
        raise NudgeError(
            "--native fits against the store named by --store: pass --store KIND:PATH:NAME, "
            "or drop --native to fit on --embeddings"
        )
    if args.embeddings is not None or args.ids is not None:
        raise NudgeError(
            "--native reads the corpus vectors from --store: drop --embeddings and --ids "
            "(pass the query vectors with --query-embeddings and --query-ids)"
        )


def open_store(spec: str, *, vector_field: str = "vector") -> Bound:
    """``--store KIND:PATH:NAME`` (KIND: a store the registry can open from the command
    line) bound for the lifecycle, labelled by the spec in messages."""
    from nudge_integrations.stores.registry import cli_kinds

    kinds = {e.name: e for e in cli_kinds()}
    kind, _, rest = spec.partition(":")
    path, _, name = rest.rpartition(":")
    if kind not in kinds or not path or not name:
        raise NudgeError(
            f"--store {spec!r}: expected KIND:PATH:NAME with KIND one of {', '.join(kinds)} "
            "(e.g. chroma:./chroma_db:docs, faiss:index.faiss:ids.json)"
        )
    try:
        bound: Bound = kinds[kind].binding("cli").open_store(path, name, vector_field=vector_field)
    except NudgeError as exc:
        raise NudgeError(f"--store {spec!r}: {exc}") from exc
    bound.label = spec
    return bound


def _session(args: argparse.Namespace, bound: Bound) -> StoreSession:
    from nudge_integrations.session import StoreSession

    return StoreSession(bound, args.ledger)


def _batches(args: argparse.Namespace) -> dict[str, Any]:
    """``--batch-size`` and progress (off with ``--quiet``) for the lifecycle's calls."""
    return {
        "batch_size": args.batch_size,
        "show_progress": False if getattr(args, "quiet", False) else None,
    }


def _open_for_fit(args: argparse.Namespace) -> Bound:
    """``--store``, opened and checked before any fit: it can serve the fit (``--native``)
    and NUDGE-M's vectors (only a store ranking by inner product can)."""
    from nudge_integrations.core.sources import is_record_source
    from nudge_integrations.stores import require_inner_product

    bound = open_store(args.store, vector_field=args.vector_field)
    writer = bound.writer
    if args.native and not is_record_source(writer):
        raise NudgeError(
            f"--store {args.store}: {type(writer).__name__} has no store-native search in "
            "nudge-integrations yet: drop --native and pass the corpus vectors (--embeddings "
            "and --ids)"
        )
    if args.variant == "M":
        try:
            require_inner_product(writer.similarity, args.store)
        except MetricMismatchError:
            raise MetricMismatchError(
                f"--variant M: NUDGE-M vectors are not unit-norm and must be ranked by inner "
                f"product, but --store {args.store} ranks by "
                f"{writer.similarity or 'an unknown metric'}, which would silently mis-rank "
                "them: pass --variant N (unit-norm vectors), or a store configured for inner "
                "product (FAISS IndexFlatIP, Milvus metric 'IP', Chroma hnsw:space 'ip', "
                "Qdrant Distance.DOT)"
            ) from None
    return bound


def _ledger_texts(
    writer: StoreWriter, args: argparse.Namespace, data: Inputs, judgements: list[Any]
) -> Callable[[Sequence[str]], dict[str, str]]:
    """The records' text as the QA data gives it (what the CLI's ledgers hash), for the
    records the store's ledger keeps: a kept base vector whose text changed since is not
    used. Other ids get none, so an id the store lacks is reported as not held."""
    from nudge_integrations.core.sources import relevant_ids
    from nudge_integrations.stores.location import find_ledger

    named = [str(i) for i in relevant_ids(judgements)]
    found = find_ledger(writer, args.ledger, named)
    kept = set(found.ids) if found is not None and found.exists else set()
    corpus = data.dataset.corpus
    return lambda ids: {i: corpus[i] for i in ids if i in kept and i in corpus}


def _native_base(
    args: argparse.Namespace, result: NudgeResult, data: Inputs, writer: StoreWriter
) -> dict[str, NDArray[np.float32]]:
    """Base vectors of the moved records, read as the fit read them: the ledger's where
    it keeps a current one, else the store's (only the moved records are read)."""
    from nudge_integrations.stores.native_fit import native_inputs

    moved = [str(i) for i in result.ids]
    texts = _ledger_texts(writer, args, data, [dict.fromkeys(moved, 1.0)])
    return native_inputs(texts, writer, moved, args.ledger).known


def swap_into_store(
    args: argparse.Namespace,
    bound: Bound,
    result: NudgeResult,
    data: Inputs,
    base: Mapping[str, NDArray[np.float32]],
) -> dict[str, Any]:
    """Write the moved vectors into ``--store`` through its nudge ledger; ``base`` holds
    the moved records' base vectors (kept in the ledger for revert)."""
    report = _session(args, bound).swap(
        result, base, data.dataset.corpus, model=args.model_name, **_batches(args)
    )
    return {
        "spec": args.store,
        "ledger": str(report.ledger),
        "written": len(report.written),
        "restored": len(report.restored),
        "unchanged": len(report.unchanged),
        "missing": report.missing,
    }


def store_command(args: argparse.Namespace) -> str:
    """``nudge status`` / ``revert`` / ``finish`` / ``rollback`` on a ``--store``."""
    from nudge_integrations.stores import lifecycle
    from nudge_integrations.stores.base import KeepsMarkers

    session = _session(args, open_store(args.store, vector_field=args.vector_field))
    if session.find() is None:
        if args.command == "status":
            marked = isinstance(session.writer, KeepsMarkers)
            return str(
                lifecycle.never_nudged(
                    args.store, keeps_markers=marked, ledger_option="--ledger PATH"
                )
            )
        raise NudgeError(
            f"{args.store} has no nudge ledger: nothing was swapped in (or pass --ledger PATH)"
        )
    if args.command == "status":
        return str(session.status())
    action = {"revert": session.revert, "finish": session.finish,
              "rollback": session.rollback}[args.command]  # fmt: skip
    report = action(**_batches(args))
    return (
        f"{args.command}: {len(report.restored)} records given their base vectors back, "
        f"{len(report.written)} nudged, {len(report.unchanged)} already as wanted; "
        f"{len(report.missing)} missing; ledger {report.ledger}"
    )


def _plot(
    result: NudgeResult, table: dict[str, dict[str, float]], out: Path, dataset: str
) -> list[str]:
    """The gamma curve and the before/after chart on the test split, titled with the
    dataset, when the ``plots`` extra is installed."""
    try:
        from nudge_integrations.core import plots
    except ImportError:
        return []
    try:
        plots.plot_curve(result, out / "curve.png", dataset=dataset)
        plots.plot_comparison(table, out / "comparison.png", dataset=dataset, split="test")
    except ImportError:
        return []
    return ["curve.png", "comparison.png"]


def evaluate(args: argparse.Namespace, progress: bool) -> dict[str, dict[str, float]]:
    """Base vs nudged vectors (``--nudged`` folder from ``finetune``) on the test split."""
    data = Inputs(args, progress)
    q_te, j_te = data.split("test")
    r_te = data.rows(j_te)
    table = {"no fine-tuning": evaluate_embeddings(q_te, data.base, r_te, device="cpu")}
    if args.nudged is not None:
        folder: Path = args.nudged
        if not (folder / NUDGED).is_file():
            raise NudgeError(
                f"--nudged {folder}: not a folder written by 'nudge finetune' ({NUDGED} is "
                "missing): pass the --out folder of a finetune run"
            )
        moved = given_vectors(folder / NUDGED, folder / NUDGED_IDS, "nudged")
        if moved.matrix.shape[1] != data.base.shape[1]:
            raise ShapeError(
                f"{folder / NUDGED} holds {moved.matrix.shape[1]}-d vectors but the corpus is "
                f"{data.base.shape[1]}-d: it was made from other vectors"
            )
        nudged = data.base.copy()
        norms = np.linalg.norm(nudged, axis=1, keepdims=True)
        nudged /= np.maximum(norms, 1e-12)
        nudged[[data.row[i] for i in moved.ids if i in data.row]] = moved.rows(
            [i for i in moved.ids if i in data.row], "nudged"
        )
        unknown = [i for i in moved.ids if i not in data.row]
        if unknown:
            raise NudgeError(
                f"{len(unknown)} nudged ids are not in {data.source} (e.g. {unknown[0]!r}): "
                "evaluate on the data the fit was made on"
            )
        table["nudged"] = evaluate_embeddings(q_te, nudged, r_te, device="cpu")
    return table


def render(table: dict[str, dict[str, float]]) -> str:
    return format_table(table)
