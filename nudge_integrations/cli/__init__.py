"""Command line (``nudge`` or ``nudge-integrations``, or ``python -m nudge_integrations``).

* ``demo``: NUDGE end to end on an offline corpus, before/after table.
* ``finetune DATA``: fit on your QA data (a BEIR folder or a QA JSON), write the moved
  vectors (``nudged.npy`` + ``nudged_ids.json``), ``summary.json`` (gamma, validation
  curve, test metrics) and, with the ``plots`` extra, ``curve.png`` and ``comparison.png``.
  With ``--store`` the moved vectors are swapped into a persistent store; with
  ``--native`` as well the fit reads only the named records from that store.
* ``evaluate DATA``: base vectors, and nudged ones (``--nudged DIR``), on the test split.
* ``status`` / ``revert`` / ``finish`` / ``rollback --store KIND:PATH:NAME``: a persistent
  store that ``finetune --store`` wrote into, through its nudge ledger.

Exit codes: 0 done, 2 bad input or usage (one line naming the problem and the fix), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from nudge_integrations.cli.progress import ProgressLines
from nudge_integrations.compat.stdlib import parser_options
from nudge_integrations.core.errors import NudgeError

DESCRIPTION = (
    "nudge makes retrieval find the right documents for your questions, without training "
    "a model: from question->document pairs, NUDGE (Zeighami et al., ICLR 2025) moves the "
    "stored document vectors toward the questions they answer, by an amount chosen on "
    "held-out questions, and leaves the embedding model and the queries as they are. "
    "'demo' runs it end to end on an offline "
    "corpus; 'finetune' fits it on your data (a BEIR folder or a QA JSON, split 70/10/20 "
    "train/validation/test), writes the moved vectors and, with --store, swaps them into a "
    "vector store through a nudge ledger; 'evaluate' scores base and nudged vectors on the "
    "test split; 'status', 'revert', 'finish' and 'rollback' look after a store that "
    "'finetune --store' wrote into."
)

TOP_EPILOG = "nudge COMMAND --help lists a command's options. A first run: nudge demo"

EPILOG = (
    "Vectors: pass --embeddings/--ids and --query-embeddings/--query-ids (.npy rows and "
    "a JSON list of their ids), or neither to embed with the offline all-MiniLM-L6-v2 "
    "(extra 'demo'; cached in $NUDGE_CACHE_DIR). The QA data is split 70/10/20 "
    "train/val/test with the NUDGE paper's protocol."
)


class _Parser(argparse.ArgumentParser):
    #: The subcommands' parsers by name (set by :func:`build_parser`), for suggestions.
    commands: Mapping[str, argparse.ArgumentParser] | None = None

    def error(self, message: str) -> NoReturn:  # usage errors: one line, exit 2
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse's, but an unknown option names the nearest one the command takes
        (argparse before Python 3.14 only says "unrecognized arguments")."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggest(parsed, extras)}")
        return parsed

    def _suggest(self, parsed: argparse.Namespace, extras: list[str]) -> str:
        """ "; did you mean --x?" for the first unknown option with a near one, else ""."""
        chosen = (self.commands or {}).get(getattr(parsed, "command", None) or "")
        known = [o for p in (self, chosen) if p is not None for o in parser_options(p)]
        for extra in extras:
            if extra.startswith("--"):
                close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1)
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


#: The store subcommands, each with its one-line help.
STORE_COMMANDS = (
    ("status", "whether a store holds base or nudged vectors (from its ledger)"),
    ("revert", "write a store's base vectors back from its ledger"),
    ("finish", "complete a swap or revert that was interrupted"),
    ("rollback", "undo a swap or revert that was interrupted"),
)


def build_parser(prog: str = "nudge") -> argparse.ArgumentParser:
    """The ``nudge`` parser: every subcommand, in the order ``--help`` lists them."""
    from nudge_integrations.cli.commands import add_inputs
    from nudge_integrations.stores.registry import cli_kinds

    # every store the registry can open from the command line, e.g. chroma:PATH:COLLECTION
    store_kinds = ", ".join(str(e.cli) for e in cli_kinds())

    parser = _Parser(prog=prog, description=DESCRIPTION, epilog=TOP_EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parser.commands = sub.choices
    _demo_options(sub.add_parser("demo", help="fine-tune an offline corpus and print before/after"))
    fit = sub.add_parser(
        "finetune", help="fit NUDGE on your QA data and write the nudged vectors", epilog=EPILOG
    )
    add_inputs(fit)
    _fit_options(fit)
    _fit_store_options(fit, store_kinds)
    ev = sub.add_parser("evaluate", help="test metrics of base and nudged vectors", epilog=EPILOG)
    add_inputs(ev)
    _evaluate_options(ev)
    for name, text in STORE_COMMANDS:
        _store_command_options(sub.add_parser(name, help=text), store_kinds)
    return parser


def _demo_options(demo: argparse.ArgumentParser) -> None:
    """``demo``'s options: corpus size, framework, device and where the plots go."""
    demo.add_argument("--max-passages", type=int, default=400, help="corpus size (default 400)")
    demo.add_argument("--cache-dir", type=Path, default=None, help="embedding cache folder")
    demo.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (core only)")
    demo.add_argument(
        "--framework",
        choices=["llama-index", "langchain", "core"],
        default="llama-index",
        help="go through LlamaIndex's VectorStoreIndex (default), LangChain's "
        "InMemoryVectorStore, or the framework-free core",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("nudge-demo"), help="folder for the plots (extra plots)"
    )
    demo.add_argument(
        "--dataset",
        default=None,
        help="a public BEIR dataset instead of the offline corpus (e.g. scifact, where NUDGE "
        "gains most): from $NUDGE_DATA_DIR, the cache, or downloaded when online",
    )


