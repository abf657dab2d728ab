"""Generated blocks inside hand-written pages: the text between
``<!-- generated: benchmarks.report NAME -->`` and ``<!-- end generated -->`` belongs to
``python -m benchmarks.report``; everything outside the markers is the page's own prose."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

START = "<!-- generated: benchmarks.report {name} -->"
END = "<!-- end generated -->"
_BLOCK = re.compile(
    r"(?P<start><!-- generated: benchmarks\.report (?P<name>[\w.-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<end>" + re.escape(END) + r")",
    re.DOTALL,
)


class PageError(ValueError):
    """A page's markers do not match what the report expects."""


def names(text: str) -> list[str]:
    """The generated blocks of a page, in order."""
    return [m.group("name") for m in _BLOCK.finditer(text)]


def fill(text: str, blocks: Mapping[str, Callable[[], str]], page: str) -> str:
    """``text`` with every block's body replaced by its renderer's output.

    Every block the page holds must have a renderer and every renderer a block: a
    missing or unknown marker is an error naming it, never a page left half-generated.
    """
    found = names(text)
    missing = [n for n in blocks if n not in found]
    unknown = [n for n in found if n not in blocks]
    twice = sorted({n for n in found if found.count(n) > 1})
    if missing or unknown or twice:
        raise PageError(
            f"{page}: generated blocks do not match the report: missing markers "
            f"{missing or 'none'}, unknown {unknown or 'none'}, repeated {twice or 'none'} "
            f"(a block is '{START.format(name='NAME')}' ... '{END}')"
        )

    def body(m: re.Match[str]) -> str:
        rendered = blocks[m.group("name")]().rstrip("\n")
        return f"{m.group('start')}{rendered}\n{m.group('end')}"

    return _BLOCK.sub(body, text)
