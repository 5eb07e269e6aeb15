"""Synthetic reference patients with known truth, written through the project's own writers."""
