"""Synthetic training queries from an LLM, resumable and framework-free.

:func:`agenerate_qa_dataset` asks any async ``ask(prompt) -> text`` callable for a few
questions per passage, concurrently, and turns the answers into a :class:`QADataset`
whose query ``"<doc_id>#q<i>"`` is relevant to passage ``doc_id``.

Progress is kept **by doc id**, never by position: with ``save_path`` the file is
rewritten (atomically) every ``save_every`` finished nodes or ``save_interval`` seconds,
and whenever the run ends, also by an exception or Ctrl-C, in LlamaIndex's
``EmbeddingQAFinetuneDataset`` schema plus a ``"generation"`` key (``{"version", "done",
"failed"}``) that both :meth:`QADataset.from_json` and LlamaIndex ignore. Run again with
the same ``save_path`` and only the passages not yet done are asked, failed ones
included; nothing is skipped or asked twice however the earlier run ended.

The LlamaIndex and LangChain adapters (``nudge_integrations.llama_index`` and
``nudge_integrations.langchain``) wrap these functions for their node and model types.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from nudge_integrations.core.async_utils import run_sync
from nudge_integrations.core.errors import DuplicateIdError, NudgeError
from nudge_integrations.data.dataset import QADataset

if TYPE_CHECKING:  # annotations only (postponed): no runtime need on Python 3.10
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_QA_PROMPT",
    "GenerationOptions",
    "QAGenerationState",
    "QAGenerationWarning",
    "QAPromptTemplate",
    "RunOptions",
    "agenerate_qa_dataset",
    "agenerate_qa_state",
    "format_qa_prompt",
    "generate_qa_dataset",
    "parse_questions",
]

T = TypeVar("T")

DEFAULT_QA_PROMPT = """\
Below is a passage from a document collection.

---------------------
{context_str}
---------------------

Write {num_questions_per_chunk} different questions that a user of a search engine might \
type and that this passage answers. Use only what the passage says, not outside knowledge. \
Make each question understandable on its own, without seeing the passage (do not write \
"according to the passage"), and vary their focus and wording.

Reply with the questions only, one per line, with no numbering, answers or other text.
"""
"""The default prompt; ``{context_str}`` is the passage, ``{num_questions_per_chunk}`` the count."""

QAPromptTemplate = str | Callable[[str, int], str]
"""A ``str.format`` template with ``{context_str}`` (and optionally
``{num_questions_per_chunk}``), or a callable ``(context_str, num_questions) -> prompt``."""

Ask = Callable[[str], Awaitable[str | Sequence[str]]]
"""Sends a prompt to a model; returns its text answer (or an already split list)."""

SAVE_FORMAT_VERSION = 1


class QAGenerationWarning(UserWarning):
    """Some passages got no questions, a save file did not match the passages given, or
    the model's answers are not questions about their passages."""


#: One question given for at least this many passages, and for 10% of the passages
#: done or ``_REPEAT_CAP`` of them (whichever is fewer), is reported.
_REPEAT_MIN = 3
_REPEAT_SHARE = 0.1
_REPEAT_CAP = 20


# --------------------------------------------------------------------------- options
class RunOptions(TypedDict, total=False):
    """How the model is called and progress reported: :class:`GenerationOptions` less
    the question count, the prompt and the save path (which the LlamaIndex adapter
    takes under its own names). Each option's default and meaning are listed there."""

    max_concurrency: int
    save_every: int
    save_interval: float | None
    retries: int
    retry_backoff: float
    timeout: float | None
    show_progress: bool


