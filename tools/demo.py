"""``make demo``: start the local stack, run each concept's demo section, stop everything.

Each section is a ``run(info, show)`` function in ``tools/demos/<concept>.py`` listed in
DEMO_SECTIONS; ``info`` is the content of stack.json, ``show`` prints one line.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from tools.stack import DEFAULT_STATE_DIR, LocalStack, StackError

DEMO_SECTIONS = ["tools.demos.ingest:run", "tools.demos.forwarding:run", "tools.demos.monitor:run",
                 "tools.demos.beacon:run"]


def show(line: str = "") -> None:
    print(line, flush=True)


def main() -> int:
    stack = LocalStack(state_dir=Path(DEFAULT_STATE_DIR) / "demo")
    try:
        info = stack.start()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        for section in DEMO_SECTIONS:
            module_name, _, function_name = section.partition(":")
            show()
            getattr(importlib.import_module(module_name), function_name)(info, show)
        show()
        show("demo finished; stopping the local stack")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
