"""The beacon: storefront browsers report ad impressions, views and clicks, and conversions.

    POST /v1/beacon/{impression|view|click}/{adId}   {"session_id": ..., "user_id": ...}
    POST /v1/beacon/conversion                        the order (retail_media/schemas/conversion.json)

Bodies come from ``navigator.sendBeacon`` (``text/plain`` for a string, the Blob's type
otherwise) or ``fetch``. Success is ``202``; an invalid body is ``422`` with Ajv's error list.

An ad event counts once per ad within its dedup window for its session and, when given, its
user (shared.retail_media.dedup): it is a duplicate when that session *or* that user already had
it counted. A counted event writes its dedup keys, an ``ad_events`` record (what reports count)
and, when it can attribute a sale (campaigns.ATTRIBUTING_EVENTS), a ``touchpoints`` record kept
for the attribution window, all in one atomic batch. Duplicates get the same 202 and are not
counted, but one that can attribute still writes its touchpoint.

A conversion (normalised and flagged by ``conversion``; created_at at most the clock skew after
its receipt) is published to topic ``conversions`` (only the fields its schema describes), then
claimed per publisher_id + order_id for 30 days: resends within 30 days get 202 and are not
published again. Its ``conversionId`` is derived from publisher_id, order_id and created_at, and
attribution records each conversionId once: so an instance dying between the publish and the
claim loses nothing, and the resend of such a conversion, published again, is counted once. If
Pub/Sub does not confirm, nothing is recorded and the answer is 503: send again.

Bodies are read as JavaScript's JSON.parse reads them (shared.platform.json_body), so that the
422s are real Ajv's; what is kept is then made well-formed Unicode (an unpaired surrogate becomes
U+FFFD, as JavaScript writes it out) before it becomes a key, a document or a message.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from google.cloud import firestore
from werkzeug.routing import Rule

from shared.events.message import encode_event
from shared.platform import json_body
from shared.platform.clock import Clock
from shared.platform.http import (
    Answer,
    Cors,
    HttpApi,
    MethodNotAllowed,
    Request,
    RouteMatch,
    Routes,
)
from shared.platform.publisher import OutgoingMessage, PublishOutcome
from shared.retail_media.ajv_errors import AjvSchema
from shared.retail_media.campaigns import ATTRIBUTING_EVENTS, Ad
from shared.retail_media.conversion import created_at_bound, normalise, stored_order
from shared.retail_media.dedup import DedupStore, Write, key_id
from shared.retail_media.settings import AttributionSettings, BeaconSettings

logger = logging.getLogger(__name__)

AD_EVENTS = "ad_events"
TOUCHPOINTS = "touchpoints"
AD_EVENT_KINDS = ("impression", "view", "click")
SCHEMAS = Path(__file__).parent / "schemas"
ACCEPTED = {"impression": "impression accepted", "view": "view accepted", "click": "click accepted",
            "conversion": "conversion will be processed soon"}
# sendBeacon sends a string as text/plain and a Blob with its type (none for an untyped Blob).
ACCEPTED_CONTENT_TYPES = {"", "application/json", "text/plain"}
CONVERSION_PATH = "/v1/beacon/conversion"
CREATED_AT = "/properties/created_at"
CONVERSION_NAMESPACE = uuid.UUID("5f1c2a9e-3b7d-4c1e-9a8f-2d6b0e4c7a13")
ROUTES = Routes([
    Rule("/v1/beacon/<any(impression, view, click):kind>/<adId>", endpoint="ad_event", methods=["POST", "OPTIONS"]),
    Rule(CONVERSION_PATH, endpoint="conversion", methods=["POST", "OPTIONS"]),
])

Publish = Callable[[Sequence[OutgoingMessage]], list[PublishOutcome]]


@lru_cache(maxsize=None)
def schema(name: str) -> AjvSchema:
    return AjvSchema(json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8")))


def messages(*texts: str) -> dict[str, list[str]]:
    """The body of every answer that is not a validation error, as in the spec's 202."""
    return {"messages": list(texts)}


