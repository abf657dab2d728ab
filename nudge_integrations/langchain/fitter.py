"""``NudgeFitter``: NUDGE for LangChain documents and vector stores.

Fit from ``Document``s with ids (embedded with any ``Embeddings``) or from a vector store
(its documents and stored vectors, re-embedding only what it cannot return), then serve
a :class:`NudgeRetriever` or write the nudged vectors into the store in place, with
``revert`` to the base vectors and ``reapply`` after a re-index. The workflow is the one
the LlamaIndex adapter shares (``nudge_integrations.session``).

LangChain's ``index()`` API and plain re-adds (``add_documents``) re-embed documents and
overwrite whatever vector the store held, nudged or not. After such a re-index, call
:meth:`NudgeFitter.reapply` to write the nudge back (documents whose text changed are
skipped and reported, since their nudge no longer fits them).
"""

from __future__ import annotations

from typing import Any

from nudge_integrations.core.arguments import checked
from nudge_integrations.langchain.fitting import FitterCore, ReapplyReport
from nudge_integrations.langchain.retriever import NudgeRetriever

__all__ = ["NudgeFitter", "ReapplyReport"]


class NudgeFitter(FitterCore):
    """Construct with the embeddings and NUDGE parameters, ``fit``, then serve
    (:meth:`as_retriever`) or swap in (:meth:`swap_in`; ``revert``, ``status``,
    ``finish``, ``rollback``, ``reapply``, and their ``a...`` async forms).

    Learned state: ``documents_``, ``ids_``, ``base_vectors_`` (rows aligned with ids),
    ``result_`` (the core's :class:`NudgeResult`), ``notes_``, ``ledger_``, ``native_``,
    ``index_recall_``.

    With validation questions, the final nudge uses the training and validation questions
    at the gamma chosen on validation (``refit_with_validation=True``, measured better on
    SciFact: docs/paper-comparison.md); pass ``refit_with_validation=False`` for the
    reference's behaviour (training questions only).
    """

    @checked
    def as_retriever(self, k: int = 4, **kwargs: Any) -> NudgeRetriever:
        """An exact inner-product retriever over the nudged vectors."""
        return NudgeRetriever(
            documents=self.documents_,
            vectors=self.nudged_matrix(),
            embeddings=self.embeddings,
            k=k,
            **kwargs,
        )
