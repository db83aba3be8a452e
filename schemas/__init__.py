"""The national prescription document, its normalisation and the legal rules (no Flask).

Entry points:

- :func:`schemas.validation.validate_prescription` -> :class:`schemas.validation.ValidationResult`
  (canonical ``document`` when valid, ``errors`` and ``warnings`` as
  :class:`schemas.validation.Issue`, the prescriber's ``signature`` kept apart);
- :class:`schemas.policy.Policy` (every policy number; ``Policy.from_mapping(app.config)``);
- :func:`schemas.identifiers.generate_prescription_code` (a new ``ma_don_thuoc``);
- :mod:`schemas.national`: the one mapping between the national wire document and the
  canonical document, both ways (:func:`schemas.national.to_national`);
- :func:`schemas.validation.dispensable_until`;
- :mod:`schemas.document`: the marshmallow schemas of the document.
"""
