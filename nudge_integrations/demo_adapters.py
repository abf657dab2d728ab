"""The demo through an adapter: the framework's default in-memory index over the offline
corpus, NUDGE fitted and swapped into it, before/after tables, example queries, plots.

Everything is embedded once by the offline all-MiniLM-L6-v2 (cached on disk); the
framework's embedding object looks vectors up by text, so the index, the fit and the
evaluation see exactly the vectors the core demo uses.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.splits import paper_split
from nudge_integrations.demo import CORPUS_NAME, DemoReport, demo_dataset
from nudge_integrations.embedding import default_cache_dir, embed_texts, load_minilm

Ranker = Callable[[str], list[str]]


class Vectors:
    """MiniLM vectors of the demo's texts by text; anything else is embedded on demand."""

    def __init__(self, texts: Sequence[str], cache_dir: Path | None) -> None:
        self.cache = cache_dir if cache_dir is not None else default_cache_dir()
        self.model: Any = load_minilm("cpu")
        unique = list(dict.fromkeys(texts))
        matrix = embed_texts(unique, self.model, cache_dir=self.cache, progress=False)
        self.table: dict[str, NDArray[np.float32]] = dict(zip(unique, matrix, strict=True))

    def __call__(self, text: str) -> list[float]:
        vec = self.table.get(text)
        if vec is None:
            vec = embed_texts([text], self.model, progress=False)[0]
            self.table[text] = vec
        return [float(x) for x in vec]


