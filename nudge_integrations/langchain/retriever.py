"""``NudgeRetriever``: a LangChain retriever over NUDGE-fine-tuned document vectors.

It ranks exactly, by inner product by default (required for NUDGE-M, identical to
cosine for NUDGE-N's unit vectors). Build it from keyword arguments (documents, their
vectors, the query embeddings) or fit it in one call with :meth:`NudgeRetriever.fit`.
Results are copies of the documents with the score under ``metadata["score"]``; a
metadata ``filter`` (exact-match dict or ``Document -> bool``) narrows them before the top-k.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list
from numpy.typing import NDArray
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    field_serializer,
    field_validator,
    model_validator,
)

from nudge_integrations.core.arguments import check_keywords, checked, unknown_keyword
from nudge_integrations.core.errors import NudgeError, ShapeError
from nudge_integrations.core.search import exact_search
from nudge_integrations.core.validation import as_matrix
from nudge_integrations.langchain.fitting import FitterCore
from nudge_integrations.langchain.persist import (
    documents_from_state,
    documents_state,
    load_folder,
    save_folder,
)
from nudge_integrations.model_identity import model_identity, model_name

_SAVED = "nudge_retriever.json"
SCORE_KEY = "score"
"""Metadata key of the similarity score on every returned document."""

DocumentFilter = Mapping[str, Any] | Callable[[Document], bool]


class NudgeRetriever(BaseRetriever):
    """Exact top-``k`` retrieval over ``documents`` scored with ``vectors``.

    Each result is a copy of its document (changing it leaves the retriever as it was) with
    the score (inner product, or cosine) in ``metadata["score"]`` (``SCORE_KEY``), which
    replaces any ``"score"`` the document carried. ``filter`` (or ``invoke(..., filter=)``,
    which takes precedence) keeps only matching documents before the top-k: a dict of
    exact metadata matches, as in Chroma's simple ``where``, or a ``Document -> bool``
    callable, as in ``InMemoryVectorStore`` (it sees the stored documents: do not modify
    them).

    Example:
        .. code-block:: python

            retriever = NudgeRetriever.fit(docs, embeddings, {"What is X?": ["doc-1"]})
            retriever.invoke("What is X?", k=3, filter={"source": "manual"})
    """

    documents: list[Document]
    """The documents, in the order of ``vectors``' rows."""
    vectors: Any
    """Their (nudged) vectors: an ``(n, d)`` array or list of lists."""
    embeddings: Embeddings
    """The query embedding model (unchanged by NUDGE)."""
    k: int = Field(default=4, ge=1)
    """Number of documents to return."""
    similarity: Literal["dot", "cosine"] = "dot"
    """How to score: inner product (right for NUDGE-N and NUDGE-M) or cosine."""
    filter: dict[str, Any] | Callable[[Document], bool] | None = None
    """Keep only documents whose metadata has these exact values, or for which this
    callable returns True, before taking the top-k."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _matrix: NDArray[np.float32] = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        """Keyword arguments only (``documents``, ``vectors``, ``embeddings``, ...); one
        that is not a field is refused with the nearest field (pydantic ignores it)."""
        fields = type(self).model_fields
        known = set(fields) | {f.alias for f in fields.values() if f.alias}
        check_keywords(data, known, type(self).__name__)
        super().__init__(**data)

    #: (the embeddings, whether they embed queries as documents), once a batch found out.
    _symmetry: tuple[Any, bool] | None = PrivateAttr(default=None)

    @field_serializer("vectors")
    def _vectors_as_lists(self, vectors: Any) -> list[list[float]]:
        """Arrays as nested lists, so ``model_dump_json`` works (``save`` is far smaller)."""
        rows: list[list[float]] = self._matrix.tolist()
        return rows

    @field_serializer("embeddings")
    def _embeddings_by_name(self, embeddings: Any) -> dict[str, str]:
        """The model's name and class, never the model."""
        return model_identity(embeddings)

    @model_validator(mode="after")
    def _check_vectors(self) -> NudgeRetriever:
        matrix = as_matrix(self.vectors, "vectors", min_rows=1)
        if matrix.shape[0] != len(self.documents):
            raise ShapeError(
                f"got {matrix.shape[0]} vectors for {len(self.documents)} documents: pass one "
                "vector per document, in the same order"
            )
        self._matrix = matrix
        return self

    @field_validator("filter", mode="before")
    @classmethod
    def _check_filter(cls, value: Any) -> Any:
        return None if value is None else _checked_filter(value)

    @field_serializer("filter")
    def _filter_by_name(self, value: Any) -> Any:
        """A callable filter by name (functions do not serialise); a dict as it is."""
        if value is None or isinstance(value, Mapping):
            return value
        return getattr(value, "__qualname__", type(value).__name__)

    def _search(
        self,
        query_vector: Sequence[float],
        k: int | None,
        filter: DocumentFilter | None = None,
    ) -> list[Document]:
        top = self.k if k is None else k
        if not isinstance(top, int) or top < 1:
            raise NudgeError(f"k must be a positive integer, got {top!r}")
        chosen = self.filter if filter is None else _checked_filter(filter)
        vec = np.asarray(query_vector, dtype=np.float32)
        if vec.shape != (self._matrix.shape[1],):
            raise ShapeError(
                f"the query embedding has dimension {vec.size} but the document vectors "
                f"{self._matrix.shape[1]}: use the embedding model the documents were embedded with"
            )
        exclude = None if chosen is None else ~_keep_mask(self.documents, chosen)
        eligible = len(self.documents) if exclude is None else int((~exclude).sum())
        if eligible == 0:
            return []
        scores, rows = exact_search(
            vec[None, :],
            self._matrix,
            min(top, eligible),
            similarity=self.similarity,
            device="cpu",
            exclude=exclude,
        )
        return [
            _scored_copy(self.documents[int(r)], float(score))
            for score, r in zip(scores[0], rows[0], strict=True)
            if r >= 0
        ]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: DocumentFilter | None = None,
        _query_vector: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        vector = self.embeddings.embed_query(query) if _query_vector is None else _query_vector
        return self._search(vector, k, filter)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: DocumentFilter | None = None,
        _query_vector: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        if _query_vector is None:
            _query_vector = await self.embeddings.aembed_query(query)
        return self._search(_query_vector, k, filter)

    # ---------------------------------------------------------------- batches
    def batch(
        self,
        inputs: list[str],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[list[Document]]:
        """Retrieve for many questions, embedding them in one ``embed_documents`` call.

        Each question is then searched as :meth:`invoke` would (its own config, callbacks
        and run), with the same results. The first batch also embeds its first question
        with ``embed_query``: a model that embeds queries unlike documents (an
        instruction prefix, an ``input_type``) is found so, and its questions are then
        embedded one by one with ``embed_query``, as :meth:`invoke` does."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        try:
            vectors = self._batch_vectors(inputs)
        except Exception:
            if not return_exceptions:
                raise
            vectors = None  # each question on its own, so each gets its own outcome
        if vectors is None:
            return super().batch(inputs, configs, return_exceptions=return_exceptions, **kwargs)
        out: list[Any] = []
        for query, conf, vector in zip(inputs, configs, vectors, strict=True):
            try:
                out.append(self.invoke(query, conf, _query_vector=vector, **kwargs))
            except Exception as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out

    async def abatch(
        self,
        inputs: list[str],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[list[Document]]:
        """:meth:`batch` with ``aembed_documents`` (and ``aembed_query``)."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        try:
            vectors = await self._abatch_vectors(inputs)
        except Exception:
            if not return_exceptions:
                raise
            vectors = None
        if vectors is None:
            return await super().abatch(
                inputs, configs, return_exceptions=return_exceptions, **kwargs
            )
        out: list[Any] = []
        for query, conf, vector in zip(inputs, configs, vectors, strict=True):
            try:
                out.append(await self.ainvoke(query, conf, _query_vector=vector, **kwargs))
            except Exception as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out

    def _batch_vectors(self, queries: list[str]) -> list[list[float]] | None:
        """The questions' vectors from one ``embed_documents`` call, or None where this
        model embeds queries otherwise (found once, with one ``embed_query``)."""
        if self._symmetric() is False:
            return None
        vectors = self._checked_batch(queries, self.embeddings.embed_documents(queries))
        if self._symmetric() is None:
            self._same_as_queries(vectors[0], self.embeddings.embed_query(queries[0]))
        return vectors if self._symmetric() else None

    async def _abatch_vectors(self, queries: list[str]) -> list[list[float]] | None:
        if self._symmetric() is False:
            return None
        got = await self.embeddings.aembed_documents(queries)
        vectors = self._checked_batch(queries, got)
        if self._symmetric() is None:
            self._same_as_queries(vectors[0], await self.embeddings.aembed_query(queries[0]))
        return vectors if self._symmetric() else None

    def _symmetric(self) -> bool | None:
        """Whether these embeddings embed a query as they embed a document (None: not
        known yet)."""
        known = self._symmetry
        return known[1] if known is not None and known[0] is self.embeddings else None

    def _same_as_queries(self, as_document: Sequence[float], as_query: Sequence[float]) -> None:
        """Note whether a text embedded as a document equals it embedded as a query (up
        to the rounding a batch of another shape brings)."""
        doc = np.asarray(as_document, dtype=np.float64)
        query = np.asarray(as_query, dtype=np.float64)
        scale = float(np.abs(query).max()) if query.size else 0.0
        same = doc.shape == query.shape and bool(
            np.abs(doc - query).max(initial=0.0) <= 1e-4 * max(scale, 1e-12)
        )
        self._symmetry = (self.embeddings, same)

    @staticmethod
    def _checked_batch(queries: list[str], vectors: list[list[float]]) -> list[list[float]]:
        if len(vectors) != len(queries):
            raise ShapeError(
                f"embed_documents returned {len(vectors)} vectors for {len(queries)} "
                "questions: the embeddings must return one vector per text"
            )
        return vectors

    @classmethod
    @checked
    def fit(
        cls,
        documents: Sequence[Document] | Any,
        embeddings: Embeddings,
        train: Any,
        *,
        val: Any = None,
        variant: Literal["N", "M"] = "N",
        k: int = 4,
        id_key: str | None = None,
        **fit_params: Any,
    ) -> NudgeRetriever:
        """Fit NUDGE on ``documents`` (or a vector store) and QA pairs; return the retriever.

        ``train``/``val``: ``{question: [doc ids]}``, ``[(question, [doc ids])]`` or a
        ``QADataset``; ``id_key``: the metadata field holding the ids they use (see
        :meth:`NudgeFitter.fit`). ``fit_params`` go to :class:`NudgeFitter`.
        """
        takes = FitterCore.accepted(variant) - {"embeddings", "variant", "k"}
        for key in fit_params:
            if key not in takes:
                own = {"documents", "embeddings", "train", "val", "variant", "k", "id_key"}
                raise unknown_keyword(key, f"{cls.__name__}.fit", takes | own)
        fitter = FitterCore(embeddings, variant=variant, **fit_params)
        fitter.fit(documents, train, val=val, id_key=id_key)
        return cls(
            documents=fitter.documents_,
            vectors=fitter.nudged_matrix(),
            embeddings=embeddings,
            k=k,
        )

    # ---------------------------------------------------------------- summary
    def __repr_args__(self) -> list[tuple[str, Any]]:
        """Summarise (counts, dimension, settings, model name) so repr never dumps the data."""
        return [
            ("documents", len(self.documents)),
            ("dim", int(self._matrix.shape[1])),
            ("k", self.k),
            ("similarity", self.similarity),
            ("embeddings", model_name(self.embeddings)),
        ]

    # ---------------------------------------------------------------- persistence
    @checked
    def save(self, path: str | Path) -> Path:
        """Write the vectors (``.npy``) and documents, settings and model name (JSON) to a
        folder, without pickle, so a new process can :meth:`load` it. Returns the folder."""
        state = {
            "k": self.k,
            "similarity": self.similarity,
            "tags": self.tags,
            "metadata": self.metadata,
            "n_documents": len(self.documents),
            "dim": int(self._matrix.shape[1]),
            "documents": documents_state(self.documents),
        }
        return save_folder(
            path, state, {"vectors": self._matrix}, json_name=_SAVED, embeddings=self.embeddings
        )

    @classmethod
    @checked
    def load(
        cls, path: str | Path, embeddings: Embeddings, *, check_model: bool = True
    ) -> NudgeRetriever:
        """Rebuild a retriever written by :meth:`save`, querying with ``embeddings``.

        The vectors only make sense with the model they were made with: a different model
        name is refused unless ``check_model=False``.
        """
        state, arrays = load_folder(
            path,
            ["vectors"],
            json_name=_SAVED,
            what="NudgeRetriever",
            embeddings=embeddings,
            check_model=check_model,
        )
        try:
            documents = documents_from_state(state["documents"])
            k, similarity = state["k"], state["similarity"]
        except (KeyError, TypeError) as exc:
            raise NudgeError(f"{Path(path) / _SAVED} is incomplete (no {exc}): save again") from exc
        return cls(
            documents=documents,
            vectors=arrays["vectors"],
            embeddings=embeddings,
            k=k,
            similarity=similarity,
            tags=state.get("tags"),
            metadata=state.get("metadata"),
        )


# ---------------------------------------------------------------- filters and results
def _checked_filter(value: Any) -> DocumentFilter:
    """A dict of exact metadata matches or a callable; operator syntax is refused."""
    if isinstance(value, Mapping):
        for key, expected in value.items():
            nested = isinstance(expected, Mapping) and any(str(k).startswith("$") for k in expected)
            if not isinstance(key, str) or key.startswith("$") or nested:
                raise NudgeError(
                    f"filter {{{key!r}: {expected!r}}} uses operator syntax, but a dict filter "
                    "only matches exact metadata values: pass a callable such as "
                    "filter=lambda doc: ... for anything else"
                )
        return value
    if callable(value):
        return value  # type: ignore[no-any-return]
    raise NudgeError(
        f"filter must be a dict of exact metadata values or a callable Document -> bool, "
        f"not {type(value).__name__}"
    )


_ABSENT = object()


def _keep_mask(documents: Sequence[Document], chosen: DocumentFilter) -> NDArray[np.bool_]:
    if isinstance(chosen, Mapping):
        wanted = list(chosen.items())
        keep = [
            all(doc.metadata.get(key, _ABSENT) == value for key, value in wanted)
            for doc in documents
        ]
    else:
        keep = [bool(chosen(doc)) for doc in documents]
    return np.array(keep, dtype=bool)


def _scored_copy(document: Document, score: float) -> Document:
    """A deep copy, so nothing done to a result reaches the stored document."""
    copy = document.model_copy(deep=True)
    copy.metadata[SCORE_KEY] = score
    return copy
