"""An out-of-distribution split: train on one cluster of training queries, test on both.

k-means (k=2, scikit-learn, ``random_state=0``, 10 starts) on the training queries' base
embeddings; the larger cluster is "in distribution". Training uses its queries only,
validation the validation queries nearest its centroid, and every test query is ID or
OOD by its nearest centroid. The clusters were fixed from their sizes alone, before any
method was run on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.paper.data import Queries, SciFact


@dataclass
class OodSplit:
    train: Queries
    val: Queries
    test_id: Queries
    test_ood: Queries
    sizes: dict[str, int]


def ood_split(data: SciFact, k: int = 2, seed: int = 0) -> OodSplit:
    from sklearn.cluster import KMeans

    train, val, test = (data.splits[s] for s in ("train", "val", "test"))
    km = KMeans(n_clusters=k, random_state=seed, n_init=10).fit(train.vectors)
    labels = np.asarray(km.labels_)
    keep = int(np.argmax(np.bincount(labels, minlength=k)))
    v_lab = km.predict(val.vectors)
    t_lab = km.predict(test.vectors)
    out = OodSplit(
        train=train.subset(np.flatnonzero(labels == keep)),
        val=val.subset(np.flatnonzero(v_lab == keep)),
        test_id=test.subset(np.flatnonzero(t_lab == keep)),
        test_ood=test.subset(np.flatnonzero(t_lab != keep)),
        sizes={},
    )
    out.sizes = {
        "train": len(out.train),
        "train_left_out": int((labels != keep).sum()),
        "val": len(out.val),
        "test_id": len(out.test_id),
        "test_ood": len(out.test_ood),
    }
    return out
