"""Reading settings from the environment, and the settings every function shares.

Each domain package has its own ``settings`` module (``from_env``); defaults are the production
values; the local stack and the tests override them through the same variables, so no code path
exists only for tests.
"""

from __future__ import annotations

import os


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw in (None, "") else raw.strip().lower() in ("1", "true", "yes")


def env_origins(name: str) -> frozenset[str]:
    """A comma-separated list of browser origins, each without a trailing slash."""
    return frozenset(o.strip().rstrip("/") for o in os.environ.get(name, "").split(",") if o.strip())


def project_id() -> str:
    """The Google Cloud project; Cloud Functions sets GOOGLE_CLOUD_PROJECT only on some runtimes,
    so Terraform sets it explicitly on every function."""
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")
    if not project:
        raise RuntimeError("GOOGLE_CLOUD_PROJECT is not set")
    return project


def dead_letter_topic(function_name: str) -> str:
    """The dead-letter topic of a topic-triggered function: ``<function>-dead-letter``, the name
    topology.yaml gives it (DEAD_LETTER_TOPIC overrides)."""
    return os.environ.get("DEAD_LETTER_TOPIC") or f"{function_name}-dead-letter"
