"""Drug products and their identifiers: GTIN, registration number, national drug code (no Flask).

- ``model``: :class:`~drug_catalog.model.Drug` (the drug resource, README.md "Drug catalog"),
  ``ActiveIngredient``.
- ``identifiers``: GTIN check digits and normalisation, GS1 element strings (``parse_gs1``,
  ``format_gs1``, ``Pack``), registration numbers.
- ``catalog``: :class:`~drug_catalog.catalog.CatalogIndex` (``resolve``, ``get``, ``search``)
  and the ``Catalog`` protocol every catalog implementation follows.
- ``store``, ``cache``: the catalog in MongoDB and the in-process cache over it.
- ``sources``, ``importer``: ``dav-csv`` and ``ndjson`` files, upserted by national code.
- ``demo``: the demo catalog shipped in ``data/``.
- ``errors``: every domain error.
"""
