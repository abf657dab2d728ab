"""``faiss:INDEX_FILE:IDS_JSON`` on the command line: a flat FAISS index written with
``faiss.write_index`` and the JSON list of its rows' ids; the file is rewritten after a
change (``Bound.save``)."""

from __future__ import annotations

import json
from pathlib import Path

from nudge_integrations.core.errors import NudgeError
from nudge_integrations.stores.binding import Bound
from nudge_integrations.stores.faiss.writer import FaissFlatWriter


def open_store(path: str, name: str, *, vector_field: str = "vector") -> Bound:
    """The index file ``path`` with its rows' ids listed in the JSON file ``name``."""
    import faiss

    index_file, ids_file = Path(path).expanduser(), Path(name).expanduser()
    if not index_file.exists():
        raise NudgeError(f"{index_file} does not exist")
    if not ids_file.is_file():
        raise NudgeError(f"{ids_file} (the JSON list of row ids) is missing")
    ids = [str(i) for i in json.loads(ids_file.read_text())]
    index = faiss.read_index(str(index_file))
    if index.ntotal != len(ids):
        raise NudgeError(f"the index has {index.ntotal} rows but {ids_file} lists {len(ids)} ids")
    writer = FaissFlatWriter(index, {i: n for n, i in enumerate(ids)}, path=str(index_file))
    return Bound(writer, "FAISS index file", save=writer.save)
