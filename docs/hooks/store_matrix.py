"""MkDocs hook: fill ``<!-- nudge-stores -->`` with the support matrix read from the store
registry (``nudge_integrations.stores.registry``), so the docs list exactly the stores
the adapters and the CLI recognise."""

from __future__ import annotations

import re
from typing import Any

MARKER = re.compile(r"^<!-- nudge-stores -->$", re.MULTILINE)


def _cell(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "—"


def matrix() -> str:
    """The registry as a Markdown table: store, LlamaIndex and LangChain classes, CLI."""
    from nudge_integrations.stores.registry import entries

    rows = [
        "| store | LlamaIndex | LangChain | `nudge --store` | extra |",
        "|---|---|---|---|---|",
    ]
    for e in entries():
        cli = f"`{e.cli}`" if e.cli else "—"
        rows.append(
            f"| {e.title} | {_cell(e.llama_index)} | {_cell(e.langchain)} | {cli} | "
            f"{e.extra or '—'} |"
        )
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if not MARKER.search(markdown):
        return markdown
    return MARKER.sub(lambda _: matrix(), markdown)
