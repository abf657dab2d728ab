"""Command line: ``nudge-integrations demo`` runs NUDGE end to end on an offline corpus."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nudge-integrations", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fine-tune an offline corpus and print before/after")
    demo.add_argument("--max-passages", type=int, default=400, help="corpus size (default 400)")
    demo.add_argument("--cache-dir", type=Path, default=None, help="embedding cache folder")
    demo.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from nudge_integrations.demo import run_demo

        report = run_demo(
            max_passages=args.max_passages, cache_dir=args.cache_dir, device=args.device
        )
        print(report.render())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