class GenerationOptions(RunOptions, total=False):
    """The keyword options of every question-generation function, with their defaults.

    :func:`agenerate_qa_state`, :func:`agenerate_qa_dataset`, :func:`generate_qa_dataset`
    and LangChain's ``agenerate_qa_pairs`` / ``generate_qa_pairs`` take them all as
    keywords (``**options``); LlamaIndex's ``agenerate_qa_embedding_pairs`` /
    ``generate_qa_embedding_pairs`` take the :class:`RunOptions` part, and spell the
    other three ``num_questions_per_chunk`` (also positional), ``qa_generate_prompt_tmpl``
    and ``output_path``. An option left out takes its default:

    ``num_questions_per_chunk: int = 2``
        Questions asked for per passage (at least 1); the model's answer is cut to this
        many after cleaning and de-duplication.
    ``prompt_template: QAPromptTemplate = DEFAULT_QA_PROMPT``
        A ``str.format`` template with ``{context_str}`` (the passage) and optionally
        ``{num_questions_per_chunk}``, or a callable ``(context_str, n) -> prompt``.
    ``max_concurrency: int = 8``
        Model calls in flight at once (at least 1).
    ``save_path: str | Path | None = None``
        A JSON file that keeps progress by doc id, rewritten atomically in batches (see
        ``save_every`` and ``save_interval``) and always when the run ends, whether it
        finished, raised or was interrupted (Ctrl-C, cancellation). If it exists, only
        passages not yet done (failed ones included) are asked. Each write holds the
        whole corpus, so writing after every passage would cost more than a fast model.
    ``save_every: int = 100``
        Write the save file once this many passages finished since the last write (at
        least 1; 1 writes after every passage, which is slow for large corpora).
    ``save_interval: float | None = 10.0``
        Also write it when a passage finishes this many seconds (positive) or more after
        the last write; ``None`` writes by count only. A process killed outright (where
        no ``finally`` runs) loses at most one batch of work.
    ``retries: int = 2``
        Further tries (0 or more) for a call that raises, times out or yields no
        question; after ``retries + 1`` failures the passage is recorded as failed,
        reported in a :class:`QAGenerationWarning` and asked again on the next resume.
    ``retry_backoff: float = 1.0``
        Seconds (0 or more) before the first retry, doubled for each later one
        (``retry_backoff * 2**k``).
    ``timeout: float | None = None``
        Seconds one model call may take (positive), or ``None`` for no limit.
    ``show_progress: bool = False``
        Show a tqdm progress bar over the passages still to ask.
    """

    num_questions_per_chunk: int
    prompt_template: QAPromptTemplate
    save_path: str | Path | None


_GENERATION_OPTION_NAMES = frozenset(GenerationOptions.__annotations__)
_RUN_OPTION_NAMES = frozenset(RunOptions.__annotations__)


@dataclass(frozen=True)
class _Settings:
    """:class:`GenerationOptions` with the defaults its docstring lists filled in."""

    num_questions_per_chunk: int = 2
    prompt_template: QAPromptTemplate = DEFAULT_QA_PROMPT
    max_concurrency: int = 8
    save_path: str | Path | None = None
    save_every: int = 100
    save_interval: float | None = 10.0
    retries: int = 2
    retry_backoff: float = 1.0
    timeout: float | None = None
    show_progress: bool = False


def _check_option_names(
    func: str, options: Mapping[str, object], allowed: frozenset[str] = _GENERATION_OPTION_NAMES
) -> None:
    """Raise the ``TypeError`` Python gives for a keyword that ``func`` does not take."""
    for name in options:
        if name not in allowed:
            raise TypeError(f"{func}() got an unexpected keyword argument {name!r}")


# --------------------------------------------------------------------------- parsing
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)(?:```|\Z)", re.S)
_FENCE_LINE = re.compile(r"^\s*```")
_MARKER = re.compile(
    r"""^(?:
        [-*+\u2022\u00b7\u2013\u2014]\s+                          # bullets: - * + and dots, dashes
      | \(?\d{1,3}(?:[.:]\s+|[)\]]\s*)                       # 1.  1)  (1)  1:  1]
      | (?:q|question)\s*\d{0,3}\s*[.:)\]]\s*                # Q1:  Q:  Question 2.
    )""",
    re.I | re.X,
)
_HEADING = re.compile(r"^#{1,6}\s+")
_ANSWER = re.compile(r"^(?:a|answer)\s*\d{0,3}\s*[:)\]]", re.I)
_CHATTER = re.compile(
    r"^(?:here\s+(?:are|is)|here's|sure|certainly|of course|okay|ok\b|below\s+(?:are|is)|"
    r"the following|these\s+(?:are|questions)|i\s+hope|hope\s+this|let\s+me\s+know|"
    r"note\b|feel free)",
    re.I,
)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "`": "`"}
_NO_WORDS = re.compile(r"^[\W_]*$")


