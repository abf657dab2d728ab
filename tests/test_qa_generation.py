"""LLM question generation without a framework: parsing, concurrency, resume, failures."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections import Counter
from pathlib import Path

import pytest

from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.data import QADataset
from nudge_integrations.data.qa_generation import (
    DEFAULT_QA_PROMPT,
    QAGenerationState,
    QAGenerationWarning,
    agenerate_qa_dataset,
    agenerate_qa_state,
    format_qa_prompt,
    generate_qa_dataset,
    parse_questions,
)

NODES = [(f"doc{i}", f"Passage number {i} says something about topic {i}.") for i in range(12)]


def doc_of(prompt: str) -> str:
    """Which node a prompt is about (the passage text names its number)."""
    return "doc" + prompt.split("Passage number ", 1)[1].split(" ", 1)[0]


class ScriptedAsk:
    """An async fake LLM: answers from the doc id in the prompt, counts calls and overlap."""

    def __init__(self, fail: set[str] | None = None, delay: float = 0.0) -> None:
        self.fail = fail or set()
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.in_flight = 0
        self.peak = 0

    async def __call__(self, prompt: str) -> str:
        doc = doc_of(prompt)
        self.calls[doc] += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            if doc in self.fail:
                raise RuntimeError(f"rate limited on {doc}")
            return f"Here are 2 questions:\n1. What does {doc} say?\n2. Why is {doc} here?"
        finally:
            self.in_flight -= 1


# ------------------------------------------------------------------------- parsing
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1. What is X?\n2) How does Y work?\n\nQ3: Why Z?", ["What is X?", "How does Y work?"]),
        ("Here are 2 questions:\n- What is X?\n* What is Y?", ["What is X?", "What is Y?"]),
        ('```json\n["What is X?", "What is Y?"]\n```', ["What is X?", "What is Y?"]),
        ('Sure.\n```json\n{"questions": ["1. What is X?"]}\n```\nEnjoy!', ["What is X?"]),
        ('["What is X?", "What is Y?", "What is Z?"]', ["What is X?", "What is Y?"]),
        ("\"What is X?\"\n'What is Y?'", ["What is X?", "What is Y?"]),
        ('[\n  "What is X?",\n  "What is Y?",\n', ["What is X?", "What is Y?"]),  # cut off
        ("**Q1:** What is **X**?\n**A1:** X is a thing.", ["What is X?"]),
        ("Question 1: What is X?\nAnswer: it is.\nQuestion 2: Y?", ["What is X?", "Y?"]),
        ("What is X?\nwhat is   x?\nWhat is Y?", ["What is X?", "What is Y?"]),
        ("Sure, here you go.\nWhat is X?\nI hope these help!", ["What is X?"]),
        ("### Questions\n(1) What is X?", ["What is X?"]),
        ("Describe X.\nExplain Y.", ["Describe X.", "Explain Y."]),
        ("3.5 million people live where?", ["3.5 million people live where?"]),
        ("\u201cWhat is X?\u201d", ["What is X?"]),
        ("Here are the questions:", []),
        ("", []),
        ("  \n\n ", []),
    ],
)
def test_parse_questions(text: str, expected: list[str]) -> None:
    assert parse_questions(text, 2) == expected


def test_parse_questions_limit_must_be_positive() -> None:
    with pytest.raises(NudgeError, match="limit"):
        parse_questions("What?", 0)


def test_prompt_formatting() -> None:
    prompt = format_qa_prompt(DEFAULT_QA_PROMPT, "Some {braced} text.", 3)
    assert "Some {braced} text." in prompt and "3 different questions" in prompt
    # other braces in a template: only the two placeholders are filled
    odd = 'Reply as {"questions": [...]}. {num_questions_per_chunk} about: {context_str}'
    assert format_qa_prompt(odd, "ctx", 2) == 'Reply as {"questions": [...]}. 2 about: ctx'
    assert format_qa_prompt(lambda c, n: f"{n}|{c}", "ctx", 4) == "4|ctx"


# ---------------------------------------------------------------------- generation
def test_generates_ids_and_dataset() -> None:
    ask = ScriptedAsk()
    data = generate_qa_dataset(NODES, ask, num_questions_per_chunk=2, retry_backoff=0)
    assert set(data.corpus) == {doc for doc, _ in NODES}
    assert len(data) == 2 * len(NODES)
    assert data.queries["doc3#q0"] == "What does doc3 say?"
    assert data.relevant_docs["doc3#q1"] == ["doc3"]
    assert list(data.queries)[:2] == ["doc0#q0", "doc0#q1"]  # node order, not finish order
    assert all(n == 1 for n in ask.calls.values())


def test_concurrency_bound_is_honoured() -> None:
    ask = ScriptedAsk(delay=0.01)
    asyncio.run(agenerate_qa_dataset(NODES, ask, max_concurrency=3))
    assert ask.peak == 3
    assert sum(ask.calls.values()) == len(NODES)
    ask1 = ScriptedAsk(delay=0.001)
    asyncio.run(agenerate_qa_dataset(NODES[:4], ask1, max_concurrency=1))
    assert ask1.peak == 1


def test_failures_are_retried_recorded_and_resumed(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    flaky = {"doc2", "doc5", "doc9"}
    first = ScriptedAsk(fail=flaky)
    with pytest.warns(QAGenerationWarning, match="3 of 12 passages"):
        data = generate_qa_dataset(NODES, first, save_path=path, retries=2, retry_backoff=0)
    assert all(first.calls[doc] == 3 for doc in flaky)  # 1 try + 2 retries
    assert set(data.corpus) == {doc for doc, _ in NODES}  # failed docs stay in the corpus
    assert {data.relevant_docs[q][0] for q in data.queries} == {d for d, _ in NODES} - flaky

    saved = json.loads(path.read_text())
    assert sorted(saved["generation"]["failed"]) == sorted(flaky)
    assert "RuntimeError: rate limited on doc2" in saved["generation"]["failed"]["doc2"]
    assert len(QADataset.from_json(path)) == 2 * 9  # our loader ignores the progress key

    second = ScriptedAsk()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data2 = generate_qa_dataset(NODES, second, save_path=path)
    assert set(second.calls) == flaky and all(n == 1 for n in second.calls.values())
    assert len(data2) == 2 * len(NODES)
    assert data2.queries == {**data.queries, **data2.queries}  # earlier queries kept as-is
    assert json.loads(path.read_text())["generation"]["failed"] == {}


class Interrupted(BaseException):
    """Stands in for Ctrl-C / a crash: not an Exception, so nothing retries it."""


def test_resume_after_interruption_skips_and_repeats_nothing(tmp_path: Path) -> None:
    """The old offset bug: after a partial run, some nodes were skipped or asked twice."""
    path = tmp_path / "qa.json"
    answered: list[str] = []

    async def crashing(prompt: str) -> str:
        doc = doc_of(prompt)
        if doc == "doc4":
            await asyncio.sleep(0)
            raise RuntimeError("always fails")
        if len(answered) == 6:
            raise Interrupted
        await asyncio.sleep(0.001 * (int(doc[3:]) % 3))  # finish out of order
        answered.append(doc)
        return f"What does {doc} say?"

    with pytest.raises(Interrupted):
        asyncio.run(
            agenerate_qa_dataset(NODES, crashing, save_path=path, max_concurrency=4, retries=0)
        )
    state = QAGenerationState.load(path)
    assert sorted(state.done) == sorted(answered)  # all finished work was saved
    assert 0 < len(state.done) < len(NODES)

    second = ScriptedAsk()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing fails or mismatches this time
        data = generate_qa_dataset(NODES, second, save_path=path, max_concurrency=4)
    asked_again = set(second.calls)
    assert asked_again == {doc for doc, _ in NODES} - set(answered)  # only the missing ones
    assert all(n == 1 for n in second.calls.values())  # none twice
    per_doc = Counter(data.relevant_docs[q][0] for q in data.queries)
    assert set(per_doc) == {doc for doc, _ in NODES}  # none skipped
    for doc in answered:  # first-run questions kept, same ids
        assert data.queries[f"{doc}#q0"] == f"What does {doc} say?"
        assert f"{doc}#q1" not in data.queries


def test_cancellation_saves_progress(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    ask = ScriptedAsk(delay=0.02)

    async def main() -> None:
        task = asyncio.ensure_future(
            agenerate_qa_dataset(NODES, ask, save_path=path, max_concurrency=2, save_every=100)
        )
        await asyncio.sleep(0.07)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    state = QAGenerationState.load(path)  # saved on cancel even with save_every=100
    assert 0 < len(state.done) < len(NODES)
    assert all(
        state.questions[d] == [f"What does {d} say?", f"Why is {d} here?"] for d in state.done
    )


def test_zero_question_answers_are_failures(tmp_path: Path) -> None:
    calls: Counter[str] = Counter()

    async def ask(prompt: str) -> str:
        doc = doc_of(prompt)
        calls[doc] += 1
        if doc == "doc1":
            return "Here are the questions:\n```\n```"
        return f'```json\n["1. What is in {doc}?", "What is in {doc}?"]\n```'

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the state-returning function leaves reporting to you
        state = asyncio.run(
            agenerate_qa_state(
                NODES[:3], ask, retries=1, retry_backoff=0, save_path=tmp_path / "s.json"
            )
        )
    assert calls["doc1"] == 2  # retried once, then recorded
    assert "no questions" in state.failed["doc1"]
    assert state.questions["doc0"] == ["What is in doc0?"]  # deduped after cleaning
    assert state.done == ["doc0", "doc2"]


def test_list_answers_and_empty_passages() -> None:
    async def ask(prompt: str) -> list[str]:
        return ["- What?", "What?", "Why?", "How?"]

    nodes = [("a", "Some text."), ("b", "   ")]
    state = asyncio.run(agenerate_qa_state(nodes, ask, num_questions_per_chunk=2))
    assert state.questions == {"a": ["What?", "Why?"]}
    assert state.failed == {"b": "the passage is empty"}


def test_timeout_counts_as_failure() -> None:
    async def slow(prompt: str) -> str:
        await asyncio.sleep(1)
        return "What?"

    with pytest.warns(QAGenerationWarning, match="TimeoutError"):
        data = generate_qa_dataset(NODES[:2], slow, timeout=0.01, retries=0)
    assert len(data) == 0 and len(data.corpus) == 2


def test_changed_and_dropped_passages_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    generate_qa_dataset(NODES[:4], ScriptedAsk(), save_path=path)
    changed = [NODES[0], (NODES[1][0], NODES[1][1] + " Edited."), NODES[2]]
    again = ScriptedAsk()
    with pytest.warns(QAGenerationWarning) as caught:
        data = generate_qa_dataset(changed, again, save_path=path)
    messages = " ".join(str(w.message) for w in caught)
    assert "changed text" in messages and "not among the nodes" in messages
    assert set(again.calls) == {"doc1"}
    assert set(data.corpus) == {"doc0", "doc1", "doc2"}
    assert set(QADataset.from_json(path).corpus) == {"doc0", "doc1", "doc2"}


def test_refuses_to_overwrite_a_plain_dataset(tmp_path: Path) -> None:
    path = tmp_path / "curated.json"
    QADataset({"q": "What?"}, {"doc0": "text"}, {"q": ["doc0"]}).save_json(path)
    with pytest.raises(NudgeError, match="not written by generate_qa_dataset"):
        generate_qa_dataset(NODES[:1], ScriptedAsk(), save_path=path)


def test_save_is_atomic_json(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "qa.json"
    generate_qa_dataset(NODES[:3], ScriptedAsk(), save_path=path)
    assert [p.name for p in path.parent.iterdir()] == ["qa.json"]  # no temp files left
    data = json.loads(path.read_text())
    assert set(data) == {"queries", "corpus", "relevant_docs", "mode", "generation"}
    assert data["generation"]["done"] == ["doc0", "doc1", "doc2"]


def test_sync_wrapper_inside_a_running_loop() -> None:
    async def main() -> QADataset:  # as in Jupyter, where a loop already runs
        return generate_qa_dataset(NODES[:3], ScriptedAsk())

    assert len(asyncio.run(main())) == 6


@pytest.mark.parametrize(
    ("nodes", "kwargs", "error", "match"),
    [
        ([], {}, NudgeError, "no nodes"),
        ([("a", "x"), ("a", "y")], {}, DuplicateIdError, "twice"),
        ([("a",)], {}, NudgeError, "pair"),
        ([(1, "x")], {}, NudgeError, "non-empty strings"),
        (NODES, {"num_questions_per_chunk": 0}, NudgeError, "num_questions"),
        (NODES, {"max_concurrency": 0}, NudgeError, "max_concurrency"),
        (NODES, {"retries": -1}, NudgeError, "retries"),
        (NODES, {"save_every": 0}, NudgeError, "save_every"),
        (NODES, {"save_interval": 0}, NudgeError, "save_interval"),
        (NODES, {"prompt_template": "no placeholder"}, NudgeError, "context_str"),
    ],
)
def test_bad_input(nodes: object, kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        generate_qa_dataset(nodes, ScriptedAsk(), **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ batched saving
MANY = [(f"doc{i}", f"Passage number {i} says something about topic {i}.") for i in range(35)]


class SaveWatcher(ScriptedAsk):
    """Before answering, reads how many passages the save file holds: when it changes
    between calls (one call at a time), the file was written in between."""

    def __init__(self, path: Path, delay: float = 0.0, stop_after: int | None = None) -> None:
        super().__init__(delay=delay)
        self.path = path
        self.stop_after = stop_after
        self.seen: list[int] = []

    async def __call__(self, prompt: str) -> str:
        if self.stop_after is not None and len(self.seen) == self.stop_after:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run
        on_disk = QAGenerationState.load(self.path).done if self.path.exists() else []
        self.seen.append(len(on_disk))
        return await super().__call__(prompt)


def test_saves_in_batches_of_save_every(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    ask = SaveWatcher(path)
    data = generate_qa_dataset(
        MANY, ask, save_path=path, max_concurrency=1, save_every=10, save_interval=None
    )
    assert ask.seen == [10 * (i // 10) for i in range(len(MANY))]  # written after 10, 20, 30
    assert QAGenerationState.load(path).done == [doc for doc, _ in MANY]  # and at the end
    assert QADataset.from_json(path).queries == data.queries


def test_default_saves_a_fast_run_once_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    ask = SaveWatcher(path)
    generate_qa_dataset(MANY, ask, save_path=path, max_concurrency=1)
    assert set(ask.seen) == {0}  # no write during the run (fewer than 100 passages, < 10 s)
    assert len(QADataset.from_json(path)) == 2 * len(MANY)


def test_saves_every_save_interval_seconds(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    ask = SaveWatcher(path, delay=0.02)
    generate_qa_dataset(
        NODES, ask, save_path=path, max_concurrency=1, save_every=1000, save_interval=0.05
    )
    assert set(ask.seen) - {0}  # written mid-run although save_every was never reached
    assert ask.seen == sorted(ask.seen)
    assert len(QAGenerationState.load(path).done) == len(NODES)


def test_ctrl_c_between_batches_saves_everything_done(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    first = SaveWatcher(path, stop_after=17)
    with pytest.raises(KeyboardInterrupt):
        generate_qa_dataset(
            MANY, first, save_path=path, max_concurrency=1, save_every=10, save_interval=None
        )
    assert max(first.seen) == 10  # the last batch write came after 10 passages...
    state = QAGenerationState.load(path)
    assert state.done == [doc for doc, _ in MANY[:17]]  # ...but all 17 were saved on exit

    second = ScriptedAsk()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = generate_qa_dataset(MANY, second, save_path=path, save_every=10)
    assert set(second.calls) == {doc for doc, _ in MANY[17:]}  # only the rest, each once
    assert all(n == 1 for n in second.calls.values())
    per_doc = Counter(data.relevant_docs[q][0] for q in data.queries)
    assert per_doc == dict.fromkeys((doc for doc, _ in MANY), 2)  # none missing or doubled
    assert QADataset.from_json(path).queries == data.queries


# ------------------------------------------------------------ answers that are not questions
def test_one_question_for_every_passage_is_reported(tmp_path: Path) -> None:
    async def constant(prompt: str) -> str:
        return "What is this passage about?"

    path = tmp_path / "qa.json"
    with pytest.warns(QAGenerationWarning, match="12 of 12 passages got the same question") as w:
        generate_qa_dataset(NODES, constant, save_path=path)
    assert "'What is this passage about?'" in str(w[0].message)
    assert "delete it" in str(w[0].message) and str(path) in str(w[0].message)


def test_echoed_prompts_are_reported() -> None:
    async def echo(prompt: str) -> str:
        return prompt

    with pytest.warns(QAGenerationWarning, match="repeat the prompt.*12 of 12 passages"):
        generate_qa_dataset(NODES, echo)


def test_distinct_questions_and_quoted_faq_questions_are_not_reported() -> None:
    faq = [
        (f"faq{i}", f"How do I reset router {i}? Hold its button {i} seconds.") for i in range(8)
    ]

    async def quote(prompt: str) -> str:  # an FAQ's own question, taken from the passage
        start = prompt.index("How do I")
        return prompt[start : prompt.index("?", start) + 1]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = generate_qa_dataset(faq, quote)
        generate_qa_dataset(NODES, ScriptedAsk())
    assert data.queries["faq3#q0"] == "How do I reset router 3?"
