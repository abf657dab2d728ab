"""Training queries for LlamaIndex nodes: LLM questions (resumable) or pseudo-queries.

:func:`generate_qa_embedding_pairs` replaces the function of that name that
llama-index-core 0.14.21 dropped: same inputs (nodes, an LLM, a template with
``{context_str}`` and ``{num_questions_per_chunk}``), but calls run concurrently and a
save file records progress by node id, so a rerun resumes exactly where the last stopped.
:func:`generate_pseudo_queries` needs no LLM (the inverse cloze task).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index.core.llms import LLM
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.schema import BaseNode, MetadataMode

from nudge_integrations.core.async_utils import run_sync
from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pseudo_queries import inverse_cloze
from nudge_integrations.data.qa_generation import (
    _RUN_OPTION_NAMES,
    DEFAULT_QA_PROMPT,
    QAPromptTemplate,
    RunOptions,
    _check_option_names,
    agenerate_qa_dataset,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "agenerate_qa_embedding_pairs",
    "generate_pseudo_queries",
    "generate_qa_embedding_pairs",
]


def _pairs(nodes: Sequence[BaseNode], metadata_mode: MetadataMode) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        if not isinstance(node, BaseNode):
            raise NudgeError(f"node {i} is a {type(node).__name__}, not a LlamaIndex BaseNode")
        if node.node_id in seen:
            raise DuplicateIdError(f"node id {node.node_id!r} appears twice in nodes")
        seen.add(node.node_id)
        pairs.append((node.node_id, node.get_content(metadata_mode=metadata_mode)))
    return pairs


def _template(tmpl: str | BasePromptTemplate | None) -> QAPromptTemplate:
    if tmpl is None:
        return DEFAULT_QA_PROMPT
    if isinstance(tmpl, BasePromptTemplate):

        def fill(context_str: str, num_questions: int) -> str:
            return tmpl.format(context_str=context_str, num_questions_per_chunk=num_questions)

        return fill
    return tmpl


async def agenerate_qa_embedding_pairs(
    nodes: Sequence[BaseNode],
    llm: LLM | None = None,
    qa_generate_prompt_tmpl: str | BasePromptTemplate | None = None,
    num_questions_per_chunk: int = 2,
    *,
    output_path: str | Path | None = None,
    metadata_mode: MetadataMode = MetadataMode.NONE,
    **options: Unpack[RunOptions],
) -> QADataset:
    """Async :func:`generate_qa_embedding_pairs` (await it inside a running event loop)."""
    _check_option_names("agenerate_qa_embedding_pairs", options, _RUN_OPTION_NAMES)
    if llm is None:
        from llama_index.core import Settings

        llm = Settings.llm
    model = llm

    async def ask(prompt: str) -> str:
        response = await model.acomplete(prompt)
        return str(response.text)

    return await agenerate_qa_dataset(
        _pairs(nodes, metadata_mode),
        ask,
        num_questions_per_chunk=num_questions_per_chunk,
        prompt_template=_template(qa_generate_prompt_tmpl),
        save_path=output_path,
        **options,
    )


def generate_qa_embedding_pairs(
    nodes: Sequence[BaseNode],
    llm: LLM | None = None,
    qa_generate_prompt_tmpl: str | BasePromptTemplate | None = None,
    num_questions_per_chunk: int = 2,
    *,
    output_path: str | Path | None = None,
    metadata_mode: MetadataMode = MetadataMode.NONE,
    **options: Unpack[RunOptions],
) -> QADataset:
    """Ask ``llm`` for ``num_questions_per_chunk`` questions about each node.

    ``nodes`` are LlamaIndex nodes (their ``node_id`` becomes the corpus id, their
    content under ``metadata_mode``, by default without metadata, the corpus text);
    ``llm`` any LlamaIndex LLM (default ``Settings.llm``), called with
    ``await llm.acomplete(prompt)``, ``max_concurrency`` at a time.
    ``qa_generate_prompt_tmpl`` is a string (or ``PromptTemplate``) with
    ``{context_str}`` and ``{num_questions_per_chunk}``, as for the former LlamaIndex
    function; the default asks for one question per line, and any common list format
    in the answer is understood.

    With ``output_path`` the dataset is saved there in batches as nodes finish and when
    the run ends (also on an error or Ctrl-C), in the
    ``EmbeddingQAFinetuneDataset`` JSON schema plus a ``"generation"`` progress record;
    if the file exists, only nodes not yet done (or failed before) are asked. A call
    that fails ``retries + 1`` times is recorded as failed, reported in a
    ``QAGenerationWarning`` and retried on the next run. Query ids are
    ``"<node_id>#q<i>"``; the corpus holds every node, failed ones too.

    The keyword ``options`` (``max_concurrency``, ``save_every``, ``save_interval``,
    ``retries``, ``retry_backoff``, ``timeout``, ``show_progress``) are those of
    :class:`~nudge_integrations.data.qa_generation.RunOptions`; their defaults and
    meanings are listed in :class:`~nudge_integrations.data.qa_generation.GenerationOptions`
    (where ``output_path`` is ``save_path`` and ``qa_generate_prompt_tmpl`` is
    ``prompt_template``).
    """
    _check_option_names("generate_qa_embedding_pairs", options, _RUN_OPTION_NAMES)
    return run_sync(
        agenerate_qa_embedding_pairs(
            nodes,
            llm,
            qa_generate_prompt_tmpl,
            num_questions_per_chunk,
            output_path=output_path,
            metadata_mode=metadata_mode,
            **options,
        )
    )


def generate_pseudo_queries(
    nodes: Sequence[BaseNode],
    per_doc: int = 2,
    *,
    min_words: int = 6,
    remove: bool = True,
    seed: int = 0,
    metadata_mode: MetadataMode = MetadataMode.NONE,
) -> QADataset:
    """Queries without an LLM: sentences cut from each node (``inverse_cloze``).

    Up to ``per_doc`` sentences of ``min_words``+ words per node become queries
    ``"<node_id>#<n>"`` relevant to that node; with ``remove`` they are taken out of the
    node's corpus text. Nodes with too few sentences get fewer queries or none.
    """
    corpus = dict(_pairs(nodes, metadata_mode))
    if not corpus:
        raise NudgeError("no nodes given: pass at least one node")
    return inverse_cloze(corpus, per_doc=per_doc, min_words=min_words, remove=remove, seed=seed)
