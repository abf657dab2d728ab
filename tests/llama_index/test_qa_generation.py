"""generate_qa_embedding_pairs / generate_pseudo_queries with a scripted LlamaIndex LLM."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.mock import MockLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import TextNode
from pydantic import PrivateAttr

from nudge_integrations.core.errors import DuplicateIdError
from nudge_integrations.data import QADataset, QAGenerationWarning
from nudge_integrations.llama_index.qa_generation import (
    agenerate_qa_embedding_pairs,
    generate_pseudo_queries,
    generate_qa_embedding_pairs,
)

# The template of the former llama_index.finetuning.generate_qa_embedding_pairs.
OLD_TEMPLATE = """\
Context information is below.

---------------------
{context_str}
---------------------

Given the context information and not prior knowledge.
generate only questions based on the below query.

You are a Teacher/ Professor. Your task is to setup \
{num_questions_per_chunk} questions for an upcoming \
quiz/examination. The questions should be diverse in nature \
across the document. Restrict the questions to the \
context information provided."
"""

TOPICS = ["volcanoes", "glaciers", "deserts", "rainforests", "coral reefs", "tundra"]


def make_nodes() -> list[TextNode]:
    return [
        TextNode(
            id_=f"node-{topic.replace(' ', '-')}",
            text=f"This passage is about {topic}. It explains where {topic} form and why.",
            metadata={"source": "atlas.txt"},
        )
        for topic in TOPICS
    ]


def topic_of(prompt: str) -> str:
    return prompt.split("This passage is about ", 1)[1].split(".", 1)[0]


class ScriptedLLM(CustomLLM):
    """Answers each prompt with ``script(prompt)``; counts calls per topic, truly async."""

    _script: Callable[[str], str] = PrivateAttr()
    _calls: Counter[str] = PrivateAttr(default_factory=Counter)
    _prompts: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, script: Callable[[str], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script = script

    @property
    def calls(self) -> Counter[str]:
        return self._calls

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._prompts.append(prompt)
        self._calls[topic_of(prompt)] += 1
        return CompletionResponse(text=self._script(prompt))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        await asyncio.sleep(0)
        response: CompletionResponse = self.complete(prompt, formatted=formatted, **kwargs)
        return response

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt, formatted=formatted, **kwargs)
        yield response


def numbered(prompt: str) -> str:
    topic = topic_of(prompt)
    return f"Sure! Here are the questions:\n\n1. Where do {topic} form?\n2. Why do {topic} form?"


def test_ids_text_and_old_template() -> None:
    nodes = make_nodes()
    llm = ScriptedLLM(numbered)
    data = generate_qa_embedding_pairs(nodes, llm, OLD_TEMPLATE, num_questions_per_chunk=2)
    assert list(data.corpus) == [n.node_id for n in nodes]
    assert data.corpus["node-glaciers"] == nodes[1].text  # content only, no metadata
    assert data.queries["node-glaciers#q0"] == "Where do glaciers form?"
    assert data.relevant_docs["node-glaciers#q1"] == ["node-glaciers"]
    assert len(data) == 2 * len(nodes)
    prompt = llm.prompts[0]
    assert "setup 2 questions" in prompt and "{context_str}" not in prompt
    assert "atlas.txt" not in prompt
    assert all(n == 1 for n in llm.calls.values())


def test_default_and_prompt_template_object() -> None:
    llm = ScriptedLLM(numbered)
    generate_qa_embedding_pairs(make_nodes()[:2], llm)
    assert "Write 2 different questions" in llm.prompts[0]
    tmpl = PromptTemplate("Ask {num_questions_per_chunk} about: {context_str}")
    llm2 = ScriptedLLM(numbered)
    data = generate_qa_embedding_pairs(make_nodes()[:2], llm2, tmpl, num_questions_per_chunk=1)
    assert llm2.prompts[0].startswith("Ask 1 about: This passage is about volcanoes.")
    assert len(data) == 2


def test_resume_after_failures_loads_with_from_json(tmp_path: Path) -> None:
    path = tmp_path / "qa_finetune_dataset.json"
    nodes = make_nodes()

    def flaky(prompt: str) -> str:
        if topic_of(prompt) in ("deserts", "tundra"):
            raise ConnectionError("server overloaded")
        return numbered(prompt)

    first = ScriptedLLM(flaky)
    with pytest.warns(QAGenerationWarning, match="2 of 6"):
        data = generate_qa_embedding_pairs(
            nodes, first, output_path=path, retries=1, retry_backoff=0, max_concurrency=3
        )
    assert first.calls["deserts"] == 2 and first.calls["volcanoes"] == 1
    assert len(data) == 8 and len(data.corpus) == 6
    on_disk = QADataset.from_json(path)
    assert on_disk.queries == data.queries and on_disk.corpus == data.corpus
    assert set(json.loads(path.read_text())["generation"]["failed"]) == {
        "node-deserts",
        "node-tundra",
    }

    second = ScriptedLLM(numbered)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data2 = generate_qa_embedding_pairs(nodes, second, output_path=path)
    assert dict(second.calls) == {"deserts": 1, "tundra": 1}
    assert len(data2) == 12
    assert QADataset.from_json(path).queries == data2.queries


def test_async_variant_and_malformed_output() -> None:
    def messy(prompt: str) -> str:
        topic = topic_of(prompt)
        return f'```json\n["Q1: What are {topic}?", "What are {topic}?", "Where?"]\n```'

    with pytest.warns(QAGenerationWarning, match="3 of 3 passages got the same question 'Where"):
        data = asyncio.run(agenerate_qa_embedding_pairs(make_nodes()[:3], ScriptedLLM(messy)))
    assert data.queries["node-volcanoes#q0"] == "What are volcanoes?"
    assert data.queries["node-volcanoes#q1"] == "Where?"


def test_duplicate_node_ids_rejected() -> None:
    node = make_nodes()[0]
    with pytest.raises(DuplicateIdError):
        generate_qa_embedding_pairs([node, node], ScriptedLLM(numbered))


def test_pseudo_queries_keep_node_ids() -> None:
    nodes = [
        TextNode(
            id_=f"n{i}",
            text=(
                f"Glaciers number {i} move slowly down the valley floor. "
                "They carve deep U-shaped valleys over thousands of years. "
                "Meltwater from them feeds many large rivers downstream."
            ),
        )
        for i in range(3)
    ]
    data = generate_pseudo_queries(nodes, per_doc=1)
    assert set(data.corpus) == {"n0", "n1", "n2"}
    assert len(data) == 3
    assert {data.relevant_docs[q][0] for q in data.queries} == {"n0", "n1", "n2"}


@pytest.mark.parametrize("template", [None, OLD_TEMPLATE])
def test_echoing_mock_llm_is_reported(tmp_path: Path, template: str | None) -> None:
    """LlamaIndex's MockLLM answers with the prompt itself: no questions at all."""
    path = tmp_path / "qa.json"
    with pytest.warns(QAGenerationWarning, match="repeat the prompt") as caught:
        generate_qa_embedding_pairs(make_nodes(), MockLLM(), template, output_path=path)
    message = str(caught[0].message)
    assert "6 of 6 passages" in message and "MockLLM" in message and str(path) in message
    assert len(caught) == 1  # the repeated instruction lines are not reported twice
