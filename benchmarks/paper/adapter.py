"""A linear query adapter, the shape of LlamaIndex's adapter fine-tuning engine.

Only queries change: ``q' = normalise(W q + b)`` with ``W`` starting at the identity and
``b`` at zero, so epoch 0 is exactly no fine-tuning; records keep their base vectors.
Training minimises the in-batch-negatives ranking loss (softmax cross-entropy over
``scale * cos(q'_i, e_j)`` for the records ``e_j`` of the batch, positive on the
diagonal, scale 20) with Adam, on (training query, relevant record) pairs in batches
where no record repeats. After each epoch the validation queries are scored by exact
search over the whole corpus (cheap: the records never change); training stops after
``patience`` epochs without a better validation NDCG@10 and the best epoch is kept.
Written here for the benchmark, in torch; it is not part of the package.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray

from benchmarks.paper.data import Queries, batches_without_repeats, normalise, score


@dataclass
class LinearAdapter:
    """The trained query map and its training record."""

    weight: NDArray[np.float32]
    bias: NDArray[np.float32]
    best_epoch: int
    epochs: int
    fit_s: float
    lr: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def __call__(self, queries: NDArray[np.float32]) -> NDArray[np.float32]:
        return normalise(np.asarray(queries @ self.weight.T + self.bias, dtype=np.float32))


def train_adapter_lr_grid(
    corpus: NDArray[np.float32],
    train: Queries,
    val: Queries,
    lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3),
    **kwargs: float,
) -> LinearAdapter:
    """:func:`train_adapter` at each learning rate, the best on validation kept; its
    ``fit_s`` is the whole search."""
    start = time.perf_counter()
    runs = [train_adapter(corpus, train, val, lr=lr, **kwargs) for lr in lrs]  # type: ignore[arg-type]
    scores = [a.history[a.best_epoch]["val_ndcg@10"] for a in runs]
    best = runs[int(np.argmax(scores))]
    best.fit_s = time.perf_counter() - start
    return best


def train_adapter(
    corpus: NDArray[np.float32],
    train: Queries,
    val: Queries,
    *,
    max_epochs: int = 100,
    patience: int = 8,
    batch_size: int = 32,
    lr: float = 1e-3,
    scale: float = 20.0,
    seed: int = 0,
) -> LinearAdapter:
    """Train ``W, b`` on ``train`` with early stopping on ``val`` NDCG@10."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    d = corpus.shape[1]
    w = torch.nn.Parameter(torch.eye(d))
    b = torch.nn.Parameter(torch.zeros(d))
    opt = torch.optim.Adam([w, b], lr=lr)
    pairs = [(qi, r) for qi, rel in enumerate(train.relevant) for r in sorted(rel)]
    q_all = torch.from_numpy(train.vectors)
    e_all = torch.from_numpy(normalise(corpus))

    def val_ndcg() -> float:
        with torch.no_grad():
            wq, bq = w.detach().numpy(), b.detach().numpy()
        adapted = normalise(np.asarray(val.vectors @ wq.T + bq, dtype=np.float32))
        return score(adapted, corpus, val.relevant)["ndcg@10"]

    best = val_ndcg()
    best_w, best_b, best_epoch, bad = w.detach().clone(), b.detach().clone(), 0, 0
    history = [{"epoch": 0.0, "val_ndcg@10": best}]
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        losses = []
        for batch in batches_without_repeats(pairs, batch_size, rng):
            qi = torch.tensor([pairs[i][0] for i in batch])
            ri = torch.tensor([pairs[i][1] for i in batch])
            q = torch.nn.functional.normalize(q_all[qi] @ w.T + b, dim=1)
            logits = scale * q @ e_all[ri].T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            losses.append(loss.item())
        ndcg = val_ndcg()
        history.append({"epoch": float(epoch), "val_ndcg@10": ndcg, "loss": float(np.mean(losses))})
        if ndcg > best:
            best, best_epoch, bad = ndcg, epoch, 0
            best_w, best_b = w.detach().clone(), b.detach().clone()
        else:
            bad += 1
            if bad >= patience:
                break
    return LinearAdapter(
        weight=best_w.numpy().astype(np.float32),
        bias=best_b.numpy().astype(np.float32),
        best_epoch=best_epoch,
        epochs=epoch,
        lr=lr,
        fit_s=time.perf_counter() - start,
        history=history,
    )
