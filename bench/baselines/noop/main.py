"""Baseline ``noop``: functions-framework answering ``{}``, nothing else (tools/bench)."""

import flask
import functions_framework


@functions_framework.http
def noop(request: flask.Request) -> dict:
    request.get_data()
    return {}
