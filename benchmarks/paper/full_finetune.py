"""Full fine-tuning of all-MiniLM-L6-v2 with sentence-transformers, time-boxed.

The loss is sentence-transformers' ``MultipleNegativesRankingLoss`` (in-batch negatives,
scale 20, cosine) on (training query, relevant record) pairs, AdamW, linear warm-up.
Batches never hold the same record twice, so no positive is also a false negative.

Early stopping on validation: re-embedding SciFact's 5,183 records takes about six
minutes on this 2-core CPU, so a full-corpus validation pass per check would eat the
whole box. Validation instead re-ranks a fixed pool: the validation queries' relevant
records plus the ``pool_depth`` nearest records of each under the base model (NDCG@10
within the pool). The base model's score on that pool comes free from the precomputed
vectors; the best checkpoint (possibly the base model) is kept and, once the box is
spent, re-embeds the whole corpus the same way the base vectors were made (256-token
default, ``title + " " + text``, normalised, batch 32), so its test numbers compare
like for like with every other method.

Training itself truncates records to ``train_max_len`` tokens (128 by default) to fit
more steps into the box; every embedding that is evaluated uses the model's full
256-token default, exactly as the base vectors.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from benchmarks.paper.data import Queries, SciFact, batches_without_repeats, normalise
from nudge_integrations.core.errors import EmptyTrainingSetError
from nudge_integrations.core.metrics import score_columns
from nudge_integrations.core.search import exact_search


@dataclass
class FullFinetune:
    """The outcome: the corpus re-embedded by the best checkpoint, and how it got there."""

    corpus: NDArray[np.float32]
    model: Any
    best_step: int
    steps: int
    epochs: float
    train_s: float
    embed_s: float
    box_s: float
    history: list[dict[str, float]] = field(default_factory=list)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        return encode(self.model, texts)


def encode(model: Any, texts: list[str]) -> NDArray[np.float32]:
    """The base recipe: batch 32, normalised, the model's own max length."""
    model.eval()
    out = model.encode(
        texts,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float32)


class _PoolValidation:
    """NDCG@10 of the validation queries re-ranking a fixed pool of records."""

    def __init__(self, data: SciFact, val: Queries, depth: int) -> None:
        _, near = exact_search(val.vectors, data.corpus, depth, similarity="dot", device="cpu")
        pool = sorted(set(near.ravel().tolist()) | {r for rel in val.relevant for r in rel})
        self.rows = np.asarray(pool, dtype=np.int64)
        pos = {r: i for i, r in enumerate(pool)}
        self.relevant = [{pos[r]: g for r, g in rel.items()} for rel in val.relevant]
        self.texts = [data.corpus_texts[r] for r in pool]
        self.val = val
        self.base = self._ndcg(val.vectors, data.corpus[self.rows])

    def _ndcg(self, q: NDArray[np.float32], pool: NDArray[np.float32]) -> float:
        _, ranked = exact_search(q, pool, 10, similarity="dot", device="cpu")
        return score_columns(ranked, self.relevant, [("ndcg", 10)], n_rows=len(pool))["ndcg@10"]

    def __call__(self, model: Any) -> float:
        return self._ndcg(encode(model, self.val.texts), encode(model, self.texts))


@dataclass(frozen=True)
class _Schedule:
    """How training runs: the time box, the learning rate and its warm-up, when to
    validate and stop, and the token lengths for training and for evaluation."""

    box_s: float
    lr: float
    warmup: int
    eval_every: int
    patience: int
    train_max_len: int
    full_len: int


@dataclass
class _Progress:
    """Steps taken, the best validation score so far with its step and weights, and every
    check (``history``); ``best_state`` stays None while the base model is the best."""

    best: float
    history: list[dict[str, float]]
    step: int = 0
    best_step: int = 0
    best_state: dict[str, Any] | None = None
    bad: int = 0

    def check(self, model: Any, score: float, loss: float, seconds: float, patience: int) -> bool:
        """Record a validation check, keep the weights if they are the best yet; True
        once ``patience`` checks in a row have not improved (early stop)."""
        self.history.append(
            {"step": float(self.step), "seconds": seconds, "val_pool_ndcg@10": score, "loss": loss}
        )
        if score > self.best:
            self.best, self.best_step, self.bad = score, self.step, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad += 1
        return self.bad >= patience


def _train_step(
    model: Any, loss_fn: Any, opt: Any, texts: tuple[list[str], list[str]], lr: float, max_len: int
) -> float:
    """One AdamW step on a batch of (query, record) texts at learning rate ``lr``."""
    model.train()
    model.max_seq_length = max_len
    q = model.tokenize(texts[0])
    d = model.tokenize(texts[1])
    for g in opt.param_groups:
        g["lr"] = lr
    loss = loss_fn([q, d], torch.empty(0))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss)