def parse_questions(text: str, limit: int) -> list[str]:
    """The questions in an LLM's answer, cleaned, de-duplicated, at most ``limit`` of them.

    Tolerates the usual ways a model formats a list: one per line or a JSON list (also
    inside a fenced code block, or an object with a ``"questions"`` list); numbering such
    as ``1.``, ``1)``, ``Q1:`` or ``Question 1:``; bullets; markdown emphasis and headings;
    surrounding quotes; blank lines. Dropped: lines ending with ``:`` (preambles such as
    "Here are 2 questions:"), answer lines (``A:`` / ``Answer:``), and, when the answer
    holds real questions, un-numbered chatter lines that are not questions ("Sure!",
    "I hope these help."). Duplicates (ignoring case and spacing) are kept once.
    """
    if limit < 1:
        raise NudgeError(f"limit must be at least 1, got {limit}")
    if not isinstance(text, str):
        raise NudgeError(f"expected the model's answer as text, got {type(text).__name__}")
    items = _json_items(text)
    if items is not None:
        return _dedupe((_clean(item)[0] for item in items), limit)
    lines: list[tuple[str, bool]] = []
    for raw in text.splitlines():
        if _FENCE_LINE.match(raw):
            continue
        line, marked = _clean(raw)
        if not line or line.endswith(":") or _ANSWER.match(line):
            continue
        lines.append((line, marked))
    if any(line.endswith("?") for line, _ in lines):
        lines = [
            (line, marked)
            for line, marked in lines
            if line.endswith("?") or (marked and not _CHATTER.match(line))
        ]
    else:
        lines = [(line, marked) for line, marked in lines if marked or not _CHATTER.match(line)]
    return _dedupe((line for line, _ in lines), limit)


def _json_items(text: str) -> list[str] | None:
    """Strings of a JSON list found in ``text`` (whole, fenced, or the outermost [...])."""
    candidates = [block.strip() for block in _FENCE.findall(text)]
    candidates.append(text.strip())
    start, end = text.find("["), text.rfind("]")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        if not candidate or candidate[0] not in "[{":
            continue
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        items = _strings_of(data)
        if items:
            return items
    return None


def _strings_of(data: Any) -> list[str] | None:
    if isinstance(data, Mapping):
        lists = [v for k, v in data.items() if str(k).lower() == "questions"]
        lists = lists or [v for v in data.values() if isinstance(v, list)]
        return _strings_of(lists[0]) if len(lists) == 1 else None
    if not isinstance(data, list):
        return None
    items: list[str] = []
    for item in data:
        if isinstance(item, str):
            items.append(item)
        elif isinstance(item, Mapping):
            texts = [v for k, v in item.items() if str(k).lower() in ("question", "q", "query")]
            texts = texts or [v for v in item.values() if isinstance(v, str)]
            if texts and isinstance(texts[0], str):
                items.append(texts[0])
    return items


def _clean(line: str) -> tuple[str, bool]:
    """The line without list markers, emphasis and quotes; and whether it had a marker."""
    text = " ".join(line.replace("**", "").replace("__", "").split())
    marked = False
    while True:
        before = text
        text = _HEADING.sub("", text)
        stripped = _MARKER.sub("", text, count=1)
        marked = marked or stripped != text
        text = stripped.strip()
        if text.endswith(",") and len(text) > 1 and text[-2] in "\"'\u201d\u2019`":
            text = text[:-1]  # a line of a broken JSON list: "question",
        if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
            text = text[1:-1].strip()
        if text == before:
            break
    return ("" if _NO_WORDS.match(text) else text), marked


def _clean_items(items: Sequence[str], limit: int) -> list[str]:
    return _dedupe((_clean(str(item))[0] for item in items), limit)


def _dedupe(questions: Iterable[str], limit: int) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for question in questions:
        key = " ".join(question.split()).casefold()
        if key and key not in seen:
            seen.add(key)
            kept.append(question)
            if len(kept) == limit:
                break
    return kept


def format_qa_prompt(template: QAPromptTemplate, context_str: str, num_questions: int) -> str:
    """Fill ``{context_str}`` and ``{num_questions_per_chunk}`` into a template.

    A ``str`` template is filled with ``str.format``; if it holds other braces that
    ``format`` rejects, only the two placeholders are replaced literally. A callable is
    called as ``template(context_str, num_questions)``.
    """
    if not isinstance(template, str):
        return str(template(context_str, num_questions))
    try:
        return template.format(context_str=context_str, num_questions_per_chunk=num_questions)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template.replace("{num_questions_per_chunk}", str(num_questions)).replace(
            "{context_str}", context_str
        )


