"""Ctrl-C in the middle of a study, for resume tests: a function of the study is made to raise
``KeyboardInterrupt`` once it has returned a given number of times."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


def interrupted_after(module: ModuleType, name: str, calls: int, run: Callable[[], Any]) -> None:
    """Call ``run()`` with ``module.name`` raising ``KeyboardInterrupt``, as Ctrl-C would, once
    it has returned ``calls`` times (a chunk or task finished each time); the interrupt must
    reach the caller."""
    real, done = getattr(module, name), [0]

    def stops(*args: Any, **kwargs: Any) -> Any:
        if done[0] == calls:
            raise KeyboardInterrupt
        done[0] += 1
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, name, stops)
        with pytest.raises(KeyboardInterrupt):
            run()
