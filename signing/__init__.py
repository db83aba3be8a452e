"""Canonical JSON, keys, and signatures (no Flask)."""
