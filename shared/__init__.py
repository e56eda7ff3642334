"""FPASS event-data platform: the logic behind every Cloud Function.

Entry points in ``functions/<name>/main.py`` only decode the request, call into this
package and encode the answer. Each module here holds one concept.
"""
