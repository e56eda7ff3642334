"""The local stack's restart policy for function processes, and how a function is handed its
port (tools/stack_supervisor.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from tools.stack_supervisor import MAX_RESTART_DELAY_SECONDS, describe_exit, hold_port, restart_delay, serving


def test_the_restart_delay_doubles_with_each_quick_death_and_is_bounded():
    delays = [restart_delay(deaths) for deaths in range(1, 9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert restart_delay(1000) == MAX_RESTART_DELAY_SECONDS


def test_an_exit_is_told_by_its_signal_or_its_code():
    assert describe_exit(-signal.SIGKILL) == {"signal": "SIGKILL"}
    assert describe_exit(-signal.SIGSEGV) == {"signal": "SIGSEGV"}
    assert describe_exit(3) == {"exitCode": 3}
    assert describe_exit(0) == {"exitCode": 0}


def test_a_command_run_by_serving_gets_the_stacks_socket_as_systemd_would_pass_it(tmp_path):
    """What gunicorn checks before taking a passed socket (gunicorn.systemd.listen_fds): fd 3,
    LISTEN_FDS=1, LISTEN_PID its own pid."""
    listener = hold_port()
    report = tmp_path / "seen.json"
    probe = ("import json, os, socket, sys; sock = socket.socket(fileno=3); "
             "json.dump({'fds': os.environ['LISTEN_FDS'], 'pid_matches': os.environ['LISTEN_PID'] == str(os.getpid()), "
             "'port': sock.getsockname()[1], 'listening': sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)}, "
             "open(sys.argv[1], 'w')); sock.detach()")
    try:
        subprocess.run(serving(listener, [sys.executable, "-c", probe, str(report)]), pass_fds=(listener.fileno(),),
                       check=True, timeout=30)
        assert json.loads(report.read_text()) == {"fds": "1", "pid_matches": True,
                                                  "port": listener.getsockname()[1], "listening": 1}
    finally:
        listener.close()
