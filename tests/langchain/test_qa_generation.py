"""generate_qa_pairs with LangChain fake chat models: text and structured output paths."""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import Field, PrivateAttr

from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.data import QADataset, QAGenerationWarning
from nudge_integrations.langchain.qa_generation import (
    GeneratedQuestions,
    agenerate_qa_pairs,
    generate_qa_pairs,
)

TOPICS = ["volcanoes", "glaciers", "deserts", "rainforests", "coral reefs"]


def make_docs() -> list[Document]:
    return [
        Document(
            id=f"doc-{i}",
            page_content=f"This passage is about {topic}. It explains how {topic} change.",
            metadata={"source_id": f"src-{i}"},
        )
        for i, topic in enumerate(TOPICS)
    ]


def topic_of(prompt: str) -> str:
    return prompt.split("This passage is about ", 1)[1].split(".", 1)[0]


class ScriptedChat(BaseChatModel):
    """Answers from the topic in the prompt (text only); fails on ``fail`` topics."""

    fail: set[str] = Field(default_factory=set)
    _calls: Counter[str] = PrivateAttr(default_factory=Counter)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def calls(self) -> Counter[str]:
        return self._calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        topic = topic_of(str(messages[-1].content))
        self._calls[topic] += 1
        if topic in self.fail:
            raise TimeoutError(f"no answer for {topic}")
        text = f"Here are 2 questions:\n1. How do {topic} change?\n2. What are {topic}?"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.sleep(0)
        return self._generate(messages, stop, **kwargs)


class StructuredChat(ScriptedChat):
    """Supports with_structured_output by returning a Runnable that yields the schema."""

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable[Any, Any]:
        include_raw = kwargs.get("include_raw", False)

        async def answer(prompt: Any) -> Any:
            topic = topic_of(str(prompt))
            self._calls[topic] += 1
            parsed = schema(questions=[f"Which {topic} are largest?", f"Where are {topic}?"])
            if include_raw:
                return {"raw": AIMessage(content=""), "parsed": parsed, "parsing_error": None}
            return parsed

        return RunnableLambda(lambda p: asyncio.run(answer(p)), afunc=answer)


class ToolCallingFake(GenericFakeChatModel):
    """A fake whose structured output goes through LangChain's own tool-call parser."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self


def test_text_path_keeps_document_ids() -> None:
    docs = make_docs()
    chat = ScriptedChat()
    data = generate_qa_pairs(docs, chat)
    assert list(data.corpus) == [d.id for d in docs]
    assert data.corpus["doc-1"] == docs[1].page_content
    assert data.queries["doc-1#q0"] == "How do glaciers change?"
    assert data.relevant_docs["doc-1#q1"] == ["doc-1"]
    assert len(data) == 10 and all(n == 1 for n in chat.calls.values())


def test_fake_list_chat_model_text_path() -> None:
    chat = FakeListChatModel(responses=['```json\n["What is it?", "Why is it?"]\n```'])
    data = generate_qa_pairs(make_docs()[:2], chat, num_questions_per_chunk=2)
    assert data.queries == {
        "doc-0#q0": "What is it?",
        "doc-0#q1": "Why is it?",
        "doc-1#q0": "What is it?",
        "doc-1#q1": "Why is it?",
    }


def test_structured_output_is_used_when_supported() -> None:
    chat = StructuredChat()
    data = generate_qa_pairs(make_docs()[:2], chat, num_questions_per_chunk=1)
    assert data.queries == {
        "doc-0#q0": "Which volcanoes are largest?",
        "doc-1#q0": "Which glaciers are largest?",
    }


def test_structured_output_through_langchain_tool_parser() -> None:
    def call(questions: list[str]) -> AIMessage:
        return AIMessage(
            content="",
            tool_calls=[
                {"name": "GeneratedQuestions", "args": {"questions": questions}, "id": "1"}
            ],
        )

    chat = ToolCallingFake(messages=iter([call(["- What is A?", "What is B?"])]))
    data = generate_qa_pairs(make_docs()[:1], chat)
    assert data.queries == {"doc-0#q0": "What is A?", "doc-0#q1": "What is B?"}


def test_structured_parse_failure_falls_back_to_raw_text() -> None:
    chat = ToolCallingFake(messages=iter([AIMessage(content="1. What is A?\n2. What is B?")]))
    data = generate_qa_pairs(make_docs()[:1], chat)
    assert list(data.queries.values()) == ["What is A?", "What is B?"]


def test_structured_required_but_unsupported() -> None:
    with pytest.raises(NudgeError, match="structured output"):
        generate_qa_pairs(make_docs()[:1], ScriptedChat(), structured=True)


def test_structured_can_be_switched_off() -> None:
    chat = StructuredChat()
    data = generate_qa_pairs(make_docs()[:1], chat, structured=False)
    assert data.queries["doc-0#q0"] == "How do volcanoes change?"


def test_id_key_and_missing_ids() -> None:
    docs = make_docs()
    data = generate_qa_pairs(docs[:2], ScriptedChat(), id_key="source_id")
    assert list(data.corpus) == ["src-0", "src-1"]
    no_id = [docs[0], Document(page_content="This passage is about sand.")]
    with pytest.raises(NudgeError, match="document 1 has no id"):
        generate_qa_pairs(no_id, ScriptedChat())
    with pytest.raises(NudgeError, match=r"document 1 has no metadata\['source_id'\]"):
        generate_qa_pairs(no_id, ScriptedChat(), id_key="source_id")
    with pytest.raises(DuplicateIdError, match="document 1"):
        generate_qa_pairs([docs[0], docs[0]], ScriptedChat())


def test_resume_asks_only_failed_documents(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    docs = make_docs()
    first = ScriptedChat(fail={"deserts"})
    with pytest.warns(QAGenerationWarning, match="TimeoutError: no answer for deserts"):
        data = generate_qa_pairs(docs, first, save_path=path, max_concurrency=2, retries=0)
    assert first.calls["deserts"] == 1
    assert len(data) == 8 and "doc-2" in data.corpus

    second = ScriptedChat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data2 = asyncio.run(agenerate_qa_pairs(docs, second, save_path=path))
    assert dict(second.calls) == {"deserts": 1}
    assert len(data2) == 10
    assert QADataset.from_json(path).queries == data2.queries


def test_schema_is_a_questions_list() -> None:
    assert GeneratedQuestions(questions=["a?"]).questions == ["a?"]


def test_one_question_for_every_document_is_reported() -> None:
    model = FakeListChatModel(responses=["What is described here?"])  # says it every time
    with pytest.warns(QAGenerationWarning, match="5 of 5 passages got the same question"):
        data = generate_qa_pairs(make_docs(), model)
    assert set(data.queries.values()) == {"What is described here?"}
