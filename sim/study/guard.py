"""Refuse to start worker processes from a script's unguarded top-level code.

Python's multiprocessing starts each worker by importing the main script again. A script that
runs a study at its top level, outside ``if __name__ == "__main__":``, would run it again in
every worker and print a long traceback, leaving half-made folders. Every entry that may start
workers (``sim.run``, ``compare``, ``sweep``, ``sobol``, ``explore``) asks here first.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType


class MissingMainGuard(SystemExit):
    """Worker processes would be started by a script's top-level code.

    Each worker imports the script that started it and would run that code again, and start
    workers of its own. A ``SystemExit`` so that Python prints this one line, no traceback.
    """


def refuse_unguarded_main(kind: str, workers: int, scheduler: str | None = None) -> None:
    """Raise ``MissingMainGuard`` if worker processes would start from a script's top-level code
    outside ``if __name__ == "__main__":``.

    Each worker process imports the main script again, as multiprocessing does: by path, or by
    module name unless it is a package's ``__main__``. A notebook, ``python -c`` or a REPL has
    no script to import, and a study in this process starts no workers.
    """
    starts_processes = (kind == "process" and workers > 1) or (kind == "dask" and not scheduler)
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if not starts_processes or path is None or name.rpartition(".")[2] == "__main__":
        return
    line = _main_script_line()
    if line is None or _guarded(Path(path), line):
        return
    raise MissingMainGuard(
        f"error: {path}:{line}: worker processes import this script and would run this line "
        f'again; put the code that runs studies under `if __name__ == "__main__":`'
    )


def _main_script_line() -> int | None:
    """The line of the main script's top-level code that is running now."""
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            return frame.f_lineno
        frame = frame.f_back
    return None


def _guarded(path: Path, line: int) -> bool:
    """Whether ``line`` of ``path`` is inside an ``if __name__ == "__main__":`` block (or the
    source cannot be read: then nothing is refused)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    tests = {'__name__ == "__main__"', '"__main__" == __name__'}
    return any(
        isinstance(node, ast.If)
        and ast.unparse(node.test).replace("'", '"') in tests
        and node.body[0].lineno <= line <= (node.body[-1].end_lineno or line)
        for node in ast.walk(tree)
    )
