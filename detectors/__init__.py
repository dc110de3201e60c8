"""Detectors: one module per surface where leaks live."""
