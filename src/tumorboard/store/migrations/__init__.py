"""Alembic migrations of the tumorboard record (one module per schema revision)."""
