"""The user-monitoring API (../shared/specs/monitoring-users-api.md), served by the ``monitor``
function: tracked users (trackId, friendlyId, identify, privacy consents) and the occurrences of
registered event types, which are published to topic ``events`` like every other event.

Modules: ``errors`` (the one error object), ``values`` (typed values of attributes and event
fields), ``config`` (what operators register: attributes, event types, rules, privacy),
``rules`` (inclusion/exclusion), ``users`` (user records, pure), ``operations`` (what each
operation writes, the identify rules included, pure), ``store`` (Firestore transactions),
``events`` (occurrence -> FPASS envelope), ``service`` (routes and handlers), ``app`` (wiring for
one process).
"""
