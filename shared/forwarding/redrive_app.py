"""Wiring of the re-driver (function ``forward_redrive``): ``POST /v1/redrive`` runs it.

Cloud Scheduler calls it every minute with an OIDC token (the function is internal and only the
scheduler's service account may invoke it); the local stack calls it every second. It holds the
three forwarders (webhook, MongoDB, Cloud Storage) with full timeouts, and answers what it did:
``{"due", "redriven", "contended", "errors", "passes"}``. Errors answer ``{"error": "..."}``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import lru_cache

import flask
from werkzeug.routing import Rule

from shared.forwarding.app import FUNCTION_KINDS, build_forwarder
from shared.forwarding.delivery_log import DeliveryLog
from shared.forwarding.redrive import Redriver
from shared.forwarding.settings import ForwardingSettings, RedriveSettings
from shared.platform import logs
from shared.platform.clients import firestore_client
from shared.platform.http import Answer, HttpApi, MethodNotAllowed, Request, Routes

logs.configure()

ROUTES = Routes([Rule("/v1/redrive", endpoint="redrive", methods=["POST"])])
MAX_BODY_BYTES = 1024


class RedriveApi:
    def __init__(self, redriver: Redriver, settings: RedriveSettings):
        self._redriver = redriver
        self._settings = settings
        self.api = HttpApi(name="forward_redrive", handle=self.handle, body_limit=lambda _path: MAX_BODY_BYTES,
                           error_family=(), error_answer=self._error_answer,
                           internal_answer=lambda _request: Answer(500, {"error": "internal error (see the logs)"}))

    def handle(self, request: Request) -> Answer:
        ROUTES.match(request.method, request.path)
        report = self._redriver.run(self._settings.run_seconds, self._settings.poll_seconds)
        return Answer(200, asdict(report))

    @staticmethod
    def _error_answer(error: Exception, request: Request) -> Answer:
        if isinstance(error, MethodNotAllowed):
            return Answer(405, {"error": "use POST"})
        return Answer(404, {"error": f"no route for {request.method} {request.path}"})


@lru_cache(maxsize=1)
def service() -> RedriveApi:
    settings = RedriveSettings.from_env()
    forwarding = ForwardingSettings.from_env()
    redriver = Redriver(
        DeliveryLog(firestore_client(), forwarding.delivery_log_days),
        {name: build_forwarder(name, inline=False) for name in FUNCTION_KINDS},
        batch_size=settings.batch_size, lease_seconds=forwarding.redrive_lease_seconds,
        workers=ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="redrive"),
        leasing=ThreadPoolExecutor(max_workers=8, thread_name_prefix="lease"))
    return RedriveApi(redriver, settings)


def handle(request: flask.Request) -> flask.Response:
    return service().api.serve(request)
