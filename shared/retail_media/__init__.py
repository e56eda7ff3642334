"""Retail media (../shared/specs/retail-media-events.md): ad beacons, conversions, attribution
and campaign reports, served by the ``beacon``, ``attribution`` and ``reports`` functions.

Modules: ``beacon`` (ad events and conversions over HTTP), ``ajv_errors`` (validation errors in
Ajv's shape; schemas in ``schemas/``), ``dedup`` (TTL dedup keys in Firestore), ``campaigns``
(the campaign registry and ad lookup), ``attribution`` (crediting conversions), ``reports`` and
``reports_api`` (per-day aggregates over HTTP), ``settings``, and ``*_app`` (wiring per function).
"""
