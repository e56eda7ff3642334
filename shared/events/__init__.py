"""The event and how it travels: the FPASS event contract (``contract``, JSON Schemas in
``schemas/<eventType>/v<N>.json``), the Events Protocol envelope (``protocol``) and the Pub/Sub
message every publisher sends to topic ``events`` (``message``: serialisation, attributes, the
partner an event belongs to). Imported by ingest, monitor and forwarding alike.
"""
