"""beacon: storefronts report ad impressions, views, clicks and conversions (public, CORS)."""

import flask
import functions_framework

from shared.retail_media import beacon_app


@functions_framework.http
def beacon(request: flask.Request) -> flask.Response:
    return beacon_app.handle(request)
