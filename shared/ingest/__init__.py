"""The ingest function: platform apps post events (``POST /v1/events``, ``/v1/events/batch``),
validated against the event contract and published to topic ``events``.

Modules: ``service`` (routes, checks, answers), ``settings``, ``app`` (wiring for one process).
"""
