"""The local stack's restart policy for function processes (tools/stack_supervisor.py)."""

from __future__ import annotations

import signal

from tools.stack_supervisor import MAX_RESTART_DELAY_SECONDS, describe_exit, restart_delay


def test_the_restart_delay_doubles_with_each_quick_death_and_is_bounded():
    delays = [restart_delay(deaths) for deaths in range(1, 9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert restart_delay(1000) == MAX_RESTART_DELAY_SECONDS


def test_an_exit_is_told_by_its_signal_or_its_code():
    assert describe_exit(-signal.SIGKILL) == {"signal": "SIGKILL"}
    assert describe_exit(-signal.SIGSEGV) == {"signal": "SIGSEGV"}
    assert describe_exit(3) == {"exitCode": 3}
    assert describe_exit(0) == {"exitCode": 0}
