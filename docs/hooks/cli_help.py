"""MkDocs hook: fill ``<!-- nudge-help: NAME -->`` markers with the CLI's real ``--help``.

``NAME`` is ``nudge`` (the top-level parser), a subcommand (``finetune``), or ``others``:
a section for every subcommand not named by a marker on the same page. The help text is
taken from ``nudge_integrations.cli.build_parser`` at build time, so the CLI reference
never drifts from the code. A marker naming an unknown subcommand fails the build.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

MARKER = re.compile(r"^<!-- nudge-help: ([\w-]+) -->$", re.MULTILINE)
WIDTH = "100"


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from nudge_integrations.cli import build_parser

    parser = build_parser("nudge")
    subs: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subs.update(action.choices)
    return parser, subs


def _help(parser: argparse.ArgumentParser) -> str:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal: fix it for the page
    try:
        text = parser.format_help()
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return f"```text\n{text.rstrip()}\n```"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    names = MARKER.findall(markdown)
    if not names:
        return markdown
    top, subs = _parsers()
    unknown = [n for n in names if n not in subs and n not in ("nudge", "others")]
    if unknown:
        raise ValueError(
            f"{page.file.src_path}: <!-- nudge-help: {unknown[0]} --> names no subcommand of "
            f"nudge (it has {', '.join(subs)})"
        )
    named = set(names)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "nudge":
            return _help(top)
        if name != "others":
            return _help(subs[name])
        rest = [n for n in subs if n not in named]
        if not rest:
            return "Every command is listed above."
        return "\n\n".join(f"### `nudge {n}`\n\n{_help(subs[n])}" for n in rest)

    return MARKER.sub(fill, markdown)
