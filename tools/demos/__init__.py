"""Sections of ``make demo``, one module per concept."""