def _fit_options(fit: argparse.ArgumentParser) -> None:
    """``finetune``'s fit and output options (after the data inputs, before the store's)."""
    fit.add_argument("--variant", choices=["N", "M"], default="N", help="NUDGE-N (default) or M")
    fit.add_argument("--gamma", type=float, default=None, help="fix gamma (default: searched)")
    fit.add_argument("--metric", default="hit", help="validation metric: hit, recall, ndcg, mrr")
    fit.add_argument("--k", type=int, default=1, help="cut-off of the validation metric")
    fit.add_argument(
        "--refit-with-validation",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="make the final nudge with the training and validation queries, at the gamma "
        "chosen on validation (default, as the LlamaIndex and LangChain adapters do; +0.017 "
        "NDCG@10 on SciFact); --no-refit-with-validation nudges with the training queries "
        "alone, as the paper's reference code does",
    )
    fit.add_argument("--out", type=Path, default=Path("nudge-out"), help="output folder")
    fit.add_argument("--json", action="store_true", help="print the summary as JSON")


def _fit_store_options(fit: argparse.ArgumentParser, store_kinds: str) -> None:
    """``finetune``'s store options: ``--store``, ``--native`` and how the store is written."""
    fit.add_argument(
        "--store",
        default=None,
        help="also write the moved vectors into a persistent store, through its nudge ledger: "
        f"{store_kinds} (its ids must be the corpus ids)",
    )
    fit.add_argument(
        "--native",
        action="store_true",
        help="fit against --store where it lies: only the records the QA pairs name are "
        "read from it (base vectors from its nudge ledger where it keeps them), competitors "
        "come from the store's own search, and the test split is scored through that search "
        "before and after the swap; no --embeddings/--ids",
    )
    _store_options(fit)
    fit.add_argument(
        "--model-name", default="all-MiniLM-L6-v2", help="the embedding model, for the ledger"
    )