# ----------------------------------------------------------------------------- state
@dataclass
class QAGenerationState:
    """Where a generation run stands: the corpus, done passages' questions, failures.

    ``questions`` maps each done doc id to its questions (never empty); ``failed`` maps
    doc ids whose last attempt failed to the error. Every other corpus id is pending.
    """

    corpus: dict[str, str]
    questions: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> list[str]:
        """Doc ids with questions, in corpus order."""
        return [doc for doc in self.corpus if doc in self.questions]

    @property
    def pending(self) -> list[str]:
        """Doc ids still to ask (failed ones included), in corpus order."""
        return [doc for doc in self.corpus if doc not in self.questions]

    def record_done(self, doc_id: str, questions: Sequence[str]) -> None:
        if not questions:
            raise NudgeError(f"doc {doc_id!r}: a done passage needs at least one question")
        self.questions[doc_id] = list(questions)
        self.failed.pop(doc_id, None)

    def record_failed(self, doc_id: str, error: str) -> None:
        self.questions.pop(doc_id, None)
        self.failed[doc_id] = error

    def to_dataset(self) -> QADataset:
        """Queries ``"<doc_id>#q<i>"`` for the done passages over the whole corpus."""
        queries: dict[str, str] = {}
        relevant: dict[str, list[str]] = {}
        for doc in self.done:
            for i, question in enumerate(self.questions[doc]):
                qid = f"{doc}#q{i}"
                queries[qid] = question
                relevant[qid] = [doc]
        return QADataset(queries=queries, corpus=self.corpus, relevant_docs=relevant)

    def to_dict(self) -> dict[str, Any]:
        """The LlamaIndex schema plus ``"generation": {"version", "done", "failed"}``."""
        data = self.to_dataset().to_dict()
        data["generation"] = self._generation()
        return data

    def _generation(self) -> dict[str, Any]:
        return {
            "version": SAVE_FORMAT_VERSION,
            "done": self.done,
            "failed": {doc: err for doc, err in self.failed.items() if doc in self.corpus},
        }

    def to_json(self, *, corpus_json: str | None = None) -> str:
        """The save file's text (``corpus_json``: the corpus already serialised, if known)."""
        dataset = self.to_dataset()
        parts = {
            "queries": json.dumps(dataset.queries, ensure_ascii=False),
            "corpus": corpus_json or json.dumps(self.corpus, ensure_ascii=False),
            "relevant_docs": json.dumps(dataset.relevant_docs, ensure_ascii=False),
            "mode": json.dumps(dataset.mode),
            "generation": json.dumps(self._generation(), ensure_ascii=False),
        }
        return "{\n" + ",\n".join(f'"{key}": {value}' for key, value in parts.items()) + "\n}\n"

    def save(self, path: str | Path, *, corpus_json: str | None = None) -> None:
        """Write :meth:`to_json` atomically: a temp file beside ``path``, then a rename."""
        _atomic_write(Path(path), self.to_json(corpus_json=corpus_json))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "the save data"
    ) -> QAGenerationState:
        """Read what :meth:`to_dict` wrote; refuses plain datasets (no ``"generation"``)."""
        generation = data.get("generation")
        if not isinstance(generation, Mapping):
            raise NudgeError(
                f"{source} has no 'generation' progress record, so it was not written by "
                "generate_qa_dataset: pass another save path (it would be overwritten)"
            )
        dataset = QADataset.from_dict(data)
        grouped: dict[str, list[str]] = {}
        for qid, text in dataset.queries.items():
            grouped.setdefault(dataset.relevant_docs[qid][0], []).append(text)
        state = cls(corpus=dict(dataset.corpus))
        for doc in generation.get("done") or []:
            if str(doc) in grouped:
                state.questions[str(doc)] = grouped[str(doc)]
        failed = generation.get("failed") or {}
        if not isinstance(failed, Mapping):
            raise NudgeError(f"{source}: generation.failed must map doc ids to errors")
        for doc, err in failed.items():
            if str(doc) not in state.questions:
                state.failed[str(doc)] = str(err)
        return state

    @classmethod
    def load(cls, path: str | Path) -> QAGenerationState:
        """Read a save file written by :func:`agenerate_qa_dataset`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise NudgeError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise NudgeError(f"{path} does not hold a JSON object")
        return cls.from_dict(data, source=str(path))


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------ generation
def _check_nodes(nodes: Sequence[tuple[str, str]]) -> dict[str, str]:
    corpus: dict[str, str] = {}
    for i, node in enumerate(nodes):
        if not (isinstance(node, tuple | list) and len(node) == 2):
            raise NudgeError(f"node {i} is {type(node).__name__}: expected a (doc_id, text) pair")
        doc_id, text = node
        if not isinstance(doc_id, str) or not doc_id:
            raise NudgeError(f"node {i} has doc id {doc_id!r}: ids must be non-empty strings")
        if not isinstance(text, str):
            raise NudgeError(f"node {doc_id!r} has text of type {type(text).__name__}, not str")
        if doc_id in corpus:
            raise DuplicateIdError(f"doc id {doc_id!r} appears twice: give each node its own id")
        corpus[doc_id] = text
    if not corpus:
        raise NudgeError("no nodes given: pass at least one (doc_id, text) pair")
    return corpus


def _check_options(options: _Settings) -> None:
    if options.num_questions_per_chunk < 1:
        raise NudgeError(
            f"num_questions_per_chunk must be at least 1, got {options.num_questions_per_chunk}"
        )
    if options.max_concurrency < 1:
        raise NudgeError(f"max_concurrency must be at least 1, got {options.max_concurrency}")
    if options.retries < 0:
        raise NudgeError(f"retries must be 0 or more, got {options.retries}")
    if options.save_every < 1:
        raise NudgeError(f"save_every must be at least 1, got {options.save_every}")
    if options.save_interval is not None and not options.save_interval > 0:
        raise NudgeError(
            f"save_interval must be positive seconds (or None), got {options.save_interval}"
        )
    if options.retry_backoff < 0:
        raise NudgeError(f"retry_backoff must be 0 or more seconds, got {options.retry_backoff}")
    if options.timeout is not None and options.timeout <= 0:
        raise NudgeError(f"timeout must be positive (or None), got {options.timeout}")
    template = options.prompt_template
    if isinstance(template, str) and "{context_str}" not in template:
        raise NudgeError("the prompt template has no {context_str} placeholder for the passage")
    if not isinstance(template, str) and not callable(template):
        raise NudgeError(f"prompt_template must be a str or a callable, not {type(template)}")


def _resume(corpus: dict[str, str], save_path: Path | None) -> QAGenerationState:
    """A fresh state over ``corpus``, carrying over what a save file already holds."""
    state = QAGenerationState(corpus=corpus)
    if save_path is None or not save_path.exists():
        return state
    saved = QAGenerationState.load(save_path)
    changed = [d for d in saved.done if d in corpus and saved.corpus.get(d) != corpus[d]]
    dropped = [d for d in saved.corpus if d not in corpus]
    for doc in saved.done:
        if doc in corpus and doc not in changed:
            state.questions[doc] = saved.questions[doc]
    state.failed = {d: e for d, e in saved.failed.items() if d in corpus}
    if changed:
        warnings.warn(
            f"{len(changed)} passage(s) in {save_path} changed text since their questions "
            f"were made (e.g. {changed[0]!r}); asking again for them",
            QAGenerationWarning,
            stacklevel=3,
        )
    if dropped:
        warnings.warn(
            f"{save_path} holds {len(dropped)} passage(s) not among the nodes given "
            f"(e.g. {dropped[0]!r}); they are left out of the dataset and the file",
            QAGenerationWarning,
            stacklevel=3,
        )
    return state


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with the frameworks and [demo]
        return None
    return tqdm(total=total, desc="Generating questions", unit="node")


@dataclass
class _Run:
    """One run's moving parts: the state, batched saves, the progress bar, the model."""

    state: QAGenerationState
    opts: _Settings
    ask: Ask
    path: Path | None
    corpus_json: str | None
    last_save: float
    bar: Any
    unsaved: int = 0

    def save(self) -> None:
        """Write the save file (if any) and restart the batch count and clock."""
        if self.path is not None:
            self.state.save(self.path, corpus_json=self.corpus_json)
        self.unsaved = 0
        self.last_save = time.monotonic()

    def save_due(self) -> bool:
        """Whether ``save_every`` passages or ``save_interval`` seconds have passed."""
        if self.unsaved >= self.opts.save_every:
            return True
        interval = self.opts.save_interval
        return interval is not None and time.monotonic() - self.last_save >= interval

    async def attempt(self, prompt: str) -> list[str]:
        """One model call's questions; raises when it times out or holds none."""
        limit, timeout = self.opts.num_questions_per_chunk, self.opts.timeout
        ask = self.ask
        answer = await (asyncio.wait_for(ask(prompt), timeout) if timeout else ask(prompt))
        if isinstance(answer, str):
            questions = parse_questions(answer, limit)
        elif isinstance(answer, Sequence):
            questions = _clean_items(answer, limit)
        else:
            raise TypeError(f"ask returned {type(answer).__name__}, expected str")
        if not questions:
            shown = answer if isinstance(answer, str) else json.dumps(list(answer))
            raise ValueError(f"the answer held no questions: {shown[:200]!r}")
        return questions

    async def questions_for(self, text: str) -> tuple[list[str] | None, str]:
        """A passage's questions, or ``None`` and the last error once every try failed."""
        error = "the passage is empty"
        if not text.strip():
            return None, error
        opts = self.opts
        prompt = format_qa_prompt(opts.prompt_template, text, opts.num_questions_per_chunk)
        for n in range(opts.retries + 1):
            if n and opts.retry_backoff:
                await asyncio.sleep(opts.retry_backoff * 2 ** (n - 1))
            try:
                return await self.attempt(prompt), error
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None, error

    async def run_one(self, doc_id: str, text: str) -> None:
        """Ask for one passage, record the outcome, tick the bar, save when due."""
        questions, error = await self.questions_for(text)
        if questions is None:
            self.state.record_failed(doc_id, error)
        else:
            self.state.record_done(doc_id, questions)
        self.unsaved += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.path is not None and self.save_due():
            self.save()

    def close(self) -> None:
        """Close the progress bar and write the final save."""
        if self.bar is not None:
            self.bar.close()
        self.save()


