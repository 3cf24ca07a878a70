"""Progress bars that appear only on a terminal, and durations for humans.

Everything in desire-bp that can take more than a few seconds shows a :func:`bar` (tqdm) on
stderr; when stderr is not a terminal (a pipe, a log file, a test) the bars are off, so logs hold
only the one-line summaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["bar", "format_duration"]


def bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """A tqdm progress bar over ``iterable`` (or updated by hand with ``total=``), removed when
    it closes; ``disable=None``: shown only when stderr is a terminal.  Keyword arguments go to
    tqdm (``desc``, ``total``, ``unit``, ...)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", None)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kwargs)


def format_duration(seconds: float) -> str:
    """``3725`` -> ``"1h02m"``, ``245`` -> ``"4m05s"``, ``9.4`` -> ``"9s"``."""
    s = max(0, int(round(seconds)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
