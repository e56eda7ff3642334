"""monitor: the user-monitoring API (users, identify, consents, event occurrences)."""

import flask
import functions_framework

from shared.monitor import app


@functions_framework.http
def monitor(request: flask.Request) -> flask.Response:
    return app.handle(request)