@contextlib.contextmanager
def _serving_m_by_inner_product() -> Iterator[None]:
    """Silence the warning that a NUDGE-M fit reads a cosine store, which would refuse its
    vectors: the demo never swaps NUDGE-M in, it serves it by exact inner product
    (``as_retriever()``), as that warning advises."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="this NUDGE-M fit reads", category=UserWarning)
        yield


def demo_data(
    max_passages: int, dataset: str | None = None
) -> tuple[QADataset, dict[str, QADataset]]:
    """The offline help-topics corpus with inverse-cloze queries, or a public BEIR dataset
    (``dataset``, see :func:`nudge_integrations.data.download.beir_folder`)."""
    if dataset is not None:
        from nudge_integrations.data.beir import load_beir
        from nudge_integrations.data.download import beir_folder

        qa = load_beir(beir_folder(dataset))
        return qa, paper_split(qa)
    return demo_dataset(max_passages)


def examples(
    test: QADataset, before: Ranker, after: Ranker, *, n: int = 3, depth: int = 3
) -> list[str]:
    """Test queries whose relevant passage rose the most, with the top results before and
    after (``*`` marks a relevant passage)."""
    scored = []
    for q in test.query_ids:
        relevant = set(test.relevant_docs[q])
        b, a = before(test.queries[q]), after(test.queries[q])
        rank_b = min((r for r, d in enumerate(b) if d in relevant), default=len(b))
        rank_a = min((r for r, d in enumerate(a) if d in relevant), default=len(a))
        if rank_a < rank_b and rank_a < depth:
            scored.append((rank_b - rank_a, q, b, a))
    scored.sort(key=lambda t: -t[0])
    lines: list[str] = []
    for _, q, b, a in scored[:n]:
        relevant = set(test.relevant_docs[q])
        lines.append(f'query: "{test.queries[q]}"')
        for label, ranked in (("before", b), ("after ", a)):
            shown = ", ".join(f"{d}{'*' if d in relevant else ''}" for d in ranked[:depth])
            lines.append(f"  {label}: {shown}")
    return lines


def _plots(
    result: Any, table: dict[str, dict[str, float]], out: Path | None, dataset: str
) -> list[str]:
    """The gamma curve (validation split) and the before/after chart (test split), titled
    with the dataset; none without the ``plots`` extra."""
    if out is None:
        return []
    try:
        from nudge_integrations.core import plots

        paths = [out / "curve.png", out / "comparison.png"]
        plots.plot_curve(result, paths[0], dataset=dataset)
        plots.plot_comparison(table, paths[1], dataset=dataset, split="test")
    except ImportError:
        return []
    return [str(p) for p in paths]


def _report(
    framework: str,
    dataset: str | None,
    parts: dict[str, QADataset],
    table: dict[str, dict[str, float]],
    results: list[Any],
    examples: list[str],
    out: Path | None,
) -> DemoReport:
    """The demo's report: sizes of the corpus and splits, the fits' summaries (NUDGE-N
    first, whose curve is plotted), the table and the plots."""
    return DemoReport(
        table=table,
        summaries=[r.summary() for r in results],
        sizes={"corpus": len(parts["train"].corpus), **{k: len(v) for k, v in parts.items()}},
        corpus_name=dataset or "",
        framework=framework,
        examples=examples,
        plots=_plots(results[0], table, out, dataset or CORPUS_NAME),
    )


def run_llama_index_demo(
    *,
    max_passages: int = 400,
    cache_dir: Path | None = None,
    out: Path | None = None,
    dataset: str | None = None,
) -> DemoReport:
    """LlamaIndex: VectorStoreIndex -> NudgeFinetuneEngine -> apply_to_index -> retrieve."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import TextNode
    from pydantic import PrivateAttr

    from nudge_integrations.llama_index import NudgeFinetuneEngine
    from nudge_integrations.llama_index.evaluation import compare_retrievers

    dataset_qa, parts = demo_data(max_passages, dataset)
    vectors = Vectors([*dataset_qa.corpus.values(), *dataset_qa.queries.values()], cache_dir)

    class MiniLM(BaseEmbedding):
        _vectors: Vectors = PrivateAttr()

        def __init__(self, table: Vectors) -> None:
            super().__init__(model_name="all-MiniLM-L6-v2")
            self._vectors = table

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._vectors(text)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._vectors(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._vectors(query)

    embed = MiniLM(vectors)
    nodes = [TextNode(id_=d, text=t) for d, t in dataset_qa.corpus.items()]
    index = VectorStoreIndex(nodes, embed_model=embed)
    test = parts["test"]
    before_ret = index.as_retriever(similarity_top_k=10)
    before_ranked = {q: [n.node.node_id for n in before_ret.retrieve(q)] for q in
                     test.queries.values()}  # fmt: skip
    table = compare_retrievers({"no fine-tuning": before_ret}, test)
    engines = {}
    for variant in ("N", "M"):
        eng = NudgeFinetuneEngine(
            parts["train"], embed, corpus=index, val_dataset=parts["val"], variant=variant
        )
        with _serving_m_by_inner_product():
            eng.finetune()
        engines[variant] = eng
    with tempfile.TemporaryDirectory() as ledger:
        engines["N"].apply_to_index(index, ledger=ledger)  # the nudged vectors, in the index
        after_ret = index.as_retriever(similarity_top_k=10)
        table.update(compare_retrievers({"NUDGE-N, in the index": after_ret}, test))
        table.update(
            compare_retrievers(
                {"NUDGE-M, as_retriever()": engines["M"].as_retriever(similarity_top_k=10)}, test
            )
        )
        lines = examples(
            test,
            lambda q: before_ranked[q],
            lambda q: [n.node.node_id for n in after_ret.retrieve(q)],
        )
        engines["N"].revert_index(index, ledger=ledger)
    results = [e.result_ for e in engines.values() if e.result_ is not None]
    return _report(
        "LlamaIndex (VectorStoreIndex, default SimpleVectorStore)",
        dataset, parts, table, results, lines, out,
    )  # fmt: skip


def run_langchain_demo(
    *,
    max_passages: int = 400,
    cache_dir: Path | None = None,
    out: Path | None = None,
    dataset: str | None = None,
) -> DemoReport:
    """LangChain: InMemoryVectorStore -> NudgeFitter -> swap_in -> similarity_search."""
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.vectorstores import InMemoryVectorStore

    from nudge_integrations.langchain import NudgeFitter
    from nudge_integrations.langchain.evaluation import compare_retrievers

    dataset_qa, parts = demo_data(max_passages, dataset)
    vectors = Vectors([*dataset_qa.corpus.values(), *dataset_qa.queries.values()], cache_dir)

    class MiniLM(Embeddings):
        model_name = "all-MiniLM-L6-v2"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [vectors(t) for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return vectors(text)

    embed = MiniLM()
    store = InMemoryVectorStore(embed)
    docs = [Document(id=d, page_content=t) for d, t in dataset_qa.corpus.items()]
    store.add_documents(docs)
    test = parts["test"]
    retriever = store.as_retriever(search_kwargs={"k": 10})
    before_ranked = {q: [str(d.id) for d in retriever.invoke(q)] for q in test.queries.values()}
    table = compare_retrievers({"no fine-tuning": retriever}, test)
    with _serving_m_by_inner_product():
        fitters = {
            v: NudgeFitter(embed, variant=v, queries_as_documents=True).fit(
                store, parts["train"], val=parts["val"]
            )
            for v in ("N", "M")
        }
    with tempfile.TemporaryDirectory() as ledger:
        fitters["N"].swap_in(store, ledger=ledger)
        table.update(compare_retrievers({"NUDGE-N, in the store": retriever}, test))
        table.update(
            compare_retrievers({"NUDGE-M, NudgeRetriever": fitters["M"].as_retriever(k=10)}, test)
        )
        lines = examples(
            test, lambda q: before_ranked[q], lambda q: [str(d.id) for d in retriever.invoke(q)]
        )
        fitters["N"].revert(store, ledger=ledger)
    results = [f.result_ for f in fitters.values()]
    return _report("LangChain (InMemoryVectorStore)", dataset, parts, table, results, lines, out)
