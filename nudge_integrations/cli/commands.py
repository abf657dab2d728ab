"""``nudge finetune`` and ``nudge evaluate``: NUDGE on your corpus and QA pairs, from the
shell. The QA data is split with the paper's protocol (70/10/20 train/val/test, seed 0);
test queries are never used to fit."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.cli.inputs import Vectors, embedded, given_vectors, load_qa
from nudge_integrations.core import NudgeM, NudgeN, NudgeResult
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.splits import paper_split
from nudge_integrations.errors import NudgeError, ShapeError
from nudge_integrations.report import evaluate_embeddings, format_table

NUDGED = "nudged.npy"
NUDGED_IDS = "nudged_ids.json"
SUMMARY = "summary.json"


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
    """QA data split with the paper's protocol, corpus and query vectors by id."""

    def __init__(self, args: argparse.Namespace, progress: bool) -> None:
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
        self.corpus = self._corpus_vectors(args, progress)
        self.queries = self._query_vectors(args, progress)
        dims = {self.corpus.matrix.shape[1], self.queries.matrix.shape[1]}
        if len(dims) != 1:
            raise ShapeError(
                f"corpus vectors are {self.corpus.matrix.shape[1]}-d but query vectors "
                f"{self.queries.matrix.shape[1]}-d: embed both with the same model"
            )
        self.ids = self.dataset.corpus_ids
        self.base = self.corpus.rows(self.ids, "corpus")
        self.row = {d: n for n, d in enumerate(self.ids)}

    def _corpus_vectors(self, args: argparse.Namespace, progress: bool) -> Vectors:
        if args.embeddings is not None or args.ids is not None:
            if args.embeddings is None or args.ids is None:
                raise NudgeError("--embeddings and --ids go together: the vectors and their ids")
            return given_vectors(args.embeddings, args.ids, "corpus")
        return embedded(self.dataset.corpus, cache_dir=args.cache_dir, progress=progress)

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
        return embedded(self.dataset.queries, cache_dir=args.cache_dir, progress=progress)

    def split(self, name: str) -> tuple[NDArray[np.float32], list[dict[str, float]]]:
        """Query vectors and judgements by corpus id of one split."""
        part: QADataset = self.parts[name]
        return self.queries.rows(part.query_ids, "query"), part.judgements()

    def rows(self, judgements: list[dict[str, float]]) -> list[dict[int, float]]:
        """Judgements by corpus row, for scoring."""
        return [{self.row[d]: g for d, g in j.items()} for j in judgements]


def finetune(args: argparse.Namespace, progress: bool) -> dict[str, Any]:
    """Fit NUDGE on train/val, evaluate on test, write the moved vectors and a summary."""
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise NudgeError(f"--out {out} is a file: pass a folder for the outputs")
    data = Inputs(args, progress)
    q_tr, r_tr = data.split("train")
    q_va, r_va = data.split("val")
    q_te, j_te = data.split("test")
    r_te = data.rows(j_te)
    params: dict[str, Any] = {
        "metric": args.metric,
        "k": args.k,
        "refit_with_validation": args.refit_with_validation,
    }
    if args.gamma is not None:
        params["gamma"] = args.gamma
    est = NudgeN(**params) if args.variant == "N" else NudgeM(**params)
    start = time.perf_counter()
    est.fit(data.base, q_tr, r_tr, q_va, r_va, ids=data.ids)
    seconds = time.perf_counter() - start
    result: NudgeResult = est.result_
    nudged = result.apply(data.base)
    table = {
        "no fine-tuning": evaluate_embeddings(q_te, data.base, r_te, device="cpu"),
        f"NUDGE-{args.variant}": evaluate_embeddings(q_te, nudged, r_te, device="cpu"),
    }
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / NUDGED, result.vectors)
    (out / NUDGED_IDS).write_text(json.dumps([str(i) for i in result.ids]))
    summary = {
        "data": str(data.source),
        "variant": args.variant,
        "gamma": result.gamma,
        "moved": len(result.ids),
        "records": len(data.ids),
        "dim": int(data.base.shape[1]),
        "split": {k: len(v) for k, v in data.parts.items()},
        "validation_metric": f"{result.metric}@{result.k}",
        "refit_with_validation": bool(args.refit_with_validation),
        "curve": [[g, s] for g, s in result.curve.items()],
        "test": table,
        "fit_seconds": round(seconds, 3),
        "outputs": [NUDGED, NUDGED_IDS, SUMMARY],
    }
    plot = _plot(result, table, out)
    if plot:
        summary["outputs"] += plot
    if args.store:
        summary["store"] = swap_into_store(args, result, data)
    (out / SUMMARY).write_text(json.dumps(summary, indent=2))
    return summary


def swap_into_store(args: argparse.Namespace, result: NudgeResult, data: Inputs) -> dict[str, Any]:
    """Write the moved vectors into ``--store`` through its nudge ledger."""
    from nudge_integrations.cli.stores import open_store
    from nudge_integrations.stores import lifecycle, require_inner_product
    from nudge_integrations.stores.ledger import text_hash
    from nudge_integrations.stores.location import ledger_for_write

    writer, save = open_store(args.store, vector_field=args.vector_field)
    if result.variant == "M":
        require_inner_product(writer.similarity, args.store)
    moved = {str(i): v for i, v in result.as_dict().items()}
    ledger = ledger_for_write(writer, args.ledger, list(moved))
    report = lifecycle.swap(
        writer,
        ledger,
        moved,
        {i: data.base[data.row[i]] for i in moved},
        {i: text_hash(data.dataset.corpus[i]) for i in moved},
        variant=result.variant,
        gamma=result.gamma,
        model=args.model_name,
        dim=result.dim,
    )
    save()
    return {
        "spec": args.store,
        "ledger": str(report.ledger),
        "written": len(report.written),
        "restored": len(report.restored),
        "missing": report.missing,
    }


def store_command(args: argparse.Namespace) -> str:
    """``nudge status`` / ``nudge revert`` on a store named with ``--store``."""
    from nudge_integrations.cli.stores import open_store
    from nudge_integrations.stores import lifecycle
    from nudge_integrations.stores.location import find_ledger

    writer, save = open_store(args.store, vector_field=args.vector_field)
    ledger = find_ledger(writer, args.ledger, writer.all_ids())
    if (ledger is None or not ledger.exists) and args.command == "status":
        return str(lifecycle.never_nudged(args.store))
    if ledger is None or not ledger.exists:
        raise NudgeError(
            f"{args.store} has no nudge ledger: nothing was swapped in (or pass --ledger PATH)"
        )
    if args.command == "status":
        return str(lifecycle.status(writer, ledger))
    action = {"revert": lifecycle.revert, "finish": lifecycle.finish,
              "rollback": lifecycle.rollback}[args.command]  # fmt: skip
    report = action(writer, ledger)
    save()
    return (
        f"{args.command}: {len(report.restored)} records given their base vectors back, "
        f"{len(report.written)} nudged; {len(report.missing)} missing; ledger {report.ledger}"
    )


def _plot(result: NudgeResult, table: dict[str, dict[str, float]], out: Path) -> list[str]:
    """The gamma curve and the before/after chart, when the ``plots`` extra is installed."""
    try:
        from nudge_integrations import plots
    except ImportError:
        return []
    try:
        plots.plot_curve(result, out / "curve.png")
        plots.plot_comparison(table, out / "comparison.png")
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
