"""The local stack itself: stack.json, start-up failures, restarted functions, and no orphans left
behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import poll
from tools import topology
from tools.stack import REPO_ROOT, LocalStack, StackError, _http_answers
from tools.stack_supervisor import DIED_MESSAGE, RESTARTED_MESSAGE


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def supervisor_lines(state_dir: Path, instance: str) -> list[dict]:
    """The stack's own JSON lines (stack.log) about one function instance."""
    path = state_dir / "logs" / "stack.log"
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in lines if line.get("instance") == instance]


def child_named(stack: LocalStack, name: str):
    return next(c for c in stack.children if c.name == name)


def test_stack_json_describes_the_running_stack(stack):
    spec = topology.load()
    assert set(stack["functions"]) == {f.name for f in spec.functions}
    assert set(stack["topics"]) == set(spec.topics) | set(spec.dead_letter_topics)
    assert set(stack["emulators"]) == {"pubsub", "firestore", "storage", "mongodb"}
    assert stack["emulators"]["storage"].startswith("http://127.0.0.1:")
    assert stack["emulators"]["mongodb"].startswith("mongodb://127.0.0.1:")
    assert stack["dev_api_key"].startswith("fpk_")
    assert requests.get(f"http://{stack['emulators']['firestore']}/", timeout=5).text.strip() == "Ok"
    for url in stack["functions"].values():
        assert url.startswith("http://127.0.0.1:")


def test_a_missing_emulator_stops_start_up_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDSDK_ROOT", str(tmp_path))
    with pytest.raises(StackError) as failure:
        LocalStack(state_dir=tmp_path / "state", log=lambda _: None).start()
    message = str(failure.value)
    assert "Pub/Sub emulator not found" in message
    assert "Firestore emulator not found" in message
    assert "gcloud components install pubsub-emulator cloud-firestore-emulator" in message


def test_a_child_failing_to_start_stops_everything_already_started(tmp_path):
    environ_before = dict(os.environ)
    # Functions that cannot import `shared` exit at once, after the emulators are up.
    broken = LocalStack(state_dir=tmp_path, function_env={"PYTHONPATH": str(tmp_path / "nothing")},
                        log=lambda _: None)
    started: list[int] = []
    original_spawn = broken._spawn

    def recording_spawn(*args, **kwargs):
        child = original_spawn(*args, **kwargs)
        started.append(child.process.pid)
        return child

    broken._spawn = recording_spawn  # type: ignore[method-assign]
    with pytest.raises(StackError, match="exited with code"):
        broken.start()
    assert len(started) >= 5  # four servers and at least one function
    for pid in started:
        assert not alive(pid)
        # A killed group member (the Firestore emulator's java) may take a moment to be reaped.
        poll(lambda pid=pid: group_members(pid) == [], timeout=10, what=f"process group {pid} to be empty")
    assert broken.children == []
    assert not (tmp_path / "stack.json").exists()
    assert dict(os.environ) == environ_before  # the session's clients still reach its own stack


def test_make_up_restarts_a_killed_function_and_stops_every_child_on_sigterm(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "tools.stack", "up", "--state-dir", str(tmp_path)],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        info_file = tmp_path / "stack.json"
        poll(info_file.exists, timeout=120, what="stack.json")
        pids = json.loads(info_file.read_text())["processes"]
        assert set(pids) >= {"pubsub-emulator", "firestore-emulator", "fake-gcs-server", "secantusdb",
                             "function-ingest"}
        assert all(alive(pid) for pid in pids.values())

        killed = pids["function-ingest"]
        os.killpg(killed, signal.SIGKILL)
        restarted = poll(lambda: (pid := json.loads(info_file.read_text())["processes"]["function-ingest"]) != killed
                         and pid, timeout=30, what="stack.json to name the restarted ingest")
        ingest_url = json.loads(info_file.read_text())["functions"]["ingest"]
        poll(lambda: _http_answers(ingest_url), timeout=30, what="the restarted ingest to answer")
        assert process.poll() is None, "the stack stopped when a function died"
        pids["function-ingest"] = restarted

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "stopped" in output
    assert f"function-ingest (pid {killed}) died (SIGKILL): restart 1 in 0.5 s" in output
    assert group_members(killed) == []
    for name, pid in pids.items():
        assert not alive(pid), f"{name} (pid {pid}) outlived the stack"
        assert group_members(pid) == [], f"{name}'s process group outlived the stack"
    assert not info_file.exists()


