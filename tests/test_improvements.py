"""The measured improvement (refit with validation queries): switchable, faithful by default
in the core, on by default in the adapters, one argument away from the reference."""

from __future__ import annotations

import numpy as np
import pytest

from nudge_integrations import NudgeM, NudgeN
from nudge_integrations.core.params import check_fit_params

from .conftest import make_problem
from .optional import need


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_core_default_is_the_reference_behaviour(cls: type[NudgeN] | type[NudgeM]) -> None:
    p = make_problem(1)
    default = cls(device="cpu").fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
    faithful = cls(device="cpu", refit_with_validation=False).fit(
        p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel
    )
    np.testing.assert_array_equal(
        default.nudged_embeddings(p.corpus), faithful.nudged_embeddings(p.corpus)
    )
    assert cls().refit_with_validation is False


@pytest.mark.parametrize("cls", [NudgeN, NudgeM])
def test_refit_with_validation_nudges_with_every_labelled_query(
    cls: type[NudgeN] | type[NudgeM],
) -> None:
    p = make_problem(0)
    est = cls(device="cpu", refit_with_validation=True).fit(
        p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel
    )
    chosen = cls(device="cpu").fit(p.corpus, p.train_q, p.train_rel, p.val_q, p.val_rel)
    assert est.gamma_ == chosen.gamma_ > 0  # gamma still chosen on validation alone
    pooled = cls(device="cpu", gamma=est.gamma_).fit(
        p.corpus, np.vstack([p.train_q, p.val_q]), p.train_rel + p.val_rel
    )
    np.testing.assert_allclose(
        est.nudged_embeddings(p.corpus), pooled.nudged_embeddings(p.corpus), atol=1e-6
    )
    assert est.curve_ == chosen.curve_
    assert any("refit_with_validation" in n for n in est.result_.notes)
    # records judged only by validation queries move too
    val_only = {r for rel in p.val_rel for r in rel} - {r for rel in p.train_rel for r in rel}
    assert val_only & set(est.moved_ids_) or not val_only


def test_refit_with_validation_without_a_validation_set_changes_nothing() -> None:
    p = make_problem(2)
    a = NudgeN(device="cpu", refit_with_validation=True).fit(p.corpus, p.train_q, p.train_rel)
    b = NudgeN(device="cpu").fit(p.corpus, p.train_q, p.train_rel)
    np.testing.assert_array_equal(a.nudged_embeddings(p.corpus), b.nudged_embeddings(p.corpus))


def test_option_is_a_constructor_parameter() -> None:
    est = NudgeN(refit_with_validation=True)
    assert est.get_params()["refit_with_validation"] is True
    assert "refit_with_validation=True" in repr(est)
    assert check_fit_params({"refit_with_validation": False}, "M", "here") == {
        "refit_with_validation": False
    }


def _refit_noted(result: object) -> bool:
    return any("refit_with_validation" in n for n in result.notes)  # type: ignore[attr-defined]


def test_llama_index_engine_defaults_to_the_improvement() -> None:
    need("llama_index.core")
    from llama_index.core.schema import TextNode

    from nudge_integrations.llama_index import NudgeFinetuneEngine

    from .corpus import python_docs_qa
    from .llama_index.conftest import HashEmbedding

    dataset, parts = python_docs_qa()
    nodes = [TextNode(id_=d, text=t) for d, t in dataset.corpus.items()]
    kw = {"corpus": nodes, "val_dataset": parts["val"], "device": "cpu"}
    engine = NudgeFinetuneEngine(parts["train"], HashEmbedding(), **kw)  # type: ignore[arg-type]
    engine.finetune()
    assert engine.fit_params["refit_with_validation"] is True
    assert engine.result_ is not None and _refit_noted(engine.result_)
    faithful = NudgeFinetuneEngine(
        parts["train"],
        HashEmbedding(),
        refit_with_validation=False,
        **kw,  # type: ignore[arg-type]
    )
    faithful.finetune()
    assert faithful.result_ is not None and not _refit_noted(faithful.result_)


def test_langchain_fitter_defaults_to_the_improvement() -> None:
    need("langchain_core")
    from langchain_core.documents import Document

    from nudge_integrations.langchain import NudgeFitter

    from .corpus import python_docs_qa
    from .langchain.conftest import HashEmbeddings

    dataset, parts = python_docs_qa()
    docs = [Document(id=d, page_content=t) for d, t in dataset.corpus.items()]

    def pairs(name: str) -> list[tuple[str, list[str]]]:
        ds = parts[name]
        return [(ds.queries[q], ds.relevant_docs[q]) for q in ds.query_ids]

    fitter = NudgeFitter(HashEmbeddings(), device="cpu").fit(docs, pairs("train"), val=pairs("val"))
    assert fitter.fit_params["refit_with_validation"] is True
    assert _refit_noted(fitter.result_)
    faithful = NudgeFitter(HashEmbeddings(), device="cpu", refit_with_validation=False).fit(
        docs, pairs("train"), val=pairs("val")
    )
    assert not _refit_noted(faithful.result_)
