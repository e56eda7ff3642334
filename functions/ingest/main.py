"""ingest: platform apps post user-interaction events (POST /v1/events, /v1/events/batch)."""

import flask
import functions_framework

from shared.ingest import app as ingest_app


@functions_framework.http
def ingest(request: flask.Request) -> flask.Response:
    return ingest_app.handle(request)