def test_the_running_stack_has_exactly_terraforms_topics_and_push_subscriptions(stack):
    from google.cloud import pubsub_v1

    from tools import infra_checks

    tf_topics, tf_subscriptions = infra_checks.terraform_pubsub_names(REPO_ROOT)
    publisher = pubsub_v1.PublisherClient()
    in_emulator = {t.name.rsplit("/", 1)[1] for t in publisher.list_topics(project=f"projects/{stack['project_id']}")}
    assert set(stack["topics"]) == tf_topics
    assert tf_topics <= in_emulator
    subscriber = pubsub_v1.SubscriberClient()
    pushed = {s.name.rsplit("/", 1)[1]
              for s in subscriber.list_subscriptions(project=f"projects/{stack['project_id']}")
              if s.push_config.push_endpoint}
    assert pushed == tf_subscriptions == set(stack["subscriptions"])
    tf_holds = infra_checks.terraform_hold_subscription_names(REPO_ROOT)
    held = {s.name.rsplit("/", 1)[1] for s in subscriber.list_subscriptions(project=f"projects/{stack['project_id']}")
            if s.topic.endswith("-dead-letter")}
    assert held == tf_holds == set(stack["dead_letter_subscriptions"])


def test_children_die_with_a_killed_stack(tmp_path):
    """SIGKILL leaves the stack no chance to clean up: the kernel's parent-death signal must."""
    process = subprocess.Popen([sys.executable, "-m", "tools.stack", "up", "--state-dir", str(tmp_path)],
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        info_file = tmp_path / "stack.json"
        poll(info_file.exists, timeout=120, what="stack.json")
        pids = json.loads(info_file.read_text())["processes"]
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    poll(lambda: not any(alive(pid) or group_members(pid) for pid in pids.values()), timeout=30,
         what="every child and its process group to die with the stack")


def test_a_killed_function_is_restarted_on_its_port_and_the_restart_is_logged(local_stack, stack):
    """As the platform replaces a crashed instance: a request sent at once waits for the new
    process on the same port (push subscriptions and stack.json still point at it), and stack.log
    says which function died, how, and how often."""
    child = child_named(local_stack, "function-reports")
    killed_pid = child.process.pid
    deaths_before = len([line for line in supervisor_lines(local_stack.state_dir, child.name)
                         if line["message"] == DIED_MESSAGE])
    report_url = f"{stack['functions']['reports']}/v1/reports/campaigns/{stack['demo_campaigns'][0]['id']}"
    headers = {"Authorization": f"Bearer {stack['dev_api_key']}"}
    assert requests.get(report_url, headers=headers, timeout=10).status_code == 200

    killed_at = time.monotonic()
    os.killpg(killed_pid, signal.SIGKILL)
    # Sent while no process serves the port: it waits for the new process, never refused.
    assert requests.get(report_url, headers=headers, timeout=30).status_code == 200
    assert time.monotonic() - killed_at < 30
    assert child.process.pid != killed_pid and alive(child.process.pid)
    assert group_members(killed_pid) == []  # nothing of the killed instance is left
    died = [line for line in supervisor_lines(local_stack.state_dir, child.name) if line["message"] == DIED_MESSAGE]
    assert len(died) == deaths_before + 1
    assert {k: died[-1][k] for k in ("severity", "function", "pid", "signal", "restarts")} == {
        "severity": "WARNING", "function": "reports", "pid": killed_pid, "signal": "SIGKILL",
        "restarts": deaths_before + 1}
    restarted = poll(lambda: [line for line in supervisor_lines(local_stack.state_dir, child.name)
                              if line["message"] == RESTARTED_MESSAGE and line["pid"] == child.process.pid],
                     timeout=5, what="the restart line")
    assert restarted[-1]["severity"] == "INFO"
    info = json.loads((local_stack.state_dir / "stack.json").read_text())
    assert info["processes"]["function-reports"] == child.process.pid
    assert info["functions"]["reports"] == stack["functions"]["reports"]


def test_a_function_that_keeps_dying_is_restarted_with_a_growing_bounded_delay(local_stack):
    """An instance that cannot start (it cannot import its code) is retried, ever more slowly,
    while the rest of the stack keeps running."""
    instance = f"-crashing-{uuid.uuid4().hex[:6]}"
    name = f"function-ingest{instance}"
    child, _ = local_stack._spawn_function("ingest", {"PYTHONPATH": str(REPO_ROOT / "nothing-here")}, instance)
    try:
        died = poll(lambda: (lines := [line for line in supervisor_lines(local_stack.state_dir, name)
                                       if line["message"] == DIED_MESSAGE]) and len(lines) >= 3 and lines,
                    timeout=30, what="three restarts of a function that cannot start")
        poll(lambda: child.process.poll() is not None, timeout=30, what="the crashing function to be down")
        assert name not in [c.name for c in local_stack.dead_children()]  # `make up` goes on
    finally:
        local_stack.stop_child(name)
    assert [line["restarts"] for line in died[:3]] == [1, 2, 3]
    assert [line["restartInSeconds"] for line in died[:3]] == [0.5, 1.0, 2.0]
    assert all(line["exitCode"] != 0 and line["function"] == "ingest" for line in died[:3])
    assert not alive(child.process.pid)
