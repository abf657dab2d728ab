"""Progress on stderr when it is not a terminal (output captured, a job's log): the
package's progress log records (embedding a corpus, swaps) printed as ``nudge: ...``
lines, one every few seconds with the count, the total and the rate, instead of bars."""

from __future__ import annotations

import logging
import sys

#: The logger the package's progress lines go to (``.embedding``, ``.stores``).
LOGGER = "nudge_integrations"


class _ToStderr(logging.Handler):
    """Log records as ``<prog>: message`` lines on whatever ``sys.stderr`` is then."""

    def __init__(self, prog: str) -> None:
        super().__init__(logging.INFO)
        self.prog = prog

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{self.prog}: {record.getMessage()}", file=sys.stderr, flush=True)


class ProgressLines:
    """While a command runs, print the package's progress lines on stderr when
    ``wanted`` (no ``--quiet``) and stderr is not a terminal (where bars are drawn);
    :meth:`close` takes the handler off again."""

    def __init__(self, prog: str, wanted: bool) -> None:
        self.logger = logging.getLogger(LOGGER)
        self.level = self.logger.level
        self.handler: _ToStderr | None = None
        isatty = getattr(sys.stderr, "isatty", None)
        if wanted and not (isatty and isatty()):
            self.handler = _ToStderr(prog)
            self.logger.addHandler(self.handler)
            if self.level == logging.NOTSET or self.level > logging.INFO:
                self.logger.setLevel(logging.INFO)

    def close(self) -> None:
        if self.handler is not None:
            self.logger.removeHandler(self.handler)
            self.logger.setLevel(self.level)
            self.handler = None
