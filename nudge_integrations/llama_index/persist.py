"""A LlamaIndex engine's folder: nodes (a docstore), base and nudged vectors, QA data,
settings, gamma and the embed model's name (never the model itself)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core import Settings
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode
from llama_index.core.storage.docstore import SimpleDocumentStore
from numpy.typing import NDArray

from nudge_integrations.core import NudgeResult
from nudge_integrations.core.errors import NudgeError
from nudge_integrations.data.dataset import QADataset
from nudge_integrations.session.persist import check_model_identity, recorded_identity

STATE = "nudge_engine.json"


@dataclass
class SavedEngine:
    """What :func:`load_engine` read: the engine's constructor inputs and its fit."""

    nodes: list[BaseNode]
    train: QADataset
    val: QADataset | None
    state: dict[str, Any]
    result: NudgeResult | None
    embed_model: BaseEmbedding


def save_engine(
    persist_dir: str | Path,
    *,
    nodes: list[BaseNode],
    base: NDArray[np.float32],
    train: QADataset,
    val: QADataset | None,
    state: dict[str, Any],
    result: NudgeResult | None,
    embed_model: BaseEmbedding,
) -> None:
    """Write an engine's folder; its JSON state (with the model's name) last."""
    root = Path(persist_dir)
    root.mkdir(parents=True, exist_ok=True)
    docstore = SimpleDocumentStore()
    docstore.add_documents(nodes)
    docstore.persist(str(root / "docstore.json"))
    np.save(root / "base.npy", base)
    train.save_json(root / "train.json")
    if val is not None:
        val.save_json(root / "val.json")
    full = {**state, "embed_model": recorded_identity(embed_model), "result": None}
    if result is not None:
        np.save(root / "nudged.npy", result.vectors)
        full["result"] = result.to_state()
    (root / STATE).write_text(json.dumps(full, indent=2))


def load_engine(
    persist_dir: str | Path, embed_model: BaseEmbedding | None, *, check_model: bool
) -> SavedEngine:
    """Read what :func:`save_engine` wrote, the embed model checked against the saved name
    (``Settings.embed_model`` when none is given)."""
    root = Path(persist_dir)
    for name in (STATE, "docstore.json", "base.npy", "train.json"):
        if not (root / name).is_file():
            raise NudgeError(
                f"{root} holds no persisted NUDGE engine ({name} is missing): pass the "
                "folder given to persist(), or persist again"
            )
    try:
        state = json.loads((root / STATE).read_text())
    except json.JSONDecodeError as exc:
        raise NudgeError(f"{root / STATE} is not valid JSON ({exc}): persist again") from exc
    recorded: dict[str, Any] | None = state.get("embed_model")  # None in older folders
    if embed_model is None:
        try:
            embed_model = Settings.embed_model
        except (ImportError, ValueError) as exc:
            made_with = (
                f"{recorded['name']!r} ({recorded['class']})"
                if recorded
                else "the embed model it was fitted with"
            )
            raise NudgeError(
                f"the engine in {root} was fitted with embed model {made_with}, and no "
                f"embed_model was given; LlamaIndex's default could not be built ({exc}): "
                "pass embed_model=<that model>"
            ) from exc
    if check_model and recorded:
        check_model_identity(recorded, embed_model, str(root))
    docstore = SimpleDocumentStore.from_persist_path(str(root / "docstore.json"))
    nodes = [docstore.get_node(nid) for nid in state["node_ids"]]
    base = np.load(root / "base.npy")
    for node, vec in zip(nodes, base, strict=True):
        node.embedding = vec.tolist()
    val_path = root / "val.json"
    saved = state["result"]
    result = None
    if saved is not None:
        result = NudgeResult.from_state(
            saved,
            np.load(root / "nudged.npy"),
            variant=state["variant"],
            n_records=base.shape[0],
            dim=base.shape[1],
        )
    return SavedEngine(
        nodes,
        QADataset.from_json(root / "train.json"),
        QADataset.from_json(val_path) if val_path.is_file() else None,
        state,
        result,
        embed_model,
    )
