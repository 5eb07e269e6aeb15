"""Orchestration: one-patient pipelines and the demo that runs them.

Pipelines call the library (readers, numerics, criteria, report) in order and
write outputs; no science lives here.
"""
