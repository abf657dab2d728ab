"""The NUDGE estimators: construct with parameters, ``fit``, then read ``result_``.

``NudgeN`` (default variant, unit-norm output) and ``NudgeM`` (magnitude bound, serve
by inner product) follow the reference ``nudge-ft`` 0.1.2 and the paper, computed on
the touched records only: the pull ``g`` is built by one scatter-add, the untouched
competition of each validation query is found by one chunked top-k pass, and every
gamma candidate is scored on the ``|val| x |T|`` block alone.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from numpy.typing import NDArray

from nudge_integrations.core.arguments import checked, nearest
from nudge_integrations.core.competitors import CompetitorSource, InMemoryCompetitors
from nudge_integrations.core.device import DeviceLike, one_cpu_thread, resolve_device
from nudge_integrations.core.errors import (
    EmptyTrainingSetError,
    MetricMismatchError,
    NotFittedError,
    NudgeError,
)
from nudge_integrations.core.gamma import (
    REFERENCE_N_GRID,
    MGeometry,
    NGeometry,
    ValidationView,
    grid_search,
    m_intervals,
    most_covered_point,
)
from nudge_integrations.core.ids import IdIndex, Judgements, Pairs, resolve_judgements
from nudge_integrations.core.metrics import RelevanceTable, check_metric
from nudge_integrations.core.result import NudgeResult, ValidationSource
from nudge_integrations.core.search import check_similarity
from nudge_integrations.core.validation import as_matrix, check_finite_nonzero

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

#: Extra candidates NUDGE-M scores when the metric is not hit@1 (quantiles of the sweep).
_M_GRID_POINTS = 48

#: Device names a constructor accepts (whether the device exists is checked at fit time).
_DEVICES = ("auto", "cpu", "cuda", "mps")


class _Nudge:
    """Shared machinery of NUDGE-N and NUDGE-M; use :class:`NudgeN` or :class:`NudgeM`."""

    variant: ClassVar[Literal["N", "M"]]
    #: Learned by :meth:`fit` (absent before it, scikit-learn style).
    result_: NudgeResult
    #: Set by a fit by id (:func:`~nudge_integrations.core.fit_by_id`): the recall@k of the
    #: source's own search on a sample of validation queries; None when exact or unmeasured.
    index_recall_: float | None

    @checked
    def __init__(
        self,
        *,
        gamma: float | None = None,
        gammas: Sequence[float] | None = None,
        metric: str = "hit",
        k: int = 1,
        similarity: Literal["dot", "cosine"] = "dot",
        device: DeviceLike = "auto",
        validation_fraction: float = 0.1,
        random_state: int = 0,
        refit: bool = True,
        chunk_size: int | None = None,
        refit_with_validation: bool = False,
    ) -> None:
        self.gamma = gamma
        self.gammas = gammas
        self.metric = metric
        self.k = k
        self.similarity = similarity
        self.device = device
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.refit = refit
        self.chunk_size = chunk_size
        self.refit_with_validation = refit_with_validation
        self._check_params()  # at the door: a bad value fails here, not after embedding

    # ------------------------------------------------------------------ public API
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name (scikit-learn convention, so
        ``sklearn.base.clone`` works); ``deep`` is accepted for that protocol: no
        parameter is itself an estimator."""
        names = inspect.signature(type(self).__init__).parameters
        params = {n: getattr(self, n) for n in names if n not in {"self", "kwargs"}}
        for n in inspect.signature(_Nudge.__init__).parameters:
            if n != "self":
                params[n] = getattr(self, n)
        return params

    def set_params(self, **params: Any) -> Self:
        """Change constructor parameters; unknown names and bad values raise, leaving the
        estimator as it was."""
        valid = self.get_params()
        for name in params:
            if name not in valid:
                close = nearest(name, valid)
                hint = f" (did you mean {close!r}?)" if close else ""
                raise NudgeError(f"unknown parameter {name!r}{hint}; valid: {sorted(valid)}")
        for name, value in params.items():
            setattr(self, name, value)
        try:
            self._check_params()
        except NudgeError:
            for name in params:
                setattr(self, name, valid[name])
            raise
        return self

    def __repr__(self) -> str:
        defaults = {
            n: p.default
            for cls in (type(self), _Nudge)
            for n, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        changed = [
            f"{n}={v!r}" for n, v in self.get_params().items() if defaults.get(n, object()) != v
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def fit(
        self,
        embeddings: Any,
        train_queries: Any,
        train_relevant: Sequence[Judgements],
        val_queries: Any = None,
        val_relevant: Sequence[Judgements] | None = None,
        *,
        ids: Sequence[Hashable] | None = None,
        competitors: CompetitorSource | None = None,
    ) -> Self:
        """Learn the nudged record vectors.

        ``embeddings`` is the ``(n, d)`` base corpus (array or ``np.memmap``, normalised
        internally); ``train_relevant[i]`` lists the relevant record ids of training query
        ``i`` (or maps them to grades). ``ids`` names the rows; without it relevant records
        are row numbers. Without a validation set, a deterministic ``validation_fraction``
        of the training queries is held out to choose gamma (unless ``gamma`` is fixed),
        and with ``refit`` the final nudge then uses all training queries.

        ``refit_with_validation=True`` (off by default: the reference nudges with the
        training queries alone) makes the final nudge use the training *and* the given
        validation queries, at the gamma chosen on validation (or the fixed one). On
        SciFact it lifts test NDCG@10 from 0.840 to 0.857 (NUDGE-N) and 0.784 to 0.806
        (NUDGE-M); see docs/paper-comparison.md. The adapters turn it on by default.
        """
        metric = self._check_params()
        corpus = as_matrix(embeddings, "corpus embeddings", min_rows=1)
        device = resolve_device(self.device)
        # a CPU scan of the whole corpus checks each row as it reads it: no second pass
        scan_checks = self.gamma is None and competitors is None and device.type == "cpu"
        if not scan_checks:
            check_finite_nonzero(corpus, "corpus embeddings")
        n, d = corpus.shape
        index = IdIndex(ids, n)
        q_train = self._queries(train_queries, "training", d)
        train = resolve_judgements(train_relevant, index, q_train.shape[0], "training")
        sets = self._sets(q_train, train, val_queries, val_relevant, index)
        source_c = competitors or InMemoryCompetitors(corpus, self.chunk_size, validate=scan_checks)
        with torch.inference_mode():
            rows, geometry, gamma, curve = self._learn(corpus, sets, metric, device, source_c)
            with one_cpu_thread(device):
                vectors = geometry.vectors(gamma)
                moved = (vectors != geometry.e).any(dim=1).cpu().numpy()
        moved_rows = rows[moved]
        self.result_ = NudgeResult(
            variant=self.variant,
            gamma=gamma,
            ids=index.keys(moved_rows),
            rows=moved_rows,
            vectors=np.ascontiguousarray(vectors.cpu().numpy()[moved]),
            curve=curve,
            metric=metric,
            k=int(self.k),
            validation_source=sets.source,
            n_records=n,
            dim=d,
            n_touched=len(rows),
            baseline_score=curve.get(0.0),
            best_score=curve.get(gamma),
            notes=tuple(sets.notes),
        )
        return self

    @property
    def gamma_(self) -> float:
        """The gamma used (chosen on validation, or the fixed one)."""
        return self._result().gamma

    @property
    def curve_(self) -> dict[float, float]:
        """Validation metric by gamma candidate (empty when gamma was fixed)."""
        return self._result().curve

    @property
    def moved_ids_(self) -> list[Hashable]:
        """Ids of the records whose vectors changed."""
        return self._result().moved_ids

    def nudged_embeddings(self, base: Any) -> NDArray[np.float32]:
        """The full nudged corpus: normalised ``base`` with the moved rows replaced."""
        return self._result().apply(base)

    # ----------------------------------------------------------------- internals
    def _result(self) -> NudgeResult:
        result: NudgeResult | None = getattr(self, "result_", None)
        if result is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(...) first"
            )
        return result

    def _check_params(self) -> str:
        """The parameters checked (the constructor, set_params and fit call it); returns
        the metric's canonical name."""
        metric = check_metric(self.metric, self.k)
        check_similarity(self.similarity)
        if isinstance(self.device, str) and self.device.lower().split(":")[0] not in _DEVICES:
            close = nearest(self.device.lower(), _DEVICES)
            raise NudgeError(
                f"unknown device {self.device!r}"
                + (f"; did you mean {close!r}?" if close else "")
                + " Use one of 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
            )
        if self.chunk_size is not None and (
            isinstance(self.chunk_size, bool)
            or not isinstance(self.chunk_size, numbers.Integral)
            or self.chunk_size < 1
        ):
            raise NudgeError(
                f"chunk_size must be None or a whole number >= 1, got {self.chunk_size!r}"
            )
        if self.gamma is not None and not (
            isinstance(self.gamma, int | float) and math.isfinite(self.gamma) and self.gamma >= 0
        ):
            raise NudgeError(f"gamma must be a finite number >= 0, got {self.gamma!r}")
        if self.gammas is not None:
            grid = list(self.gammas)
            if not grid or any(
                not isinstance(g, numbers.Real) or not math.isfinite(g) or g < 0 for g in grid
            ):
                raise NudgeError("gammas must be a non-empty list of finite numbers >= 0")
        if not (
            isinstance(self.validation_fraction, numbers.Real) and 0 < self.validation_fraction < 1
        ):
            raise NudgeError(
                f"validation_fraction must be between 0 and 1, got {self.validation_fraction}"
            )
        return metric

    @staticmethod
    def _queries(x: Any, name: str, dim: int) -> NDArray[np.float32]:
        arr = as_matrix(x, f"{name} query embeddings", dim=dim)
        if arr.shape[0] == 0:
            raise EmptyTrainingSetError(
                f"the {name} set is empty: NUDGE needs at least one {name} query with a "
                "relevant record"
            )
        check_finite_nonzero(arr, f"{name} query embeddings")
        return arr

    def _split(self, m: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        perm = np.random.default_rng(self.random_state).permutation(m)
        n_val = min(m - 1, max(1, round(self.validation_fraction * m)))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _sets(
        self,
        q_train: NDArray[np.float32],
        train: Pairs,
        val_queries: Any,
        val_relevant: Sequence[Judgements] | None,
        index: IdIndex,
    ) -> _Sets:
        """Which queries nudge, which choose gamma, and which nudge at the end."""
        d = q_train.shape[1]
        if val_queries is not None or val_relevant is not None:
            if val_queries is None or val_relevant is None:
                raise NudgeError("give both val_queries and val_relevant, or neither")
            q_val = self._queries(val_queries, "validation", d)
            val = resolve_judgements(val_relevant, index, q_val.shape[0], "validation")
            notes = []
            if self.gamma is not None:
                notes.append("gamma was fixed, so the validation set was not used to choose it")
            final = None
            if self.refit_with_validation:
                # --- improvement (switchable): nudge with every labelled query ---
                final = (np.vstack([q_train, q_val]), _concat_pairs(train, val))
            return _Sets(q_train, train, q_val, val, "given", notes, final)
        if self.gamma is not None:
            return _Sets(q_train, train, None, None, "none", [], None)
        if q_train.shape[0] < 2:
            raise EmptyTrainingSetError(
                "need at least 2 training queries to split off a validation set: add "
                "queries, pass val_queries/val_relevant, or fix gamma"
            )
        tr_idx, va_idx = self._split(q_train.shape[0])
        note = (
            f"no validation set given: held out {len(va_idx)} of {q_train.shape[0]} training "
            f"queries (random_state={self.random_state}) to choose gamma"
            + ("; the final nudge uses all training queries" if self.refit else "")
        )
        return _Sets(
            q_train[tr_idx],
            train.subset(tr_idx),
            q_train[va_idx],
            train.subset(va_idx),
            "split",
            [note],
            (q_train, train) if self.refit else None,
        )

    def _learn(
        self,
        corpus: NDArray[Any],
        sets: _Sets,
        metric: str,
        device: torch.device,
        competitors: CompetitorSource,
    ) -> tuple[NDArray[np.int64], NGeometry | MGeometry, float, dict[float, float]]:
        """Touched rows, their final geometry, gamma and the validation curve.

        The competitors' search keeps every thread; the rest, elementwise work on the
        touched block, runs on one torch thread on the CPU (:func:`one_cpu_thread`)."""
        with one_cpu_thread(device):
            rows, geometry = self._geometry(corpus, sets.fit_q, sets.fit_pairs, device)
        curve: dict[float, float] = {}
        if self.gamma is not None:
            gamma = float(self.gamma)
        else:
            assert sets.q_val is not None and sets.val is not None
            view = self._view(
                sets.q_val, sets.val, rows, corpus.shape[0], self._depth(), device, competitors
            )
            with one_cpu_thread(device):
                gamma, curve = self._choose_gamma(corpus, rows, geometry, view, metric, device)
        if sets.final is not None:
            with one_cpu_thread(device):
                rows, geometry = self._geometry(corpus, *sets.final, device)
            if sets.source == "given":
                n_train = sets.fit_q.shape[0]
                sets.notes.append(
                    "refit_with_validation: the final nudge used the training and validation "
                    f"queries ({n_train} + {sets.final[0].shape[0] - n_train}) at "
                    f"gamma={gamma:.4g}"
                )
        return rows, geometry, gamma, curve

    def _geometry(
        self, corpus: NDArray[Any], q: NDArray[np.float32], pairs: Pairs, device: torch.device
    ) -> tuple[NDArray[np.int64], NGeometry | MGeometry]:
        """Touched rows and the variant's geometry, with g built by one scatter-add."""
        rows, inverse = np.unique(pairs.row, return_inverse=True)
        qt = torch.from_numpy(np.ascontiguousarray(q)).to(device)
        g = torch.zeros((len(rows), q.shape[1]), dtype=torch.float32, device=device)
        g.index_add_(
            0,
            torch.from_numpy(inverse.reshape(-1)).to(device),
            qt[torch.from_numpy(pairs.query).to(device)],
        )
        e = torch.from_numpy(np.ascontiguousarray(corpus[rows], dtype=np.float32)).to(device)
        e = torch.nn.functional.normalize(e, dim=1)
        return rows, self._make_geometry(e, g)

    def _make_geometry(self, e: torch.Tensor, g: torch.Tensor) -> NGeometry | MGeometry:
        raise NotImplementedError

    def _view(
        self,
        q_val: NDArray[np.float32],
        val: Pairs,
        rows: NDArray[np.int64],
        n: int,
        depth: int,
        device: torch.device,
        competitors: CompetitorSource,
    ) -> ValidationView:
        qv = torch.from_numpy(np.ascontiguousarray(q_val)).to(device)
        exclude = np.zeros(n, dtype=bool)
        exclude[rows] = True
        u_s, u_r = competitors.topk(qv, depth, exclude)
        table = RelevanceTable(val.as_relevance(), n)
        return ValidationView(qv, val, table, u_s, u_r)

    def _depth(self) -> int:
        """Untouched competitors each validation query needs."""
        raise NotImplementedError

    def _choose_gamma(
        self,
        corpus: NDArray[Any],
        rows: NDArray[np.int64],
        geometry: NGeometry | MGeometry,
        view: ValidationView,
        metric: str,
        device: torch.device,
    ) -> tuple[float, dict[float, float]]:
        raise NotImplementedError


@dataclass
class _Sets:
    """A fit's query sets: those that nudge while gamma is chosen, those that choose it
    (none when gamma is fixed), and those of the final nudge when they differ."""

    fit_q: NDArray[np.float32]
    fit_pairs: Pairs
    q_val: NDArray[np.float32] | None
    val: Pairs | None
    source: ValidationSource
    notes: list[str]
    final: tuple[NDArray[np.float32], Pairs] | None


def _concat_pairs(first: Pairs, second: Pairs) -> Pairs:
    """``first``'s judgements then ``second``'s, its queries numbered after ``first``'s."""
    return Pairs(
        np.concatenate([first.query, second.query + first.n_queries]),
        np.concatenate([first.row, second.row]),
        np.concatenate([first.gain, second.gain]),
        first.n_queries + second.n_queries,
    )


def _pick(gammas: Sequence[float], scores: NDArray[np.float64]) -> tuple[float, dict[float, float]]:
    """Best-scoring gamma, ties to the smaller one (candidates scanned in ascending order)."""
    order = np.argsort(np.asarray(gammas, dtype=np.float64), kind="stable")
    best = order[0]
    for i in order[1:]:
        if scores[i] > scores[best]:
            best = i
    curve = {float(gammas[i]): float(scores[i]) for i in order}
    return float(gammas[best]), curve


class NudgeN(_Nudge):
    """NUDGE-N: records stay unit-norm, moving at most ``sqrt(gamma)`` toward their queries.

    Gamma is chosen from ``gammas`` (default: the reference grid 0, 0.02, ..., 0.48) by
    validation ``metric@k`` (default hit@1, as the reference), ties to the smaller gamma;
    ``refine=True`` then searches a 0.004 grid around the best. Output is unit-norm, so
    cosine, inner product and L2 stores all rank it the same.
    """

    variant: ClassVar[Literal["N", "M"]] = "N"

    @checked
    def __init__(
        self,
        *,
        refine: bool = False,
        gamma: float | None = None,
        gammas: Sequence[float] | None = None,
        metric: str = "hit",
        k: int = 1,
        similarity: Literal["dot", "cosine"] = "dot",
        device: DeviceLike = "auto",
        validation_fraction: float = 0.1,
        random_state: int = 0,
        refit: bool = True,
        chunk_size: int | None = None,
        refit_with_validation: bool = False,
    ) -> None:
        self.refine = refine
        super().__init__(
            gamma=gamma,
            gammas=gammas,
            metric=metric,
            k=k,
            similarity=similarity,
            device=device,
            validation_fraction=validation_fraction,
            random_state=random_state,
            refit=refit,
            chunk_size=chunk_size,
            refit_with_validation=refit_with_validation,
        )

    def _check_params(self) -> str:
        metric = super()._check_params()
        if self.gamma is not None and self.gamma >= 4:
            raise NudgeError(f"NUDGE-N needs gamma < 4 (||delta||^2 <= gamma), got {self.gamma}")
        return metric

    def _make_geometry(self, e: torch.Tensor, g: torch.Tensor) -> NGeometry:
        return NGeometry(e, g)

    def _depth(self) -> int:
        return int(self.k)

    def _choose_gamma(
        self,
        corpus: NDArray[Any],
        rows: NDArray[np.int64],
        geometry: NGeometry | MGeometry,
        view: ValidationView,
        metric: str,
        device: torch.device,
    ) -> tuple[float, dict[float, float]]:
        t_rows = torch.from_numpy(rows).to(device)
        grid = [float(g) for g in (self.gammas or REFERENCE_N_GRID) if g < 4]
        gamma, curve = _pick(grid, grid_search(grid, geometry, view, t_rows, metric, self.k))
        if self.refine:
            fine = [
                g
                for g in np.round(np.arange(gamma - 0.02, gamma + 0.0201, 0.004), 6)
                if 0 <= g < 4 and float(g) not in curve
            ]
            if fine:
                scores = grid_search(fine, geometry, view, t_rows, metric, self.k)
                curve.update({float(g): float(s) for g, s in zip(fine, scores, strict=True)})
                cands = sorted(curve)
                gamma, curve = _pick(cands, np.asarray([curve[c] for c in cands]))
        return gamma, curve


class NudgeM(_Nudge):
    """NUDGE-M: each record moves by at most ``gamma`` toward its training queries.

    With the default hit@1 objective, gamma is found exactly: for each validation
    (query, relevant record) pair the set of gammas ranking the record first is an
    interval, and the smallest point covered by most intervals wins (the reference's
    rule). Other metrics score the sweep's breakpoints. The output is not unit-norm:
    serve it by inner product; ``similarity="cosine"`` is refused.
    """

    variant: ClassVar[Literal["N", "M"]] = "M"

    def _check_params(self) -> str:
        metric = super()._check_params()
        if self.similarity != "dot":
            raise MetricMismatchError(
                "NUDGE-M vectors are not unit-norm and must be ranked by inner product; a "
                "cosine store re-normalises them and ranks wrongly. Serve them from a "
                "dot-product store (similarity='dot') or use NudgeN, which stays unit-norm"
            )
        return metric

    def _make_geometry(self, e: torch.Tensor, g: torch.Tensor) -> MGeometry:
        return MGeometry(e, g)

    def _depth(self) -> int:
        return max(2, int(self.k))

    def _choose_gamma(
        self,
        corpus: NDArray[Any],
        rows: NDArray[np.int64],
        geometry: NGeometry | MGeometry,
        view: ValidationView,
        metric: str,
        device: torch.device,
    ) -> tuple[float, dict[float, float]]:
        assert isinstance(geometry, MGeometry)
        val = view.pairs
        t_rows = torch.from_numpy(rows).to(device)
        if self.gammas is not None:
            grid = [float(g) for g in self.gammas]
            return _pick(grid, grid_search(grid, geometry, view, t_rows, metric, self.k))
        pos_of = {int(r): i for i, r in enumerate(rows.tolist())}
        touched_pos = np.asarray([pos_of.get(int(r), -1) for r in val.row], dtype=np.int64)
        x = torch.from_numpy(np.ascontiguousarray(corpus[val.row], dtype=np.float32)).to(device)
        x = torch.nn.functional.normalize(x, dim=1)
        target = (view.queries[torch.from_numpy(val.query).to(device)] * x).sum(dim=1)
        lows, highs, total = m_intervals(geometry, view, touched_pos, target)
        gamma, sweep_curve = most_covered_point(lows, highs, total)
        if metric == "hit" and self.k == 1:
            return gamma, sweep_curve
        qs = np.quantile(lows, np.linspace(0, 1, _M_GRID_POINTS)) if len(lows) else np.zeros(0)
        grid = sorted({0.0, gamma, *(float(v) for v in qs)})
        return _pick(grid, grid_search(grid, geometry, view, t_rows, metric, self.k))
