"""A LlamaIndex store's :class:`Bound`, shared by the store folders' ``llama_index.py``:
its ledger key (the index's id), and text read as LlamaIndex embeds it, from the index's
docstore first and then from a store that keeps text."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from nudge_integrations.stores.base import StoreWriter
from nudge_integrations.stores.binding import Bound

NodeReader = Callable[[list[str]], list[Any]]


def index_key(index: Any) -> str | None:
    """A stable ledger key for an index whose store has no location of its own (an index
    reloaded with ``load_index_from_storage`` keeps its ``index_id``)."""
    return None if index is None else f"llama-index-{index.index_id}"


def bound(
    writer: StoreWriter,
    store: Any,
    index: Any = None,
    *,
    read_nodes: NodeReader | None = None,
    save: Callable[[], None] | None = None,
) -> Bound:
    """``store`` (behind ``index`` when given) bound with ``writer``; ``read_nodes``: one
    request of the store's own nodes by id, for stores that keep text."""
    return Bound(
        writer,
        label=type(store).__name__,
        read_texts=_text_reader(index, read_nodes),
        key=index_key(index),
        read_nodes=read_nodes,
        save=save,
    )


def _text_reader(
    index: Any, read_nodes: NodeReader | None
) -> Callable[[list[str]], Mapping[str, str]] | None:
    """What LlamaIndex embeds for nodes by id (one request), from the index's docstore
    and then the store; None where neither can tell."""
    if index is None and read_nodes is None:
        return None

    def read(ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        if index is not None:
            out = _texts(index.docstore.get_nodes(list(ids), raise_error=False))
        rest = [i for i in ids if i not in out]
        if rest and read_nodes is not None:
            with contextlib.suppress(NotImplementedError, ValueError, KeyError):
                out.update(_texts(read_nodes(rest)))
        return out

    return read


def _texts(nodes: list[Any]) -> dict[str, str]:
    from llama_index.core.schema import MetadataMode

    return {
        n.node_id: n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes if n is not None
    }


def node_from_row(node_id: str, text: str | None, metadata: Mapping[str, Any] | None) -> Any:
    """A node from a row of a store keeping its text beside LlamaIndex's metadata dict,
    built as the stores' own ``get_nodes`` build it (the legacy fallback included)."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    try:
        node = metadata_dict_to_node(dict(metadata or {}))
        node.set_content(str(text))
    except Exception:  # rows written before LlamaIndex kept _node_content, as get_nodes does
        node = TextNode(id_=node_id, text=text, metadata=dict(metadata or {}))
    return node
