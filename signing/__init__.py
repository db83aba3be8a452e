"""Canonical JSON, keys, and signatures (no Flask).

- :mod:`signing.canonical`: RFC 8785 bytes and their SHA-256.
- :mod:`signing.jws`: the gateway's detached JWS (``Signer``, ``verify_detached``).
- :mod:`signing.key_store`: key generation, encrypted storage in MongoDB, rotation, the JWKS.
- :mod:`signing.prescriber`: prescribers' X.509-backed signatures.
- :mod:`signing.errors`: every exception, each with a machine-readable ``reason``.
"""
