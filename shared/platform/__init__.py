"""What every function stands on: settings from the environment, Google Cloud clients, the
Pub/Sub publisher, structured logging, the HTTP layer, API keys, caching and the clock.

Modules: ``settings`` (environment readers, project id), ``clients`` (one Firestore client per
process), ``publisher`` (publish and wait for Pub/Sub's confirmation), ``logs`` (Cloud Logging's
JSON lines through Python's logging, flowId per request), ``http`` (routes, answers, bounded
bodies, CORS), ``api_keys`` (app keys, stored hashed), ``ttl_cache``, ``clock``.
Nothing here knows a domain: domain packages import ``platform``, never the reverse.
"""
