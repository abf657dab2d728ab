"""The nudge ledger: a folder that keeps, durably, what a store held before NUDGE touched it.

Before the first nudged vector is written, the ledger holds the base vector and a hash of
the text of every record about to change, and the fit that is about to be swapped in
(its moved ids and vectors, variant, gamma, embedding model, dimension). ``state.json``
says which fit is active and, while a swap or revert runs, which batches are done. All of
it is written atomically (temp file, fsync, rename), so a process killed at any point
leaves a ledger that a new process can read to finish or undo the operation.

Layout of a ledger folder::

    ledger.json          format, store description, dim, record ids, text hashes, base file
    base.<gen>.npy       base vectors, rows aligned with ledger.json's ids
    fits/<fit_id>.json   one fit: identity and moved ids (with their texts' hashes)
    fits/<fit_id>.npy    that fit's nudged vectors, rows aligned with its ids
    op-before.npy        what the records of the operation in progress held before it
    op.json              that operation's records, and their markers before it
    state.json           the active fit, the operation in progress, if any, and the last
                         completed change (kind, when, the fits before and after it)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nudge_integrations.core.errors import NudgeError, ShapeError

FORMAT = 1


#: Ledgers whose lock this process holds (an operation may call another under it).
_HELD: set[Path] = set()


class LedgerError(NudgeError):
    """A ledger is missing, unreadable, or does not match the store it is used with."""


def text_hash(text: str) -> str:
    """A short content hash of a record's text (what the base vector was embedded from)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _atomic_npy(path: Path, array: NDArray[np.float32]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array, dtype=np.float32))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class FitRecord:
    """One fit kept in a ledger: what it moves, to which vectors, and who made it."""

    fit_id: str
    variant: str
    gamma: float
    model: str | None
    dim: int
    ids: list[str]
    hashes: list[str]
    vectors: NDArray[np.float32]
    created: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, NDArray[np.float32]]:
        return dict(zip(self.ids, self.vectors, strict=True))


@dataclass
class Operation:
    """A swap (or revert) in progress: from one fit to another (None: the base vectors).

    ``ids``: the records whose vectors it writes (what they held before is in
    ``op-before.npy``); ``marks``: what the ``nudge_ledger`` marker of each record whose
    marker it changes held before (None: no marker), so a rollback restores markers too;
    ``held_back``: the target's records kept at their base (a partial revert). ``done`` of
    ``batches`` batches of the pass in progress are written (a finish or rollback is a
    new pass over the same records)."""

    kind: str
    source: str | None
    target: str | None
    ids: list[str]
    batch: int
    done: int = 0
    error: str | None = None
    held_back: list[str] = field(default_factory=list)
    marks: dict[str, str | None] = field(default_factory=dict)
    batches: int = 0
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: Named by a ledger of an earlier version (ids in state.json, markers not kept).
    legacy: bool = False

    @property
    def records(self) -> list[str]:
        """Every record the operation writes: vectors (and markers) first, then records
        whose marker alone changes."""
        have = set(self.ids)
        return self.ids + [i for i in self.marks if i not in have]

    @property
    def n_batches(self) -> int:
        if self.batches:
            return self.batches
        n = len(self.records)
        return -(-n // self.batch) if n else 0

    def as_json(self) -> dict[str, Any]:
        """The small part, rewritten in ``state.json`` after every batch."""
        return {
            "kind": self.kind,
            "from": self.source,
            "to": self.target,
            "batch": self.batch,
            "done": self.done,
            "batches": self.batches,
            "error": self.error,
            "token": self.token,
        }

    def records_json(self) -> dict[str, Any]:
        """The records, written once in ``op.json`` when the operation begins."""
        return {
            "token": self.token,
            "ids": self.ids,
            "marks": self.marks,
            "held_back": self.held_back,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], records: Mapping[str, Any] | None = None) -> Operation:
        """From ``state.json``'s entry and ``op.json`` (a ledger written before op.json
        existed keeps the ids in ``state.json``)."""
        recs = d if records is None else records
        return cls(
            d["kind"],
            d["from"],
            d["to"],
            list(recs["ids"]),
            int(d["batch"]),
            int(d["done"]),
            d.get("error"),
            held_back=list(recs.get("held_back") or []),
            marks=dict(recs.get("marks") or {}),
            batches=int(d.get("batches") or 0),
            token=str(d.get("token") or ""),
            legacy=records is None,
        )


