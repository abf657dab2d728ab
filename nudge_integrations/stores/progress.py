"""Feedback on long store work (swap, revert, finish, rollback, status): a tqdm bar when
stderr is a terminal, else an INFO line on the ``nudge_integrations.stores`` logger at
most every :data:`LOG_EVERY` seconds, so a job's log shows a long swap moving.

``show`` is None (auto: a bar on a terminal from :data:`AUTO_MIN` records up, log lines
otherwise, which only appear once the work has run :data:`LOG_EVERY` seconds), True
(a bar on a terminal, else lines whatever the size, and a last one when the work ends) or
False (silent). Lines asked for with True go to the logger when logging would show them
(INFO enabled, a handler set up) and to stderr otherwise, so a job's output shows them
without any logging set up.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Any

from nudge_integrations.core.errors import ArgumentError

#: Records from which ``show=None`` draws a bar on a terminal (a few seconds' work on the
#: slowest stores; smaller jobs finish before a bar would tell anything).
AUTO_MIN = 5000

#: Least seconds between two log lines (and before the first).
LOG_EVERY = 5.0

log = logging.getLogger("nudge_integrations.stores")


def _terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _bar(total: int | None, what: str) -> Any:
    """A tqdm bar on stderr, or None where tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=what, unit="rec", unit_scale=True, leave=False)


class Progress:
    """Counts records done out of ``total`` (None: not known beforehand, as a store read
    page by page) and shows it as ``show`` says (see the module docstring); a context
    manager that closes the bar (or logs the last line)."""

    def __init__(self, total: int | None, what: str, show: bool | None = None) -> None:
        if show is not None and not isinstance(show, bool):
            raise ArgumentError(
                f"show_progress must be True, False or None (a bar or log lines as the "
                f"output allows), got {show!r}"
            )
        self.total, self.what, self.done = total, what, 0
        self.reported = -1
        self.start = self.last = time.monotonic()
        self.logged = False
        self.asked = show is True
        self.bar: Any = None
        self.log = show is not False and (total is None or total > 0)
        if self.log and _terminal() and (show or (total or 0) >= AUTO_MIN):
            self.bar = _bar(total, what)
            self.log = self.bar is None

    def update(self, n: int) -> None:
        """``n`` more records done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.log and time.monotonic() - self.last >= LOG_EVERY:
            self._line()

    def _line(self) -> None:
        self.last = time.monotonic()
        rate = self.done / max(self.last - self.start, 1e-9)
        of = "" if self.total is None else f" / {self.total}"
        line = f"{self.what}: {self.done}{of} records ({rate:.0f}/s)"
        self.reported = self.done
        if self.asked and not (log.isEnabledFor(logging.INFO) and log.hasHandlers()):
            print(line, file=sys.stderr, flush=True)  # nobody would see the log line
        else:
            log.info("%s", line)
        self.logged = True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif (self.logged or self.asked) and self.done and self.reported != self.done:
            self._line()  # logged before, or asked: say it ended (unless the last line did)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
