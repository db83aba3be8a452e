"""What a log may keep of a request target: patient identifiers taken out.

Applied to every path, query string and logged message, whatever the route (a CCCD typed
where a prescription code goes is still a CCCD): a run of nine or more digits (a CCCD, an old
9-digit CMND, a BHYT card's digits, a phone number) becomes ``<digits>``, a BHYT card number
(two letters, thirteen digits) ``<bhyt>``, the text of a printed QR code (a compact JWS)
``<qr>``, and the value of a query parameter that names a patient ``<redacted>``.
Percent-encoded text is decoded first, so an encoded identifier is found too.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

#: query parameters whose value is a patient's identifier, whatever it looks like
PATIENT_PARAMETERS = ("patient", "cccd", "so_cccd", "ma_so_the_bao_hiem_y_te", "bhyt")
_PARAMETER = re.compile(r"(?i)(^|[?&;])(" + "|".join(PATIENT_PARAMETERS) + r")=[^&;#\s]*")
_QR = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BHYT = re.compile(r"[A-Za-z]{2}[0-9]{13}")
_DIGITS = re.compile(r"[0-9]{9,}")


def redact(text: str) -> str:
    """``text`` with every patient identifier replaced (see the module's description)."""
    if not text:
        return text
    if "%" in text:
        text = unquote(text, errors="replace")
    text = _PARAMETER.sub(lambda match: f"{match.group(1)}{match.group(2)}=<redacted>", text)
    text = _QR.sub("<qr>", text)
    text = _BHYT.sub("<bhyt>", text)
    return _DIGITS.sub("<digits>", text)
