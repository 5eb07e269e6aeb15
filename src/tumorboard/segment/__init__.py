"""Masks: signal thresholds, connected components, exclusion of normal structures."""