class NudgeLedger:
    """A ledger folder: base vectors and hashes of every record NUDGE changed in one store,
    the fits swapped into it, and the state of the store (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()
        self._ids: list[str] = []
        self._hashes: list[str] = []
        self._base: NDArray[np.float32] | None = None
        self._row: dict[str, int] = {}
        self._base_name: str | None = None
        self.store: str = ""
        self.dim: int | None = None
        self.active: str | None = None
        self.held_back: list[str] = []
        self.op: Operation | None = None
        #: The last completed transition (see ``lifecycle``), None in older ledgers.
        self.last: dict[str, Any] | None = None
        #: When ``state.json`` was last written (Unix time), None before any write.
        self.updated: float | None = None
        if (self.path / "ledger.json").is_file():
            self._load()

    @contextlib.contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """Hold this ledger's lock for one operation, so no other process swaps, reverts,
        finishes or rolls back through it meanwhile (the OS drops the lock of a killed
        process, so ``finish``/``rollback`` after a ``kill -9`` take it at once)."""
        import fcntl

        if self.path in _HELD:  # an operation calling another (finish -> rollback)
            yield
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LedgerError(
                    f"another process is writing this store through the ledger at "
                    f"{self.path} right now, so the {what} was not started: wait for it to "
                    "end (or, if it is hung, stop it; then finish() or rollback())"
                ) from None
            _HELD.add(self.path)
            try:
                if self.exists:
                    self._load()  # what another process wrote before it let go
                yield
            finally:
                _HELD.discard(self.path)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ------------------------------------------------------------------ reading
    @property
    def exists(self) -> bool:
        return (self.path / "ledger.json").is_file()

    def _load(self) -> None:
        try:
            meta = json.loads((self.path / "ledger.json").read_text())
            if meta.get("format") != FORMAT:
                raise LedgerError(
                    f"the ledger at {self.path} has format {meta.get('format')!r}; this "
                    f"version of nudge-integrations reads format {FORMAT}"
                )
            self.store = meta.get("store", "")
            self.dim = meta.get("dim")
            self._ids = list(meta["ids"])
            self._hashes = list(meta["hashes"])
            self._base_name = meta["base_file"]
            base = np.load(self.path / self._base_name) if self._ids else None
            state_path = self.path / "state.json"
            state = json.loads(state_path.read_text()) if state_path.is_file() else {}
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, LedgerError):
                raise
            raise LedgerError(f"the ledger at {self.path} cannot be read: {exc}") from exc
        if base is not None and base.shape[0] < len(self._ids):
            raise LedgerError(f"the ledger at {self.path} is damaged: base rows are missing")
        self._base = None if base is None else base[: len(self._ids)]
        self._row = {i: n for n, i in enumerate(self._ids)}
        self.active = state.get("active")
        self.held_back = list(state.get("held_back", []))
        self.op = self._load_op(state.get("op"))
        last, updated = state.get("last"), state.get("updated")
        self.last = dict(last) if isinstance(last, dict) else None
        self.updated = float(updated) if isinstance(updated, int | float) else None

    def _load_op(self, op: Mapping[str, Any] | None) -> Operation | None:
        """The operation ``state.json`` names, with its records from ``op.json``."""
        if op is None:
            return None
        if "ids" in op:  # written before op.json existed
            return Operation.from_json(op)
        try:
            records = json.loads((self.path / "op.json").read_text())
        except (OSError, ValueError) as exc:
            raise LedgerError(
                f"the ledger at {self.path} names an operation in progress but its records "
                f"(op.json) cannot be read: {exc}"
            ) from exc
        if records.get("token") != op.get("token"):
            raise LedgerError(
                f"the ledger at {self.path} is damaged: op.json belongs to another operation "
                "than the one state.json names"
            )
        return Operation.from_json(op, records)

    @property
    def ids(self) -> list[str]:
        """Every record whose base vector the ledger keeps."""
        return list(self._ids)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._row

    def __len__(self) -> int:
        return len(self._ids)

    def base(self, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """Base vectors of the given ids that the ledger holds."""
        if self._base is None:
            return {}
        return {i: self._base[self._row[i]].copy() for i in ids if i in self._row}

    def hash_of(self, record_id: str) -> str:
        return self._hashes[self._row[record_id]]

    def fit(self, fit_id: str | None) -> FitRecord | None:
        """A fit the ledger keeps (None for the base vectors)."""
        if fit_id is None:
            return None
        meta_path = self.path / "fits" / f"{fit_id}.json"
        if not meta_path.is_file():
            raise LedgerError(f"the ledger at {self.path} has no fit {fit_id!r}")
        meta = json.loads(meta_path.read_text())
        vectors = np.load(self.path / "fits" / f"{fit_id}.npy")
        return FitRecord(
            fit_id=fit_id,
            variant=meta["variant"],
            gamma=float(meta["gamma"]),
            model=meta.get("model"),
            dim=int(meta["dim"] or 0),
            ids=list(meta["ids"]),
            hashes=list(meta["hashes"]),
            vectors=vectors,
            created=float(meta.get("created", 0.0)),
        )

    def fit_summary(self, fit_id: str | None) -> dict[str, Any] | None:
        """A kept fit's id, variant, gamma, model, creation time and number of moved
        records, read from its JSON alone (None for the base vectors or a pruned fit)."""
        if fit_id is None:
            return None
        try:
            meta = json.loads((self.path / "fits" / f"{fit_id}.json").read_text())
        except (OSError, ValueError):
            return None
        return {
            "fit": fit_id,
            "variant": meta.get("variant"),
            "gamma": meta.get("gamma"),
            "model": meta.get("model"),
            "created": meta.get("created"),
            "moved": len(meta.get("ids") or ()),
        }

    def target(
        self, fit_id: str | None, held_back: Sequence[str] = (), ids: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """What the ledger records (``ids``, default all) should hold when ``fit_id`` is
        swapped in: the nudged vector where the fit moved it (unless held back), else the
        base vector."""
        chosen = self._ids if ids is None else [i for i in ids if i in self._row]
        out: dict[str, Any] = self.base(chosen)
        fit = self.fit(fit_id)
        if fit is not None:
            skip, keep = set(held_back), set(chosen)
            out.update({i: v for i, v in fit.as_dict().items() if i in keep and i not in skip})
        return out

    # ------------------------------------------------------------------ writing
    def _write_meta(self, base_file: str) -> None:
        meta = {
            "format": FORMAT,
            "store": self.store,
            "dim": self.dim,
            "ids": self._ids,
            "hashes": self._hashes,
            "base_file": base_file,
        }
        _atomic_write(self.path / "ledger.json", json.dumps(meta).encode())

    def record_base(
        self,
        vectors: Mapping[str, NDArray[np.float32]],
        hashes: Mapping[str, str],
        *,
        store: str = "",
    ) -> None:
        """Keep the base vector and text hash of records the ledger does not know yet, and
        replace them for records whose text changed (their old base no longer applies).
        Written durably before the caller changes any vector in the store."""
        dims = {np.asarray(v).shape for v in vectors.values()}
        if len(dims) > 1 or (self.dim is not None and dims and dims != {(self.dim,)}):
            raise ShapeError(
                f"base vectors of {sorted(dims)} shape do not match the ledger's "
                f"{self.dim}-d records at {self.path}: one ledger serves one store and model"
            )
        new_ids = [i for i in vectors if i not in self._row]
        renewed = [i for i in vectors if i in self._row and self.hash_of(i) != hashes[i]]
        if not new_ids and not renewed and self.exists:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "fits").mkdir(exist_ok=True)
        if dims:
            self.dim = int(next(iter(dims))[0])
        self.store = self.store or store
        parts = [] if self._base is None else [self._base]
        if new_ids:
            parts.append(np.stack([np.asarray(vectors[i], np.float32) for i in new_ids]))
        base = np.concatenate(parts).astype(np.float32) if parts else None
        ids = self._ids + new_ids
        hash_list = self._hashes + [hashes[i] for i in new_ids]
        row = {i: n for n, i in enumerate(ids)}
        for i in renewed:
            assert base is not None
            base[row[i]] = np.asarray(vectors[i], np.float32)
            hash_list[row[i]] = hashes[i]
        old = self._base_name
        name = f"base.{uuid.uuid4().hex[:12]}.npy"
        if base is not None:
            _atomic_npy(self.path / name, base)
        self._ids, self._hashes, self._base, self._row = ids, hash_list, base, row
        self._write_meta(name)
        self._base_name = name
        if old and old != name:
            with contextlib.suppress(OSError):
                (self.path / old).unlink()

    def add_fit(
        self,
        vectors: Mapping[str, NDArray[np.float32]],
        hashes: Mapping[str, str],
        *,
        variant: str,
        gamma: float,
        model: str | None,
    ) -> str:
        """Keep a fit's nudged vectors; returns its id."""
        fit_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        ids = list(vectors)
        matrix = (
            np.stack([np.asarray(vectors[i], np.float32) for i in ids])
            if ids
            else np.zeros((0, self.dim or 0), np.float32)
        )
        (self.path / "fits").mkdir(parents=True, exist_ok=True)
        _atomic_npy(self.path / "fits" / f"{fit_id}.npy", matrix)
        meta = {
            "variant": variant,
            "gamma": float(gamma),
            "model": model,
            "dim": int(matrix.shape[1]) if ids else (self.dim or 0),
            "ids": ids,
            "hashes": [hashes[i] for i in ids],
            "created": time.time(),
        }
        _atomic_write(self.path / "fits" / f"{fit_id}.json", json.dumps(meta).encode())
        return fit_id

    def save_state(self) -> None:
        """Write the active fit and the operation in progress."""
        self.updated = time.time()
        state = {
            "active": self.active,
            "held_back": self.held_back,
            "op": None if self.op is None else self.op.as_json(),
            "last": self.last,
            "updated": self.updated,
        }
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path / "state.json", json.dumps(state).encode())

    def begin(self, op: Operation, before: Mapping[str, NDArray[np.float32]]) -> None:
        """Start an operation: what its records held before it (vectors in
        ``op-before.npy``, so a rollback restores the store's real vectors even where they
        disagree with the ledger; markers and the records in ``op.json``), then the state
        that names it. A process killed before the state is written leaves no operation."""
        if op.ids:
            rows = np.stack([np.asarray(before[i], np.float32) for i in op.ids])
            _atomic_npy(self.path / "op-before.npy", rows)
        _atomic_write(self.path / "op.json", json.dumps(op.records_json()).encode())
        self.op = op
        self.save_state()

    def before(self) -> dict[str, NDArray[np.float32]]:
        """What the records of the operation in progress held before it began."""
        path = self.path / "op-before.npy"
        if self.op is None or not self.op.ids or not path.is_file():
            return {}
        rows = np.load(path)
        if rows.shape[0] != len(self.op.ids):
            return {}
        return dict(zip(self.op.ids, rows, strict=True))

    def prune(self) -> None:
        """Delete fits that are neither active nor part of an operation in progress."""
        keep = {self.active}
        if self.op is not None:
            keep |= {self.op.source, self.op.target}
        for meta in (self.path / "fits").glob("*.json"):
            if meta.stem not in keep:
                with contextlib.suppress(OSError):
                    meta.unlink()
                    meta.with_suffix(".npy").unlink()

    def __repr__(self) -> str:
        return (
            f"NudgeLedger({str(self.path)!r}, records={len(self._ids)}, "
            f"active={self.active!r}, op={None if self.op is None else self.op.kind!r})"
        )
