"""Plots and rich displays for the notebooks. Depends on nothing else of ours."""
from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Callable, Iterable

__all__ = [
    "show_source",
    "changed_box",
    "Verdict",
    "verdict",
    "widgets_available",
]


def show_source(*objects: Callable[..., Any] | type) -> Any:
    """Display the source of helpers as highlighted code, so prose and code never drift apart.

    Falls back to plain text where IPython is absent (a script, a test).
    """
    source = "\n\n".join(inspect.getsource(obj) for obj in objects)
    try:
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - notebooks always have IPython
        print(source)
        return source
    display(Markdown(f"```python\n{source}\n```"))
    return None


def changed_box(items: Iterable[str], title: str = "What changed from the course's code, and why") -> Any:
    """A highlighted box listing the fixes this notebook applies to the course's code."""
    bullets = "\n".join(f"- {item}" for item in items)
    text = f"**{title}**\n\n{bullets}"
    try:
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover
        print(text)
        return text
    display(Markdown(f"> " + text.replace("\n", "\n> ")))
    return None


class Verdict:
    """What an exercise's ``check_...`` returns: true when the answer is right.

    The check has already printed its verdict line, so as the last value of a cell it shows
    nothing (a bare ``False`` under "❌ ..." would only repeat it). ``if check(...)``, ``bool(...)``
    and ``== True`` work as with a plain bool.
    """

    __slots__ = ("ok",)

    def __init__(self, ok: bool) -> None:
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: object) -> bool:
        return self.ok == bool(other) if isinstance(other, (bool, Verdict)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        """IPython's hook for the cell's last value: draw nothing."""


def verdict(ok: bool, good: str, bad: str) -> Verdict:
    """Print an exercise's verdict (✅ `good` or ❌ `bad`) and return it as a :class:`Verdict`."""
    print(("✅ " + good) if ok else ("❌ " + bad))
    return Verdict(ok)


def widgets_available() -> bool:
    """True only where someone can move a widget: a live Jupyter/Colab kernel with ipywidgets.

    Batch runs have a kernel but nobody to click, so they get the printed fallback: papermill
    (detected by its module), ``course_utils.run`` (it sets ``COURSE_METRICS_FILE``) and the quiet
    ci profile (``COURSE_QUIET``). ``COURSE_WIDGETS=1`` shows the widgets in a live kernel even
    with the ci profile (the browser tests open ci-sized notebooks in JupyterLab and click them);
    ``COURSE_WIDGETS=0`` always prints.
    """
    switch = os.environ.get("COURSE_WIDGETS", "")
    if switch not in ("", "0", "1"):
        raise ValueError(f"COURSE_WIDGETS must be 0 or 1, got {switch!r}")
    if switch == "0":
        return False
    if os.environ.get("COURSE_METRICS_FILE") or "papermill" in sys.modules:
        return False
    if os.environ.get("COURSE_QUIET") == "1" and switch != "1":
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
