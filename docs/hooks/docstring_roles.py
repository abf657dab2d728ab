"""MkDocs hook: tidy reST leftovers in rendered docstrings.

The package's docstrings use Sphinx roles (``:meth:`fit```) and, in the LangChain
retriever, LangChain's ``.. code-block:: python`` convention. Rendered as Markdown by
mkdocstrings they show as ``:meth:fit`` and a stray ``.. code-block::`` line. This hook
drops the role prefix (keeping the code span, shortened after a ``~`` as Sphinx does) and
the stray directive line. It changes HTML only; the docstrings stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|data|exc|obj):<code>(~?)([^<]*)</code>")
DIRECTIVE = re.compile(r"<p>\.\. code-block::\s*\w*</p>\s*")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return DIRECTIVE.sub("", ROLE.sub(_role, html))