class Refused(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status = status
        self.body = body


def internal_answer(_request: Request) -> Answer:
    return Answer(500, messages("unexpected server error"))


def invalid_json(error: str) -> Refused:
    """A body that is not JSON, reported in the same (Ajv) shape as a schema violation."""
    return Refused(422, [{"instancePath": "", "schemaPath": "#", "keyword": "json",
                          "params": {"error": error[:200]}, "message": "must be valid JSON"}])


def parse_json(body: bytes) -> Any:
    """JSON as JavaScript's JSON.parse reads it (shared.platform.json_body)."""
    try:
        return json_body.decode_as_javascript(body)
    except json_body.JsonRefused as refused:
        raise invalid_json(str(refused)) from None


def conversion_id_of(conversion: dict[str, Any]) -> str:
    """The id of a conversion: the same order (publisher, order id, creation time) sent again has
    the same id, so attribution records it once however often it is published."""
    name = "\x1f".join((conversion["publisher_id"], conversion["order_id"], conversion["created_at"]))
    return str(uuid.uuid5(CONVERSION_NAMESPACE, name))


class BeaconService:
    def __init__(self, settings: BeaconSettings, db: firestore.Client, ads: Callable[[str], Ad | None],
                 publish: Publish, clock: Clock, attribution: AttributionSettings):
        self._settings = settings
        self._db = db
        self._ads = ads
        self._publish = publish
        self._clock = clock
        self._dedup = DedupStore(db, clock)
        self._touchpoint_ttl = attribution.touchpoint_ttl
        self._clock_skew = attribution.clock_skew
        self._windows = settings.dedup_windows
        self._cors = Cors(settings.allowed_origins)
        self.api = HttpApi(name="beacon", handle=self.handle, body_limit=self.body_limit, error_family=(Refused,),
                           error_answer=self._error_answer, internal_answer=internal_answer, finish=self._finish)

    def body_limit(self, path: str) -> int:
        if path.rstrip("/") == CONVERSION_PATH:
            return self._settings.max_conversion_bytes
        return self._settings.max_ad_event_bytes

    def handle(self, request: Request) -> Answer:
        """Checks in this order: route, origin, preflight, method, size, media type, body."""
        try:
            route: RouteMatch | None = ROUTES.match(request.method, request.path)
            wrong_method = None
        except MethodNotAllowed as error:  # answered after the origin check, as a browser expects
            route, wrong_method = None, error
        if self._cors.headers_for(request.headers.get("Origin")) is None:
            raise Refused(403, messages("this origin may not send beacons"))
        if request.method == "OPTIONS":
            return Answer(204, None, self._cors.preflight_headers())
        if wrong_method is not None:
            raise wrong_method
        assert route is not None
        if request.too_large:
            raise Refused(413, messages(f"the body exceeds {self.body_limit(request.path)} bytes"))
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_CONTENT_TYPES:
            raise Refused(415, messages("send application/json (or text/plain) JSON"))
        document = parse_json(request.body)
        if route.endpoint == "conversion":
            return self._conversion(document)
        return self._ad_event(route.params["kind"], route.params["adId"], document)

    def _error_answer(self, error: Exception, request: Request) -> Answer:
        if isinstance(error, Refused):
            return Answer(error.status, error.body)
        if isinstance(error, MethodNotAllowed):
            return Answer(405, messages("use POST"))
        return Answer(404, messages(f"no route for {request.method} {request.path}"))

    def _finish(self, request: Request, answer: Answer) -> Answer:
        """Every answer to an allowed browser origin carries its CORS headers."""
        return answer.with_headers(self._cors.headers_for(request.headers.get("Origin")) or {})

    # -- ad events ------------------------------------------------------------------------------

    def _ad_event(self, kind: str, ad_id: str, document: Any) -> Answer:
        errors = schema("ad_event").errors(document)
        if errors:
            return Answer(422, errors)
        document = json_body.well_formed(document)
        ad = self._ads(ad_id)
        if ad is None:
            return Answer(404, messages(f"unknown ad {ad_id!r}"))
        user_id = document.get("user_id") or None
        session_id = document["session_id"]
        keys = [key_id(kind, ad_id, f"session:{session_id}")]
        if user_id:
            keys.append(key_id(kind, ad_id, f"user:{user_id}"))
        now = self._clock()
        writes = [Write(self._db.collection(AD_EVENTS).document(), {
            "campaignId": ad.campaign_id, "adId": ad_id, "kind": kind, "day": now.date().isoformat(), "at": now,
        })]
        touchpoint = None
        if kind in ATTRIBUTING_EVENTS[ad.campaign_type]:
            touchpoint = Write(self._db.collection(TOUCHPOINTS).document(), {
                "campaignId": ad.campaign_id, "campaignType": ad.campaign_type, "publisherId": ad.publisher_id,
                "adId": ad_id, "kind": kind, "userId": user_id, "sessionId": session_id,
                "at": now, "expireAt": now + self._touchpoint_ttl,
            })
            writes.append(touchpoint)
        claim = self._dedup.claim(keys, self._windows[kind], {"kind": kind, "adId": ad_id}, tuple(writes))
        if touchpoint is not None and not claim.claimed:
            # Dedup decides what reports count; attribution sees every touch: a duplicate click
            # may be the latest touch, or the first to carry the visitor's user_id.
            touchpoint.reference.create(touchpoint.data)
        logger.info("ad event",
                    extra={"kind": kind, "adId": ad_id, "campaignId": ad.campaign_id, "counted": claim.claimed})
        return Answer(202, messages(ACCEPTED[kind]))

    # -- conversions ----------------------------------------------------------------------------

    def _conversion(self, document: Any) -> Answer:
        received_at = self._clock()
        bound = {CREATED_AT: {"formatMaximum": created_at_bound(received_at, self._clock_skew)}}
        errors = schema("conversion").errors(document, bound)
        if errors:
            return Answer(422, errors)
        conversion, flags = normalise(stored_order(json_body.well_formed(document), schema("conversion").schema))
        publisher_id, order_id = conversion["publisher_id"], conversion["order_id"]
        key = key_id("conversion", publisher_id, order_id)
        holder = self._dedup.holder(key)
        if holder is not None:
            logger.info("conversion resent: ignored",
                        extra={"publisherId": publisher_id, "orderId": order_id,
                               "conversionId": holder.get("conversionId")})
            return Answer(202, messages(ACCEPTED["conversion"]))
        conversion_id = conversion_id_of(conversion)
        flow_id = str(uuid.uuid4())
        message = OutgoingMessage(
            encode_event({"conversionId": conversion_id, "receivedAt": _iso(received_at),
                          "conversion": conversion, "flags": flags.to_json()}),
            {"conversionId": conversion_id, "publisherId": publisher_id, "flowId": flow_id},
        )
        outcome = self._publish([message])[0]
        if not outcome.published:
            logger.error("conversion not queued",
                         extra={"flowId": flow_id, "conversionId": conversion_id, "error": outcome.error})
            return Answer(503, messages("the conversion could not be queued; send it again"))
        # Claimed only once published: had this instance died before, a resend would be published
        # again, with the same conversionId.
        self._dedup.claim([key], self._windows["conversion"], {
            "kind": "conversion", "conversionId": conversion_id, "publisherId": publisher_id, "orderId": order_id,
        })
        logger.info("conversion queued",
                    extra={"flowId": flow_id, "conversionId": conversion_id, "publisherId": publisher_id,
                           "orderId": order_id, "messageId": outcome.message_id})
        if flags:
            # One line per flagged conversion: a log-based metric counts them.
            logger.warning("conversion accepted with flags",
                           extra={"flowId": flow_id, "conversionId": conversion_id, "publisherId": publisher_id,
                                  "orderId": order_id, "flags": flags.to_json()})
        return Answer(202, messages(ACCEPTED["conversion"]))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
