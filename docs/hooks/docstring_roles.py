"""MkDocs hook: tidy reST leftovers in rendered docstrings.

The package's docstrings use Sphinx roles (``:meth:`fit```) and, in the LangChain
retriever, LangChain's ``.. code-block:: python`` convention. Rendered as Markdown by
mkdocstrings they show as ``:meth:fit`` and a stray ``.. code-block::`` line. This hook
drops the role prefix (keeping the code span, shortened after a ``~`` as Sphinx does) and
the stray directive line. Docstrings and error messages name documentation pages as
``docs/<page>.md`` (the path in a checkout); on the API pages such a mention becomes a
link to that page of the site. It changes HTML only; the docstrings stay as they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROLE = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|data|exc|obj):<code>(~?)([^<]*)</code>")
DIRECTIVE = re.compile(r"<p>\.\. code-block::\s*\w*</p>\s*")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


#: ``docs/<page>.md`` in rendered text, bare or as a code span, not already inside a link.
PAGE = re.compile(r"(?<![\w/\"'>])(<code>)?docs/([\w-]+)\.md(</code>)?(?!</a>)")


def _page_links(html: str, page: Any, config: Any) -> str:
    """Link each ``docs/<page>.md`` mention of an API page to that page of the site."""
    if not page.file.src_uri.startswith("api/"):
        return html
    docs = Path(config["docs_dir"])
    up = "../" * page.url.count("/")  # from the page's folder back to the site root

    def link(match: re.Match[str]) -> str:
        name = match.group(2)
        if not (docs / f"{name}.md").is_file():
            return match.group(0)
        return f'<a href="{up}{name}/">{match.group(0)}</a>'

    return PAGE.sub(link, html)


def on_page_content(html: str, page: Any, config: Any, **kwargs: Any) -> str:
    return _page_links(DIRECTIVE.sub("", ROLE.sub(_role, html)), page, config)
