"""The cursor of a page of prescriptions (newest issued first): the last one's issue time
and code, opaque to clients."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from gateway.core.errors import bad_parameter


def encode_cursor(issued_at: datetime, code: str) -> str:
    raw = json.dumps([issued_at.astimezone(UTC).isoformat(), code]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, expected: str, expected_vi: str) -> tuple[datetime, str]:
    """``(issued_at, code)`` of a cursor.

    Raises:
        Invalid: not a cursor (the ``cursor`` parameter; ``expected`` and ``expected_vi`` say
            what it should be, in English and Vietnamese).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued_at, code = json.loads(raw)
        return datetime.fromisoformat(issued_at), str(code)
    except (ValueError, TypeError):
        raise bad_parameter("cursor", expected, expected_vi) from None
