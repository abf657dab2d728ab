"""``status`` after a full revert, from a new store object (as in a new process): the
store is said to hold its base vectors, and, where its ledger is found, what was last
reverted and when (never "nothing was ever swapped in")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from nudge_integrations.langchain import NudgeFitter, status
from nudge_integrations.stores.ledger import NudgeLedger

from .conftest import HashEmbeddings


def test_status_after_a_full_revert_says_base_and_what_was_reverted(
    qa: dict[str, Any], embeddings: HashEmbeddings, tmp_path: Path
) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents([Document(id=d.id, page_content=d.page_content) for d in qa["docs"]])
    fitter = NudgeFitter(embeddings).fit(store, qa["pairs"]("train"), val=qa["pairs"]("val"))
    swapped = fitter.swap_in(store)
    nudged = str(status(store))
    assert nudged.startswith("nudged:") and "last change: swap on " in nudged
    fit_id = NudgeLedger(swapped.ledger).active  # type: ignore[arg-type]
    reverted = fitter.revert(store)
    store.dump(str(tmp_path / "store.json"))
    again = InMemoryVectorStore.load(str(tmp_path / "store.json"), embeddings)  # a new object

    # its ledger is not found from the store (the revert removed the markers)
    found = str(status(again))
    assert "nothing was ever swapped in" not in found
    assert "holds its base vectors" in found and "reverted in full" in found

    # found by path (or by the fitter that swapped): what was reverted, and when
    for text in (str(status(again, ledger=swapped.ledger)), str(fitter.status(again))):
        assert text.startswith("base:")
        assert "the store holds its base vectors; last change: revert on " in text
        assert re.search(r"on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text)
        assert f"fit {fit_id} (NUDGE-N, gamma " in text and "model HashEmbeddings" in text
        assert f"0 records nudged, {len(reverted.restored)} given their base back" in text