def _start_workers(
    pending: Sequence[tuple[str, str]],
    max_concurrency: int,
    run_one: Callable[[str, str], Awaitable[None]],
) -> list[asyncio.Future[None]]:
    """Workers drawing from one iterator: each node is taken once, at most
    ``max_concurrency`` calls in flight."""
    queue = iter(pending)

    async def worker() -> None:
        for doc_id, text in queue:
            await run_one(doc_id, text)

    return [asyncio.ensure_future(worker()) for _ in range(min(max_concurrency, len(pending)))]


async def _cancel_all(workers: Sequence[asyncio.Future[None]]) -> None:
    """Cancel the workers and wait until each has stopped, whatever it raised."""
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


async def agenerate_qa_state(
    nodes: Sequence[tuple[str, str]], ask: Ask, **options: Unpack[GenerationOptions]
) -> QAGenerationState:
    """Like :func:`agenerate_qa_dataset` but returns the :class:`QAGenerationState`
    (questions per done doc, and ``failed``: doc id -> last error). ``options``: see
    :class:`GenerationOptions`."""
    _check_option_names("agenerate_qa_state", options)
    opts = _Settings(**options)
    corpus = _check_nodes(nodes)
    _check_options(opts)
    path = Path(opts.save_path) if opts.save_path is not None else None
    state = _resume(corpus, path)  # called from here: its warnings' stacklevel counts on it
    pending = [(doc, corpus[doc]) for doc in state.pending]
    corpus_json = json.dumps(corpus, ensure_ascii=False) if path is not None else None
    last_save = time.monotonic()
    bar = _progress_bar(len(pending), opts.show_progress)
    run = _Run(state, opts, ask, path, corpus_json, last_save, bar)
    workers = _start_workers(pending, opts.max_concurrency, run.run_one)
    try:
        await asyncio.gather(*workers)
    finally:
        await _cancel_all(workers)
        run.close()
    return state


