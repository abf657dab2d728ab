"""Arguments checked where users pass them, so a mistake fails at once in their words.

A keyword the function does not take names the function the user called (an alias by
its own name, a method with its class) and the nearest keyword it does take
(``difflib``); a count must be a whole positive number; a list of ids must not be a bare
string (which would be read as one id per character).
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import inspect
import numbers
from collections.abc import Callable, Collection, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar, cast

from nudge_integrations.core.errors import ArgumentError, NudgeError, UnknownKeywordError

P = ParamSpec("P")
R = TypeVar("R")

_ORIGINAL = "__nudge_checked__"


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (a likely typo's target), or None."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return close[0] if close else None


def unknown_keyword(name: str, where: str, known: Iterable[str]) -> UnknownKeywordError:
    """The error for keyword ``name`` passed to ``where``, suggesting the nearest of
    ``known`` (names starting with ``_`` are never suggested)."""
    public = sorted(k for k in known if not k.startswith("_"))
    close = nearest(name, public)
    if close is not None:
        hint = f"; did you mean {close!r}?"
    elif public:
        hint = f"; it takes {', '.join(public)}"
    else:
        hint = "; it takes no keyword arguments"
    return UnknownKeywordError(f"{where}() got an unexpected keyword {name!r}{hint}")


def check_keywords(given: Iterable[str], known: Collection[str], where: str) -> None:
    """Refuse the first of ``given`` not among ``known``, naming ``where``."""
    for key in given:
        if key not in known:
            raise unknown_keyword(key, where, known)


def checked(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` with its arguments checked on every call: an unknown keyword, or a missing
    or extra argument, is an error naming the function as the user called it."""
    return _wrap(func, func.__name__)


def alias(func: Callable[P, R], name: str) -> Callable[P, R]:
    """``func`` under another public name (``apply_to_index = alias(swap_in, ...)``), its
    errors naming that name."""
    return _wrap(getattr(func, _ORIGINAL, func), name)


def in_thread(method: Callable[P, R], name: str) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async form of ``method`` (``aswap_in = in_thread(swap_in, "aswap_in")``): the
    same signature, checked under ``name``, run in a worker thread so it does not block
    the event loop."""
    func = cast(Callable[..., R], getattr(method, _ORIGINAL, method))

    async def run(*args: Any, **kwargs: Any) -> R:
        return await asyncio.to_thread(func, *args, **kwargs)

    functools.update_wrapper(run, func)
    run.__doc__ = f":meth:`{func.__name__}` in a worker thread, not blocking the event loop."
    return cast(Callable[P, Coroutine[Any, Any, R]], _wrap(run, name))


def _is_method(func: Callable[..., Any]) -> bool:
    """Defined in a class body (its qualified name has a class before its own name)."""
    parts = func.__qualname__.split(".")
    return len(parts) >= 2 and parts[-2] != "<locals>"


def _wrap(func: Callable[P, R], name: str) -> Callable[P, R]:
    sig = inspect.signature(func)
    open_ended = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    known = {
        n
        for n, p in sig.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in ("self", "cls")
    }
    method = _is_method(func)

    def where(args: tuple[Any, ...]) -> str:
        if not (method and args):
            return name
        owner = args[0] if isinstance(args[0], type) else type(args[0])
        return owner.__name__ if name == "__init__" else f"{owner.__name__}.{name}"

    def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            sig.bind(*args, **kwargs)
        except TypeError as exc:
            if not open_ended:
                check_keywords(kwargs, known, where(args))
            raise ArgumentError(f"{where(args)}(): {exc}") from None

    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(func):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(args, kwargs)
            return await cast(Any, func)(*args, **kwargs)
    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(args, kwargs)
            return func(*args, **kwargs)

    functools.update_wrapper(wrapper, func)
    if name != func.__name__:
        wrapper.__name__ = name
        wrapper.__qualname__ = func.__qualname__.rsplit(".", 1)[0] + "." + name
    setattr(wrapper, _ORIGINAL, func)
    return cast(Callable[P, R], wrapper)


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int when it is a whole number >= 1; else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        example = ""
        if isinstance(value, str) and value.strip().isdigit():
            example = f": pass the number, {name}={int(value)}"
        elif isinstance(value, float) and value.is_integer() and value >= 1:
            example = f": pass {name}={int(value)}"
        raise ArgumentError(
            f"{name} must be a whole number >= 1, got {value!r} ({type(value).__name__}){example}"
        )
    if value < 1:
        raise NudgeError(f"{name} must be a whole number >= 1, got {value}")
    return int(value)


def optional_positive_int(value: Any, name: str) -> int | None:
    """:func:`positive_int`, with None passed through (the default: no cap)."""
    return None if value is None else positive_int(value, name)


def id_list(ids: Any, name: str, *, verb: str) -> list[Any] | None:
    """``ids`` as a list (None passed through); a bare string or a non-iterable is refused,
    saying to wrap one id in a list (``verb``: what the call does to those records)."""
    if ids is None:
        return None
    if isinstance(ids, str | bytes):
        raise ArgumentError(
            f"{name} must be a list of ids, not the string {ids!r} (it would be read one "
            f"character at a time): pass [{ids!r}] to {verb} that one record"
        )
    if not isinstance(ids, Iterable):
        raise ArgumentError(
            f"{name} must be a list of ids, not {type(ids).__name__}: pass [{ids!r}] to "
            f"{verb} that one record"
        )
    return list(ids)
