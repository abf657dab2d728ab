"""Regenerate every generated benchmark page and table from ``benchmarks/results/*.json``.

    python -m benchmarks.report            # write the pages (and the paper plots)
    python -m benchmarks.report --check    # write nothing; exit 1 naming stale pages

Whole pages (``docs/benchmarks.md``, ``docs/paper-comparison.md``,
``docs/stores-production.md``) are written from their results; the hand-written pages
(``docs/scale.md``, ``docs/store-native.md``, ``docs/benchmarks-adapters.md``,
``benchmarks/README.md``) have their marked blocks filled (``benchmarks.pages.blocks``).
No measurement runs: the same results give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.pages import (
    adapters,
    chunk_relevance,
    deployment,
    floor,
    query_embedding,
    readme,
    scale,
    scripts,
    store_native,
    swap_speed,
    targets,
)
from benchmarks.pages.blocks import fill

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Page:
    """A page the report owns: whole (``render(results)``) or by blocks (``blocks``)."""

    path: str
    render: Callable[[Path], str] | None = None
    blocks: Callable[[Path], dict[str, Callable[[], str]]] | None = None

    def expected(self, root: Path, results: Path) -> str:
        """The page as the results give it (its hand-written prose kept, if any)."""
        if self.render is not None:
            return self.render(results)
        assert self.blocks is not None
        return fill((root / self.path).read_text(), self.blocks(results), self.path)


def _json(results: Path, name: str) -> Any:
    path = results / name
    return json.loads(path.read_text()) if path.is_file() else None


def scale_blocks(results: Path) -> dict[str, Callable[[], str]]:
    data = scale.load(results)
    fvf, native = _json(results, "fit-vs-floor.json"), _json(results, "store-native.json")
    fit_1m = _json(results, "fit-1000000.json")
    return {
        "scale-machine": lambda: scale.machine_block(data),
        "scale-results": lambda: scale.results_block(data, fvf),
        "fit-vs-floor": lambda: floor.fit_vs_floor_block(fvf),
        "targets": lambda: targets.targets_block(fvf, data, native),
        "scale-where": lambda: deployment.where_block(data, fit_1m),
        "scale-deployment": lambda: deployment.deployment_block(data, fit_1m),
    }


def store_native_blocks(results: Path) -> dict[str, Callable[[], str]]:
    native = _json(results, "store-native.json") or {}
    return {
        "store-native-chroma-note": lambda: store_native.chroma_note_block(native),
        "store-native-run": lambda: store_native.run_block(native),
        "store-native-1m": lambda: store_native.one_million_block(native),
        "store-native-qdrant": lambda: store_native.qdrant_block(native),
        "store-native-chroma": lambda: store_native.chroma_block(native),
    }


def adapters_blocks(results: Path) -> dict[str, Callable[[], str]]:
    ev, qa = _json(results, "eval.json"), _json(results, "qa_save.json")
    embedding = _json(results, "query-embedding.json")
    return {
        "adapters-run": lambda: adapters.run_block(ev, qa),
        "adapters-eval": lambda: adapters.eval_block(ev) if ev else "Not measured.",
        "adapters-qa-save": lambda: adapters.qa_block(qa) if qa else "Not measured.",
        "adapters-query-embedding": lambda: query_embedding.block(embedding),
    }


def readme_blocks(results: Path) -> dict[str, Callable[[], str]]:
    return {"scripts": lambda: scripts.scripts_block(results)}


def fit_page(results: Path) -> str:
    from benchmarks.fit.report import render

    return render(results)


def paper_page(results: Path) -> str:
    from benchmarks.paper.report import IMAGES, page

    return page(_json(results, "paper.json"), list(IMAGES))


def production_page(results: Path) -> str:
    from benchmarks.production.report import page

    return page(_json(results, "stores-production.json"))


PAGES = (
    Page("docs/benchmarks.md", render=fit_page),
    Page("docs/paper-comparison.md", render=paper_page),
    Page("docs/stores-production.md", render=production_page),
    Page("docs/scale.md", blocks=scale_blocks),
    Page("docs/store-native.md", blocks=store_native_blocks),
    Page("docs/benchmarks-adapters.md", blocks=adapters_blocks),
    Page("benchmarks/README.md", blocks=readme_blocks),
    Page("README.md", blocks=readme.readme_blocks),
    Page("docs/cli.md", blocks=readme.cli_blocks),
    Page("docs/ids.md", blocks=chunk_relevance.blocks),
    Page("docs/ledger.md", blocks=swap_speed.blocks),
)


def stale(root: Path = ROOT, results: Path = RESULTS) -> dict[str, str]:
    """Every page whose text differs from what the results give: {path: expected text}."""
    out = {}
    for page in PAGES:
        want = page.expected(root, results)
        path = root / page.path
        if not path.is_file() or path.read_text() != want:
            out[page.path] = want
    return out


def plots(root: Path, results: Path) -> list[Path]:
    """The paper page's plots, redrawn from ``paper.json`` (matplotlib needed)."""
    from benchmarks.paper.report import draw

    paper = _json(results, "paper.json")
    return [] if paper is None else draw(paper, root / "docs" / "img")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--root", type=Path, default=ROOT, help="where docs/ and benchmarks/ are")
    ap.add_argument("--no-plots", action="store_true", help="do not redraw the paper plots")
    args = ap.parse_args(argv)
    differ = stale(args.root, args.results)
    if args.check:
        for path in differ:
            print(f"stale: {path} (run python -m benchmarks.report)", file=sys.stderr)
        return 1 if differ else 0
    for path, text in differ.items():
        (args.root / path).write_text(text)
        print(f"wrote {path}")
    if not args.no_plots:
        for img in plots(args.root, args.results):
            print(f"drew {img.relative_to(args.root)}")
    if not differ:
        print("every page already matches benchmarks/results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
