"""The libraries' own words that reach an answer, and their Vietnamese: the JSON parser's
errors, the drug catalog's reasons (identifiers, scanned GS1 packs, products no longer
marketed, identifiers that name no product or several) and the signatures' reason codes.

The English is the library's, kept as it is for ``Accept-Language: en``; a Vietnamese answer
says the same in Vietnamese, the technical value (the offending token, its position, the
identifier) carried over. ``{}`` stands for a value, ``{0}``... in the Vietnamese;
``tests/gateway/web/test_languages.py`` walks drug_catalog/ for every reason it raises.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.core.errors import error_item
from signing.errors import PrescriberSignatureError

#: The catalog's reasons (``InvalidIdentifier.reason``, ``InvalidGs1.reason``, the ``str`` of
#: its errors, ``Drug.inactive_reason``) and their Vietnamese.
CATALOG_REASONS: tuple[tuple[str, str], ...] = (
    ("empty", "trống"),
    ("a GTIN has digits only", "GTIN chỉ gồm chữ số"),
    ("a GTIN has 8, 12, 13 or 14 digits, not {}", "GTIN có 8, 12, 13 hoặc 14 chữ số, không phải {0}"),
    ("GTIN check digit is {}, expected {}", "số kiểm tra của GTIN là {0}, đúng phải là {1}"),
    ("a registration number is required", "cần số đăng ký"),
    ("not a registration number format (e.g. VD-32243-19, VN2-454-16, V268-H12-13 or 12 digits)",
     "không đúng dạng số đăng ký (ví dụ VD-32243-19, VN2-454-16, V268-H12-13 hoặc 12 chữ số)"),
    ("Application Identifier ({}) is not one used on medicine packs here (01, 17, 10, 21); it is {}",
     "Mã AI ({0}) không dùng trên hộp thuốc ở đây (01, 17, 10, 21); đó là {1}"),
    ("expiry (17) must be 6 digits YYMMDD, got {}", "hạn dùng (17) phải gồm 6 chữ số YYMMDD, "
                                                    "nhận được {0}"),
    ("expiry (17) has month {}", "hạn dùng (17) có tháng {0}"),
    ("expiry (17) has day {} in a month of {} days", "hạn dùng (17) có ngày {0} trong tháng có "
                                                     "{1} ngày"),
    ("{} ({}) is empty", "{0} ({1}) trống"),
    ("{} ({}) is {} characters long, at most {} are allowed (a missing GS separator?)",
     "{0} ({1}) dài {2} ký tự, tối đa {3} (thiếu ký tự phân cách GS?)"),
    ("{} ({}) contains {}, not a GS1 character", "{0} ({1}) chứa {2}, không phải ký tự GS1"),
    ("no GTIN (01)", "không có GTIN (01)"),
    ("GTIN (01) must be 14 digits, got {}", "GTIN (01) phải gồm 14 chữ số, nhận được {0}"),
    ("GTIN (01) {} has check digit {}, expected {}",
     "GTIN (01) {0} có số kiểm tra {1}, đúng phải là {2}"),
    ("{} ({}) appears twice", "{0} ({1}) xuất hiện hai lần"),
    ("symbology identifier {} is not a GS1 symbology's (a GS1 DataMatrix sends {}): the code "
     "scanned is not the pack's GS1 code", "mã nhận dạng ký hiệu {0} không phải của mã GS1 (GS1 "
                                           "DataMatrix gửi {1}): mã vừa quét không phải mã GS1 "
                                           "của hộp thuốc"),
    ("no data after the symbology identifier", "không có dữ liệu sau mã nhận dạng ký hiệu"),
    ("a GS1 element string is text", "chuỗi phần tử GS1 phải là văn bản"),
    ("GTIN (01) {} is not a valid 14-digit GTIN", "GTIN (01) {0} không phải GTIN 14 chữ số hợp "
                                                  "lệ"),
    ("expected an Application Identifier such as (01) at position {}",
     "cần một mã AI như (01) ở vị trí {0}"),
    ("{} is not a symbology identifier (such as {} for GS1 DataMatrix)",
     "{0} không phải mã nhận dạng ký hiệu (như {1} của GS1 DataMatrix)"),
    ("expected a 2-digit Application Identifier at position {}, got {}",
     "cần mã AI 2 chữ số ở vị trí {0}, nhận được {1}"),
    ("{} ({}) must be {} digits", "{0} ({1}) phải gồm {2} chữ số"),
    ("{} ({}) {} contains a bracketed AI; use the raw form",
     "{0} ({1}) {2} chứa mã AI trong ngoặc; hãy dùng dạng thô"),
    ("{} ({}) {}: {}", "{0} ({1}) {2} không đọc được: {3}"),
    ("invalid GS1 element string: {}", "chuỗi phần tử GS1 không hợp lệ: {0}"),
    ("{} is not a valid identifier: {}", "{0} không phải mã định danh thuốc hợp lệ: {1}"),
    ("no product in the catalog is identified by {}", "không có thuốc nào trong danh mục có mã {0}"),
    ("{} identifies {} products: {}", "{0} chỉ {1} thuốc: {2}"),
    ("registration expired on {}", "số đăng ký hết hạn ngày {0}"),
    ("suspended", "bị đình chỉ lưu hành"), ("withdrawn", "bị rút số đăng ký"),
    ("recalled", "bị thu hồi"),
    # the names of the GS1 elements, a value of the reasons above
    ("GTIN", "GTIN"), ("expiry", "hạn dùng"), ("batch", "số lô"), ("serial", "số sê-ri"),
)

#: The signatures' reason codes (signing.errors) in Vietnamese: what the English ``message``
#: details for an integrator, a Vietnamese answer says by its reason.
SIGNATURE_REASONS: dict[str, str] = {
    "missing": "đơn thuốc chưa có chữ ký số của người kê đơn",
    "malformed_jws": "chữ ký không đúng dạng JWS (tiêu đề, x5c hoặc mã hóa base64)",
    "unsupported_alg": "thuật toán ký không được hỗ trợ hoặc không khớp khóa của chứng thư",
    "missing_x5c": "tiêu đề chữ ký thiếu chuỗi chứng thư (x5c)",
    "bad_certificate": "một chứng thư trong x5c không đọc được",
    "signing_time_in_future": "thời điểm ký ở tương lai",
    "certificate_not_yet_valid": "chứng thư của người ký chưa có hiệu lực vào thời điểm ký",
    "certificate_expired": "chứng thư của người ký đã hết hạn vào thời điểm ký",
    "key_usage": "chứng thư của người ký không cho phép ký số (digitalSignature)",
    "untrusted_chain": "chuỗi chứng thư không dẫn tới tổ chức chứng thực được tin cậy",
    "content_changed": "nội dung đã khác nội dung được ký",
    "bad_signature": "chữ ký không khớp nội dung",
    "unknown_kid": "không có khóa nào của cổng mang kid này",
}

#: The JSON parser's messages (``json.JSONDecodeError.msg``) and their Vietnamese.
JSON_ERRORS: dict[str, str] = {
    "Expecting value": "cần một giá trị",
    "Expecting property name enclosed in double quotes": "cần tên trường trong dấu ngoặc kép",
    "Expecting ',' delimiter": "cần dấu ','",
    "Expecting ':' delimiter": "cần dấu ':'",
    "Extra data": "thừa dữ liệu sau giá trị JSON",
    "Unterminated string starting at": "chuỗi không được đóng",
    "Invalid control character at": "ký tự điều khiển không hợp lệ",
    "Invalid \\escape": "chuỗi thoát (\\) không hợp lệ",
    "Invalid \\uXXXX escape": "chuỗi thoát \\uXXXX không hợp lệ",
    "Illegal trailing comma before end of object": "dấu ',' thừa trước khi đóng đối tượng",
    "Illegal trailing comma before end of array": "dấu ',' thừa trước khi đóng mảng",
}

_VALUE = re.compile(r"\\\{\\\}")
_CATALOG = tuple((re.compile(_VALUE.sub("(.+?)", re.escape(english)), re.S), vi)
                 for english, vi in sorted(CATALOG_REASONS,
                                           key=lambda pair: -len(pair[0].replace("{}", ""))))


def catalog_reason_in_vietnamese(text: str, *, depth: int = 2) -> str:
    """A drug-catalog reason (or error text) in Vietnamese, its values carried over (a value
    that is itself a reason is said in Vietnamese too); the text as it is when unknown."""
    for pattern, vi in _CATALOG:
        match = pattern.fullmatch(text)
        if match:
            return vi.format(*(catalog_reason_in_vietnamese(value, depth=depth - 1) if depth
                               else value for value in match.groups()))
    return text


def signature_reason_in_vietnamese(reason: str, message: str) -> str:
    """A signature's refusal in Vietnamese: what its reason code means (the English
    ``message`` when the code is not known)."""
    return SIGNATURE_REASONS.get(reason, message)


#: The audit log's integrity findings (gateway/audit/integrity.py, English) as the
#: inspector's page says them in Vietnamese.
INTEGRITY: tuple[tuple[str, str], ...] = (
    ("the log has not been sealed yet", "nhật ký chưa được niêm phong lần nào"),
    ("the latest tree head's signature does not verify: {}",
     "chữ ký của bản tóm tắt mới nhất không hợp lệ: {0}"),
    ("the first tree head: no earlier one to compare",
     "bản tóm tắt đầu tiên: chưa có bản trước để so"),
    ("the tree head of {} events is not consistent with the latest: {}",
     "bản tóm tắt {0} sự kiện không nhất quán với bản mới nhất: {1}"),
    ("the log of {} events extends the one of {} events",
     "nhật ký {0} sự kiện nối tiếp nhật ký {1} sự kiện"),
)
_INTEGRITY = tuple((re.compile(_VALUE.sub("(.+?)", re.escape(english)), re.S), vi)
                   for english, vi in INTEGRITY)
_SIGNATURE_TEXT = re.compile(r"([a-z_]+): (.*)", re.S)


def integrity_in_vietnamese(text: str) -> str:
    """An integrity finding in Vietnamese; a signature's refusal inside it by its reason code
    (the technical text of any other failure kept)."""
    for pattern, vi in _INTEGRITY:
        match = pattern.fullmatch(text)
        if match:
            values = []
            for value in match.groups():
                signature = _SIGNATURE_TEXT.fullmatch(value)
                if signature and signature.group(1) in SIGNATURE_REASONS:
                    value = f"{signature.group(1)}: {SIGNATURE_REASONS[signature.group(1)]}"
                values.append(value)
            return vi.format(*values)
    return text


def prescriber_signature_item(exc: PrescriberSignatureError) -> dict[str, Any]:
    """The error item of a refused prescriber's signature: its reason code, the reason said in
    Vietnamese, the library's message in the English (``_en``)."""
    said = signature_reason_in_vietnamese(exc.reason, exc.message)
    item: dict[str, Any] = error_item(
        "/signature", "signature.prescriber_invalid",
        f"Chữ ký số của người kê đơn không hợp lệ ({exc.reason}): {said}")
    item.update({"reason": exc.reason, "_en": f"the prescriber's digital signature is not "
                                              f"valid ({exc.reason}): {exc.message}"})
    return item


def json_error(exc: json.JSONDecodeError) -> tuple[str, str]:
    """A JSON parse error, (English, Vietnamese), naming the line and column."""
    english = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    said = JSON_ERRORS.get(exc.msg, exc.msg)
    return english, f"{said} ở dòng {exc.lineno}, cột {exc.colno}"
