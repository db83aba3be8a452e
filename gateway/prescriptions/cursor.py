"""The one page cursor of prescription lists: the (issued_at, code) of a page's last row, the
key the next page starts after (newest issued first, the code breaking ties). Opaque to
clients: base64url of a small JSON array. Used by ``GET /v2/prescriptions`` and the console's
dispense history."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from gateway.core.errors import bad_parameter


def encode_cursor(issued_at: datetime, code: str) -> str:
    """The cursor of the page after the row (``issued_at``, ``code``)."""
    raw = json.dumps([issued_at.astimezone(UTC).isoformat(), code]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (issued_at, code) a cursor of :func:`encode_cursor` holds.

    Raises:
        gateway.core.errors.Invalid: not such a cursor (parameter ``cursor``).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued_at, code = json.loads(raw)
        return datetime.fromisoformat(issued_at), str(code)
    except (ValueError, TypeError):
        raise bad_parameter("cursor", "a next_cursor value from a previous page",
                            "Phải là next_cursor của trang trước") from None
