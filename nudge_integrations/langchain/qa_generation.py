"""Training queries for LangChain documents, asked of any LangChain chat model.

Structured output (a ``questions`` list) is used where the model supports it, plain
text parsed by :func:`~nudge_integrations.data.qa_generation.parse_questions` where it
does not. Concurrency, retries and resumable progress (by document id) come from
:func:`~nudge_integrations.data.qa_generation.agenerate_qa_dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field

from nudge_integrations.core.async_utils import run_sync
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.data.pseudo_queries import inverse_cloze
from nudge_integrations.data.qa_generation import (
    GenerationOptions,
    _check_option_names,
    agenerate_qa_dataset,
)
from nudge_integrations.langchain.ids import document_ids

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GeneratedQuestions", "agenerate_qa_pairs", "generate_qa_pairs"]


class GeneratedQuestions(BaseModel):
    """Questions that a passage answers."""

    questions: list[str] = Field(
        description="Questions a user might ask that the passage answers, one per item"
    )


def _pairs(documents: Sequence[Document], id_key: str | None) -> list[tuple[str, str]]:
    ids = document_ids(documents, id_key)
    return [(i, doc.page_content) for i, doc in zip(ids, documents, strict=True)]


def _message_text(message: Any) -> str:
    if isinstance(message, str):
        return message
    content = message.content if isinstance(message, BaseMessage) else message
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, Mapping) and part.get("type") == "text")
        ]
        return "\n".join(parts)
    raise TypeError(f"the model returned {type(message).__name__}, not a message")


def _structured_questions(out: Any) -> list[str] | str:
    """Questions from a structured-output result (a raw message's text when parsing failed)."""
    if isinstance(out, Mapping) and "raw" in out and "parsed" in out:
        if out["parsed"] is not None:
            return _structured_questions(out["parsed"])
        raw = out["raw"]
        for call in getattr(raw, "tool_calls", None) or []:
            questions = call.get("args", {}).get("questions")
            if isinstance(questions, list):
                return [str(q) for q in questions]
        return _message_text(raw)
    if isinstance(out, GeneratedQuestions):
        return list(out.questions)
    if isinstance(out, Mapping) and isinstance(out.get("questions"), list):
        return [str(q) for q in out["questions"]]
    if isinstance(out, str | BaseMessage):
        return _message_text(out)
    raise TypeError(f"structured output gave {type(out).__name__}, expected GeneratedQuestions")


def _structured_runnable(
    chat_model: BaseLanguageModel[Any], structured: bool | None
) -> Runnable[Any, Any] | None:
    if structured is False:
        return None
    try:
        try:
            return chat_model.with_structured_output(GeneratedQuestions, include_raw=True)
        except TypeError:  # a model whose with_structured_output takes no include_raw
            return chat_model.with_structured_output(GeneratedQuestions)
    except NotImplementedError as exc:
        if structured:
            raise NudgeError(
                f"{type(chat_model).__name__} does not support structured output: pass "
                "structured=None (fall back to text) or structured=False"
            ) from exc
        return None


async def agenerate_qa_pairs(
    documents: Sequence[Document],
    chat_model: BaseLanguageModel[Any],
    *,
    id_key: str | None = None,
    structured: bool | None = None,
    **options: Unpack[GenerationOptions],
) -> QADataset:
    """Async :func:`generate_qa_pairs` (await it inside a running event loop)."""
    _check_option_names("agenerate_qa_pairs", options)
    pairs = _pairs(documents, id_key)
    runnable = _structured_runnable(chat_model, structured)

    async def ask(prompt: str) -> str | list[str]:
        if runnable is not None:
            return _structured_questions(await runnable.ainvoke(prompt))
        return _message_text(await chat_model.ainvoke(prompt))

    return await agenerate_qa_dataset(pairs, ask, **options)


def generate_qa_pairs(
    documents: Sequence[Document],
    chat_model: BaseLanguageModel[Any],
    *,
    id_key: str | None = None,
    structured: bool | None = None,
    **options: Unpack[GenerationOptions],
) -> QADataset:
    """Ask ``chat_model`` for ``num_questions_per_chunk`` questions about each document.

    Each document's id is ``doc.metadata[id_key]`` when ``id_key`` is given (and set),
    else ``doc.id``; a document with neither raises a :class:`NudgeError` naming its
    index. ``chat_model`` is any LangChain chat model, called with ``ainvoke``,
    ``max_concurrency`` at a time. ``structured=None`` uses
    ``with_structured_output`` (a ``questions`` list) where the model implements it and
    plain text otherwise; ``True`` requires it, ``False`` always uses text.

    ``save_path`` makes the run resumable: progress is saved by document id, and a rerun
    asks only documents not yet done (failed ones included). A call failing ``retries + 1``
    times is recorded as failed and reported in a ``QAGenerationWarning``. Returns a
    :class:`QADataset` over every document with queries ``"<doc_id>#q<i>"``.

    The other keyword ``options`` (``num_questions_per_chunk``, ``prompt_template``,
    ``max_concurrency``, ``save_path``, ``save_every``, ``save_interval``, ``retries``,
    ``retry_backoff``, ``timeout``, ``show_progress``), with their defaults and meanings,
    are listed in :class:`~nudge_integrations.data.qa_generation.GenerationOptions`.
    """
    _check_option_names("generate_qa_pairs", options)
    return run_sync(
        agenerate_qa_pairs(documents, chat_model, id_key=id_key, structured=structured, **options)
    )


def generate_pseudo_queries(
    documents: Sequence[Document],
    per_doc: int = 2,
    *,
    id_key: str | None = None,
    min_words: int = 6,
    remove: bool = True,
    seed: int = 0,
) -> QADataset:
    """Queries without an LLM: sentences cut from each document (``inverse_cloze``).

    Up to ``per_doc`` sentences of ``min_words``+ words per document become queries
    ``"<doc_id>#<n>"`` relevant to it; with ``remove`` they are taken out of the
    document's corpus text.
    """
    corpus = dict(_pairs(documents, id_key))
    if not corpus:
        raise NudgeError("no documents given: pass at least one Document")
    return inverse_cloze(corpus, per_doc=per_doc, min_words=min_words, remove=remove, seed=seed)
