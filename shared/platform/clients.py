"""Google Cloud clients, created once per process and shared by every request thread.

Creating a client opens channels and reads credentials; doing it per request would cost
latency and sockets. The clients read the emulator variables (PUBSUB_EMULATOR_HOST,
FIRESTORE_EMULATOR_HOST) themselves, so the same code runs locally and in production.
"""

from __future__ import annotations

from functools import lru_cache

from google.cloud import firestore

from shared.platform.settings import project_id


@lru_cache(maxsize=1)
def firestore_client() -> firestore.Client:
    return firestore.Client(project=project_id())
