"""Offline verification (``erx-gateway verify``): a saved prescription resource checked
against a saved or fetched JWK Set, with no database."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from signing.errors import VerificationError
from signing.jws import verify_document


def load_jwks(source: str, *, timeout: float) -> dict[str, Any]:
    """A JWK Set from a file path or an http(s) URL.

    Raises:
        ValueError: unreadable, not JSON, or not ``{"keys": [...]}``.
    """
    if source.startswith(("http://", "https://")):
        try:
            response = requests.get(source, timeout=timeout)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ValueError(f"cannot fetch the key set from {source}: {exc}") from None
    else:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the key set {source}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{source} is not a key set (a JWK Set: {{\"keys\": [...]}})")
    return data


def verify_saved(resource: Mapping[str, Any], key_set: Mapping[str, Any]) -> dict[str, Any]:
    """Verify a saved prescription resource (or a ``{"prescription", "jws"}`` body) offline.

    Returns ``{"valid", "kid", "reason", "message"}``.

    Raises:
        ValueError: the JSON has neither shape.
    """
    prescription = resource.get("prescription")
    signature = resource.get("signature")
    jws = signature.get("jws") if isinstance(signature, Mapping) else resource.get("jws")
    if not isinstance(prescription, Mapping) or not isinstance(jws, str):
        raise ValueError("expected a prescription resource with `prescription` and "
                         "`signature.jws` (or a body with `prescription` and `jws`)")
    try:
        kid = verify_document(prescription, jws, key_set)
    except VerificationError as exc:
        return {"valid": False, "kid": exc.kid, "reason": exc.reason, "message": exc.message}
    return {"valid": True, "kid": kid, "reason": None, "message": "the signature is valid"}
