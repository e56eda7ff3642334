"""reports: per-campaign, per-day counts and attributed revenue (authenticated)."""

import flask
import functions_framework

from shared.retail_media import reports_app


@functions_framework.http
def reports(request: flask.Request) -> flask.Response:
    return reports_app.handle(request)
