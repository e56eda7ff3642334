"""FPASS event-data platform: the logic behind every Cloud Function, one package per domain.

``platform`` (what every function stands on) and ``events`` (the event contract, the Events
Protocol, the Pub/Sub message) are shared; ``ingest``, ``forwarding``, ``retail_media`` and
``monitor`` are the domains, each importing only ``platform`` and ``events``. Entry points in
``functions/<name>/main.py`` only hand the request to their domain's ``app`` module.
"""
