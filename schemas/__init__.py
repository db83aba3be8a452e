"""The national prescription document, its normalisation and the legal rules (no Flask)."""