async def agenerate_qa_dataset(
    nodes: Sequence[tuple[str, str]], ask: Ask, **options: Unpack[GenerationOptions]
) -> QADataset:
    """Ask an LLM for ``num_questions_per_chunk`` questions per ``(doc_id, text)`` node.

    ``ask(prompt)`` is any coroutine function returning the model's text (or a list of
    questions), called ``max_concurrency`` at a time, with ``timeout``, ``retries`` and
    ``retry_backoff`` for calls that fail; ``save_path`` makes the run resumable. Every
    keyword option, its default and what it does: :class:`GenerationOptions`.

    A node whose calls all failed is recorded as failed, reported in a
    :class:`QAGenerationWarning`, and asked again on the next resume. Returns a
    :class:`QADataset` over every node (failed ones too, so ids stay valid for fitting)
    with queries ``"<doc_id>#q<i>"`` for the nodes that got questions.
    """
    _check_option_names("agenerate_qa_dataset", options)
    state = await agenerate_qa_state(nodes, ask, **options)
    _warn_failed(state, options.get("save_path"))
    defaults = _Settings()
    _warn_not_questions(
        state,
        options.get("prompt_template", defaults.prompt_template),
        options.get("num_questions_per_chunk", defaults.num_questions_per_chunk),
        options.get("save_path"),
    )
    return state.to_dataset()