def _train_in_box(
    model: Any,
    loss_fn: Any,
    opt: Any,
    batches: Callable[[], list[list[int]]],
    texts: Callable[[list[int]], tuple[list[str], list[str]]],
    validate: _PoolValidation,
    plan: _Schedule,
    log: Any,
) -> tuple[_Progress, float]:
    """Epochs of batches until the box would be overrun by one more step or validation
    stops improving; returns the progress and the seconds spent."""
    progress = _Progress(
        best=validate.base,
        history=[{"step": 0.0, "seconds": 0.0, "val_pool_ndcg@10": validate.base}],
    )
    start = time.perf_counter()
    step_s = 0.0
    while True:
        for batch in batches():
            if time.perf_counter() - start + step_s > plan.box_s:
                return progress, time.perf_counter() - start
            t0 = time.perf_counter()
            warm = min(1.0, (progress.step + 1) / plan.warmup)
            loss = _train_step(
                model, loss_fn, opt, texts(batch), plan.lr * warm, plan.train_max_len
            )
            progress.step += 1
            step_s = time.perf_counter() - t0
            if progress.step % plan.eval_every:
                continue
            model.max_seq_length = plan.full_len
            score = validate(model)
            seconds = time.perf_counter() - start
            log(
                f"  step {progress.step}: loss {loss:.3f}, val pool NDCG@10 {score:.4f}, "
                f"{seconds:.0f} s"
            )
            if progress.check(model, score, loss, seconds, plan.patience):
                return progress, time.perf_counter() - start


def _reembed_best(
    model: Any, data: SciFact, progress: _Progress, full_len: int
) -> tuple[NDArray[np.float32], float]:
    """The corpus as the best checkpoint embeds it (the base vectors if none beat the base
    model), and the seconds re-embedding took."""
    model.max_seq_length = full_len
    if progress.best_state is not None:
        model.load_state_dict(progress.best_state)
    t0 = time.perf_counter()
    corpus = (
        data.corpus if progress.best_state is None else normalise(encode(model, data.corpus_texts))
    )
    return corpus, time.perf_counter() - t0


def full_finetune(
    data: SciFact,
    train: Queries,
    val: Queries,
    *,
    box_s: float,
    batch_size: int = 32,
    lr: float = 2e-5,
    eval_every: int = 15,
    patience: int = 2,
    pool_depth: int = 3,
    train_max_len: int = 128,
    seed: int = 0,
    log: Any = print,
) -> FullFinetune:
    """Fine-tune MiniLM on ``train`` within ``box_s`` seconds (training and validation)."""
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    from nudge_integrations.embedding import load_minilm

    pairs = [(qi, r) for qi, rel in enumerate(train.relevant) for r in sorted(rel)]
    steps_per_epoch = len(batches_without_repeats(pairs, batch_size, np.random.default_rng(0)))
    if steps_per_epoch == 0:  # no batch could ever be drawn: the loop would never end
        raise EmptyTrainingSetError(
            "full fine-tune needs batches of at least two (query, relevant record) pairs "
            f"with different records; the {len(pairs)} pairs of the {len(train)} training "
            "queries give none"
        )
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = load_minilm("cpu")
    loss_fn = MultipleNegativesRankingLoss(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    plan = _Schedule(
        box_s=box_s,
        lr=lr,
        warmup=max(1, steps_per_epoch // 10),
        eval_every=eval_every,
        patience=patience,
        train_max_len=train_max_len,
        full_len=model.max_seq_length,
    )
    validate = _PoolValidation(data, val, pool_depth)
    log(
        f"full FT: {len(pairs)} pairs, pool {len(validate.rows)} records, box {box_s:.0f} s, "
        f"base pool NDCG@10 {validate.base:.4f}"
    )

    def texts(batch: list[int]) -> tuple[list[str], list[str]]:
        return (
            [train.texts[pairs[i][0]] for i in batch],
            [data.corpus_texts[pairs[i][1]] for i in batch],
        )

    progress, train_s = _train_in_box(
        model,
        loss_fn,
        opt,
        lambda: batches_without_repeats(pairs, batch_size, rng),
        texts,
        validate,
        plan,
        log,
    )
    corpus, embed_s = _reembed_best(model, data, progress, plan.full_len)
    log(
        f"full FT: best step {progress.best_step} of {progress.step}, train {train_s:.0f} s, "
        f"re-embed {embed_s:.0f} s"
    )
    return FullFinetune(
        corpus=corpus,
        model=model,
        best_step=progress.best_step,
        steps=progress.step,
        epochs=progress.step / steps_per_epoch,
        train_s=train_s,
        embed_s=embed_s,
        box_s=box_s,
        history=progress.history,
    )
