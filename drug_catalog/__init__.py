"""Drug products and their identifiers: GTIN, registration number, national drug code (no Flask)."""