def _warn_failed(state: QAGenerationState, save_path: str | Path | None) -> None:
    if not state.failed:
        return
    first_doc, first_error = next(iter(state.failed.items()))
    where = (
        f"listed under generation.failed in {save_path}; run again with this save_path to "
        "retry only them"
        if save_path is not None
        else "pass save_path to keep progress and retry only them"
    )
    warnings.warn(
        f"{len(state.failed)} of {len(state.corpus)} passages got no questions "
        f"(e.g. {first_doc!r}: {first_error}); they are {where}",
        QAGenerationWarning,
        stacklevel=3,
    )


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _warn_not_questions(
    state: QAGenerationState,
    template: QAPromptTemplate,
    num_questions: int,
    save_path: str | Path | None,
) -> None:
    """Warn when the answers look like no model reading the passages: the prompt echoed
    back (LlamaIndex's ``MockLLM`` returns its input), or one question for many passages."""
    done = state.done
    if not done:
        return
    redo = (
        f"; these passages count as done in {save_path}, so delete it before generating again"
        if save_path is not None
        else ""
    )
    echoed: list[str] = []  # per echoing passage, a line taken from the instructions
    for doc in done:
        prompt = _normal(format_qa_prompt(template, state.corpus[doc], num_questions))
        passage = _normal(state.corpus[doc])
        questions = state.questions[doc]
        # every line comes from the prompt, some from its instructions: an echo, whereas
        # questions quoted from the passage itself (an FAQ) are fine
        if all(_normal(q) in prompt for q in questions):
            echoed.extend([q for q in questions if _normal(q) not in passage][:1])
    if echoed and 2 * len(echoed) >= len(done):
        example = echoed[0]
        warnings.warn(
            f"the model's answers repeat the prompt instead of asking questions "
            f"({len(echoed)} of {len(done)} passages, e.g. {example[:80]!r}): an echo model "
            "such as LlamaIndex's MockLLM returns its input, and these lines are no training "
            f"queries. Use a real LLM{redo}",
            QAGenerationWarning,
            stacklevel=3,
        )
        return
    counts = Counter(key for doc in done for key in {_normal(q) for q in state.questions[doc]})
    key, n = counts.most_common(1)[0]
    if n >= max(_REPEAT_MIN, min(_REPEAT_CAP, math.ceil(_REPEAT_SHARE * len(done)))):
        question = next(q for doc in done for q in state.questions[doc] if _normal(q) == key)
        warnings.warn(
            f"{n} of {len(done)} passages got the same question {question[:80]!r}: the model "
            "is not asking about each passage (a constant or mock LLM, or a prompt that "
            "hides the passage?), and such questions teach NUDGE nothing. Check the model "
            f"and the prompt template{redo}",
            QAGenerationWarning,
            stacklevel=3,
        )


def generate_qa_dataset(
    nodes: Sequence[tuple[str, str]], ask: Ask, **options: Unpack[GenerationOptions]
) -> QADataset:
    """Blocking :func:`agenerate_qa_dataset` (same keyword options:
    :class:`GenerationOptions`).

    Without a running event loop it uses ``asyncio.run``; inside one (Jupyter) it runs
    in a worker thread with its own loop, so ``ask`` must not rely on objects bound to
    the caller's loop there (await :func:`agenerate_qa_dataset` instead).
    """
    _check_option_names("generate_qa_dataset", options)
    return run_sync(agenerate_qa_dataset(nodes, ask, **options))
