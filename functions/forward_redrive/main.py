"""forward_redrive: publishes the retries of failed deliveries when they are due (Cloud Scheduler)."""

import flask
import functions_framework

from shared.forwarding import redrive_app


@functions_framework.http
def forward_redrive(request: flask.Request) -> flask.Response:
    return redrive_app.handle(request)
