"""The local stack's supervisor: a function process that dies is started again, as the platform
starts a new instance of a function whose instance crashed.

A background thread of the stack looks at every function process (``Child.restartable``) five
times a second. When one has exited, it kills what is left of its process group, waits a backoff,
then starts the same command again: same port, so push subscriptions and stack.json still point at
it, same environment, same log file (appended). The backoff doubles with each death that follows
a restart within ``STABLE_AFTER_SECONDS``, from ``FIRST_RESTART_DELAY_SECONDS`` up to
``MAX_RESTART_DELAY_SECONDS``, so a function that cannot start is retried every 10 s, not in a
tight loop. Each death is told twice: a line in the stack's own output, and a JSON line in Cloud
Logging's shape, severity WARNING, in ``<state dir>/logs/stack.log``, with the function, the
instance (the stack's name for the process), its exit code or signal and the restart count.

The port is the stack's own (``hold_port``): the stack opens each function's listening socket and
hands it to functions-framework's gunicorn, which takes a socket passed this way (systemd's socket
activation: ``LISTEN_FDS``, ``LISTEN_PID``, the socket as descriptor 3). While a function is down
its socket stays open, so a request waits in the kernel's queue until the new process takes it, as
the platform's front end holds a request until a new instance is up, instead of being refused.
That matters to Pub/Sub's emulator: a refused push is retried at once, and after a few such
failures in a second it stops pushing the message (../shared/guide/local-toolchain.md). A request
the dead process had already taken fails with it, as on the platform.

The emulators and servers are not restarted: their state is in memory only, and a new one would
start empty (no topics, keys, partners), which no outage of the real services does. ``make up``
stops the stack when one dies, as before.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.platform.logs import CloudLoggingFormatter

if TYPE_CHECKING:
    from tools.stack import Child, LocalStack

POLL_SECONDS = 0.2
# Connections a function's socket queues while no process takes them (the kernel caps it at
# net.core.somaxconn).
LISTEN_BACKLOG = 1024
_SYSTEMD_FIRST_FD = 3
FIRST_RESTART_DELAY_SECONDS = 0.5
MAX_RESTART_DELAY_SECONDS = 10.0
# A process that ran this long before dying was healthy: its restart starts the backoff over.
STABLE_AFTER_SECONDS = 30.0

# stack.log is this logger's only destination; its lines stay out of the caller's own logging.
logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)
logger.propagate = False

DIED_MESSAGE = "function process died: restarting it"
RESTARTED_MESSAGE = "function process restarted"


def hold_port() -> socket.socket:
    """A listening socket on a free loopback port, for a function to serve for the stack's life."""
    return socket.create_server(("127.0.0.1", 0), backlog=LISTEN_BACKLOG)


def serving(listener: socket.socket, command: list[str]) -> list[str]:
    """``command`` (functions-framework) run so that its gunicorn serves ``listener``: the socket
    moved to descriptor 3, ``LISTEN_FDS=1`` and ``LISTEN_PID`` its own pid (a shell that execs the
    command keeps its pid). bash, as dash cannot name a descriptor above 9."""
    fd = listener.fileno()
    move = "" if fd == _SYSTEMD_FIRST_FD else f"exec {_SYSTEMD_FIRST_FD}<&{fd} {fd}<&-; "
    return ["bash", "-c", f'{move}export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" "$@"', *command]


def restart_delay(consecutive_deaths: int) -> float:
    """Seconds to wait before the restart that follows ``consecutive_deaths`` quick deaths (1: the
    first death after a healthy run)."""
    return min(FIRST_RESTART_DELAY_SECONDS * 2 ** (consecutive_deaths - 1), MAX_RESTART_DELAY_SECONDS)


def describe_exit(returncode: int) -> dict[str, int | str]:
    """``{"signal": "SIGKILL"}`` for a process ended by a signal (Popen's negative code), else
    ``{"exitCode": N}``."""
    if returncode < 0:
        try:
            return {"signal": signal.Signals(-returncode).name}
        except ValueError:
            return {"signal": str(-returncode)}
    return {"exitCode": returncode}


def function_target(child: Child) -> str:
    """The function a process serves: functions-framework's ``--target``."""
    command = child.command
    return command[command.index("--target") + 1] if "--target" in command else child.name


@dataclass
class _Watch:
    started_at: float
    restarts: int = 0
    consecutive_deaths: int = 0
    restart_due_at: float | None = None


class FunctionSupervisor:
    def __init__(self, stack: LocalStack):
        self._stack = stack
        self._watches: dict[str, _Watch] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._handler: logging.Handler | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="stack-supervisor", daemon=True)
        self._handler = logging.FileHandler(self._stack.state_dir / "logs" / "stack.log", mode="w",
                                            encoding="utf-8")
        self._handler.setFormatter(CloudLoggingFormatter(self._stack.project_id))
        # A test session may run several stacks: each stack.log gets the lines of its own supervisor.
        thread = self._thread
        self._handler.addFilter(lambda record: record.thread == thread.ident)
        logger.addHandler(self._handler)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the stack stops its children, so none is started again)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._handler is not None:
            logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def restarts(self, child_name: str) -> int:
        watch = self._watches.get(child_name)
        return watch.restarts if watch else 0

    def _run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            now = time.monotonic()
            for child in [c for c in self._stack.children if c.restartable and not c.stopped]:
                watch = self._watches.setdefault(child.name, _Watch(started_at=now))
                if watch.restart_due_at is None:
                    returncode = child.process.poll()
                    if returncode is not None:
                        self._died(child, watch, returncode, now)
                elif now >= watch.restart_due_at:
                    self._restart(child, watch, now)

    def _died(self, child: Child, watch: _Watch, returncode: int, now: float) -> None:
        try:
            os.killpg(child.process.pid, signal.SIGKILL)  # what is left of the instance
        except (ProcessLookupError, PermissionError):
            pass
        quick = now - watch.started_at < STABLE_AFTER_SECONDS
        watch.consecutive_deaths = watch.consecutive_deaths + 1 if quick else 1
        watch.restarts += 1
        delay = restart_delay(watch.consecutive_deaths)
        watch.restart_due_at = now + delay
        how = describe_exit(returncode)
        self._stack.log(f"{child.name} (pid {child.process.pid}) died ({next(iter(how.values()))}): "
                        f"restart {watch.restarts} in {delay:g} s")
        logger.warning(DIED_MESSAGE, extra={
            "function": function_target(child), "instance": child.name, "pid": child.process.pid, **how,
            "restarts": watch.restarts, "restartInSeconds": delay})

    def _restart(self, child: Child, watch: _Watch, now: float) -> None:
        watch.restart_due_at = None
        watch.started_at = now
        # The kernel's parent-death signal of a restarted process follows this thread, which lives
        # until the stack stops: the process still dies with the stack.
        if not child.respawn():
            return
        logger.info(RESTARTED_MESSAGE, extra={
            "function": function_target(child), "instance": child.name, "pid": child.process.pid,
            "restarts": watch.restarts})
        processes = self._stack.info.get("processes", {})
        if child.name in processes:
            processes[child.name] = child.process.pid
            self._stack._write_info()