def _evaluate_options(ev: argparse.ArgumentParser) -> None:
    """``evaluate``'s options after the data inputs: the nudged folder and JSON output."""
    ev.add_argument("--nudged", type=Path, default=None, help="a folder written by finetune")
    ev.add_argument("--json", action="store_true", help="print the table as JSON")


def _store_command_options(cmd: argparse.ArgumentParser, store_kinds: str) -> None:
    """The options of ``status``, ``revert``, ``finish`` and ``rollback``: a required store."""
    cmd.add_argument("--store", required=True, help=f"as for finetune: {store_kinds}")
    cmd.add_argument("--quiet", action="store_true", help="no progress")
    _store_options(cmd)


def _store_options(p: argparse.ArgumentParser) -> None:
    """The options that say how a store is read and written: ledger, field, batch size."""
    p.add_argument("--ledger", type=Path, default=None, help="the ledger folder (default: found)")
    p.add_argument(
        "--vector-field",
        default="vector",
        help="the vector field or column (Milvus, LanceDB, pgvector), or Qdrant's dense "
        "vector name",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="records per request to the store (default and most: the store's own limit)",
    )


def main(argv: Sequence[str] | None = None, prog: str = "nudge") -> int:
    args = build_parser(prog).parse_args(argv)
    progress = not getattr(args, "quiet", False)  # a bar on a terminal, else lines
    lines = ProgressLines(prog, progress)
    try:
        return _run(args, progress)
    except (NudgeError, FileNotFoundError, ImportError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a full disk
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{prog}: error: cannot read or write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # one line, not a traceback
        print(f"{prog}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        lines.close()


def _run(args: argparse.Namespace, progress: bool) -> int:
    from nudge_integrations.cli import commands

    if args.command == "demo":
        print(_demo(args).render())
    elif args.command == "finetune":
        summary = commands.finetune(args, progress)
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(commands.render(summary["test"]))
            print(
                f"\nNUDGE-{summary['variant']}: gamma {summary['gamma']:.4g}, moved "
                f"{summary['moved']} of {summary['records']} records; wrote "
                f"{', '.join(summary['outputs'])} to {args.out}"
            )
        if "store" in summary and not args.json:  # --json: the summary holds it
            st = summary["store"]
            print(
                f"store {st['spec']}: {st['written']} records nudged, {st['restored']} given "
                f"their base back, {st['unchanged']} already held theirs; ledger "
                f"{st['ledger']} (nudge revert --store ... undoes it)"
            )
    elif args.command == "evaluate":
        table = commands.evaluate(args, progress)
        print(json.dumps(table, indent=2) if args.json else commands.render(table))
    else:
        print(commands.store_command(args))
    return 0


def _demo(args: argparse.Namespace) -> Any:
    """The demo through the chosen framework."""
    kwargs = {"max_passages": args.max_passages, "cache_dir": args.cache_dir}
    if args.framework == "core":
        from nudge_integrations.demo import run_demo

        if args.dataset:
            raise NudgeError("--dataset goes through an adapter: drop --framework core")
        return run_demo(**kwargs, device=args.device)
    try:
        from nudge_integrations import demo_adapters
    except ImportError as exc:  # pragma: no cover - the demo extra is missing
        raise ImportError(f"{exc}: pip install 'nudge-integrations[demo]'") from exc
    run, label, extra = {
        "langchain": (demo_adapters.run_langchain_demo, "LangChain", "langchain"),
        "llama-index": (demo_adapters.run_llama_index_demo, "LlamaIndex", "llama-index"),
    }[args.framework]
    try:
        return run(**kwargs, out=args.out, dataset=args.dataset)
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"the {label} demo needs the '{extra}' extra ({exc.name} is missing): pip "
            f"install 'nudge-integrations[{extra},demo]', or --framework core"
        ) from exc


def legacy_main() -> int:
    """``nudge-integrations``: the same commands under the package's name."""
    return main(prog="nudge-integrations")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
