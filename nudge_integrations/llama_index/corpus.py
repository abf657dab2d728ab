"""Turn what a LlamaIndex user has (nodes, a docstore, a VectorStoreIndex, a QA dataset's
corpus) into ids, nodes and, where the store already holds them, base vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.storage.docstore.types import BaseDocumentStore
from numpy.typing import NDArray

from nudge_integrations.core.errors import DuplicateIdError, NudgeError, UnknownIdError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.llama_index.ledger import bound_of, store_nodes
from nudge_integrations.stores.base import batches
from nudge_integrations.stores.progress import Progress

CorpusLike = Sequence[BaseNode] | BaseDocumentStore | VectorStoreIndex | None


@dataclass
class Corpus:
    """Nodes by id, in a fixed order, with any base vectors found for them."""

    nodes: dict[str, BaseNode]
    stored: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return list(self.nodes)

    def text(self, node_id: str) -> str:
        """What LlamaIndex embeds for a node (content plus embed-visible metadata)."""
        return self.nodes[node_id].get_content(metadata_mode=MetadataMode.EMBED)


def nodes_from_dataset(*datasets: QADataset | None) -> list[BaseNode]:
    """TextNodes for the union of the datasets' corpora (id = the dataset's doc id)."""
    seen: dict[str, str] = {}
    for ds in datasets:
        if ds is None:
            continue
        for doc_id, text in ds.corpus.items():
            if doc_id in seen and seen[doc_id] != text:
                raise NudgeError(
                    f"doc {doc_id!r} has different text in the training and validation "
                    "corpora: give each text its own id"
                )
            seen[doc_id] = text
    return [TextNode(id_=doc_id, text=text) for doc_id, text in seen.items()]


def resolve_corpus(
    source: CorpusLike, *datasets: QADataset | None, show_progress: bool | None = False
) -> Corpus:
    """Nodes (and stored vectors, read with progress as ``show_progress`` says) from nodes,
    a docstore, an index, or the datasets."""
    if source is None:
        return _from_nodes(nodes_from_dataset(*datasets))
    if isinstance(source, VectorStoreIndex):
        corpus = _from_nodes(_index_nodes(source))
        corpus.stored, note = stored_vectors(source, corpus.ids, show_progress)
        if note:
            corpus.notes.append(note)
        return corpus
    if isinstance(source, BaseDocumentStore):
        return _from_nodes(list(source.docs.values()))
    if isinstance(source, str | bytes) or not isinstance(source, Sequence):
        raise NudgeError(
            f"corpus must be a list of nodes, a docstore or a VectorStoreIndex, not "
            f"{type(source).__name__}"
        )
    return _from_nodes(list(source))


def _from_nodes(nodes: list[Any]) -> Corpus:
    by_id: dict[str, BaseNode] = {}
    stored: dict[str, NDArray[np.float32]] = {}
    for i, node in enumerate(nodes):
        if not isinstance(node, BaseNode):
            raise NudgeError(
                f"corpus item {i} is a {type(node).__name__}, not a LlamaIndex node: wrap "
                "texts as TextNode(id_=..., text=...)"
            )
        if node.node_id in by_id:
            raise DuplicateIdError(f"node id {node.node_id!r} appears twice in the corpus")
        by_id[node.node_id] = node
        if node.embedding is not None:
            stored[node.node_id] = np.asarray(node.embedding, dtype=np.float32)
    if not by_id:
        raise NudgeError("the corpus is empty: give nodes, a docstore or an index with nodes")
    return Corpus(by_id, stored)


def _index_nodes(index: VectorStoreIndex) -> list[BaseNode]:
    store = index.vector_store
    node_ids = list(index.index_struct.nodes_dict.values())
    if node_ids:
        found = index.docstore.get_nodes(node_ids, raise_error=False)
        if len(found) == len(node_ids):
            return list(found)
    if getattr(store, "stores_text", False):
        # text-keeping stores (Chroma, Milvus, ...) leave the index struct empty
        ids = node_ids or bound_of(index).writer.all_ids()
        if ids:
            return store_nodes(store, ids)
    if not node_ids:
        raise NudgeError("the VectorStoreIndex holds no nodes")
    raise NudgeError(
        "the index's docstore lacks some of its nodes and its vector store keeps no text: "
        "pass the nodes (corpus=[...]) instead"
    )


def stored_vectors(
    index: VectorStoreIndex, node_ids: list[str], show_progress: bool | None = False
) -> tuple[dict[str, NDArray[np.float32]], str | None]:
    """Vectors the index's store already holds, so nothing is embedded twice (read within
    the store's limits, with progress as ``show_progress`` says)."""
    store = index.vector_store
    out: dict[str, NDArray[np.float32]] = {}
    try:
        writer = bound_of(index).writer
        with Progress(len(node_ids), "fit: reading the store's vectors", show_progress) as bar:
            for chunk in batches(node_ids, writer.limits.read):
                out.update(writer.read(chunk))
                bar.update(len(chunk))
    except (NudgeError, NotImplementedError, KeyError, AttributeError, TypeError, ValueError):
        out = {}
    if len(out) < len(node_ids):
        return out, (
            f"{type(store).__name__} returned stored vectors for {len(out)} of {len(node_ids)} "
            "nodes; the rest were re-embedded"
        )
    return out, None


def check_relevant(nodes: Mapping[str, BaseNode], train: QADataset, val: QADataset | None) -> None:
    """Every judged-relevant id must be a corpus node or the document (``ref_doc_id``) of
    some nodes, else the fit would be meaningless."""
    parents = chunks_by_document(nodes)
    for name, ds in (("training", train), ("validation", val)):
        if ds is None:
            continue
        for qid in ds.query_ids:
            for doc in ds.relevant_docs[qid]:
                if doc not in nodes and doc not in parents:
                    text = ds.queries[qid]
                    question = text if len(text) <= 60 else text[:57] + "..."
                    raise UnknownIdError(
                        f"{name} query {qid!r} ({question!r}) marks {doc!r} relevant, but no "
                        "node has that id and no node comes from a document with that id "
                        "(ref_doc_id): add it to the corpus or fix the QA data"
                    )


def chunks_by_document(nodes: Mapping[str, BaseNode]) -> dict[str, list[str]]:
    """Node ids by the id of the document they were split from (``ref_doc_id``)."""
    out: dict[str, list[str]] = {}
    for nid, node in nodes.items():
        parent = node.ref_doc_id
        if parent is not None and parent != nid:
            out.setdefault(parent, []).append(nid)
    return out
