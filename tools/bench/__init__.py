"""``make bench``: every figure of docs/performance.md and its baseline, measured in one run (see __main__)."""
