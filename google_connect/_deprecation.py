"""Old import paths that keep working for a release, with a warning naming the new one."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved_module(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old`` that serves ``new``'s names.

    Each name is looked up on first use, so importing the old module costs
    nothing and warns only when a name is actually taken from it.
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(importlib.import_module(new), name)
        warnings.warn(
            f"{old}.{name} has moved to {new}.{name}; import it from there. "
            f"The old path will be removed in a future release.",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    return __getattr__
