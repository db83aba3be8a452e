"""The canonical form of a JSON document: RFC 8785 (JSON Canonicalization Scheme).

Signatures are computed over these bytes, so two documents that differ only in key order,
insignificant whitespace or number spelling (``1.0`` / ``1`` / ``1e0``) have the same
canonical form and the same signature. The implementation is the maintained ``rfc8785``
package (Trail of Bits).
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from signing.errors import CanonicalizationError


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    ``obj`` is what :func:`json.loads` gives (dict with str keys, list, str, int, float,
    bool, None).

    Raises:
        CanonicalizationError: the value has no canonical form: NaN or infinity, an integer
            outside the IEEE 754 safe range (|n| > 2**53 - 1), a non-string object key, or a
            type JSON does not have (``datetime``, ``Decimal``, ``bytes``, ...).
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from None
    except (TypeError, ValueError, RecursionError) as exc:  # defensive: anything else refused
        raise CanonicalizationError(f"{type(exc).__name__}: {exc}") from None


def content_sha256(obj: Any) -> str:
    """Return the lowercase hex SHA-256 of :func:`canonicalize` (``obj``).

    Raises:
        CanonicalizationError: as :func:`canonicalize`.
    """
    return hashlib.sha256(canonicalize(obj)).hexdigest()
