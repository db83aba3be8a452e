"""Messages of the request edge in both languages: marshmallow's and webargs' English
defaults (query and path parameters, request-level fields) as (Vietnamese, English) pairs.

The gateway's own rule messages are Vietnamese (docs/rules.md); what the libraries say in
English is matched here and said again in both languages, so no answer mixes a Vietnamese
title with a library's English sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.document import SEXES, TREATMENT_SETTINGS, TYPE_MEANINGS, choices_text

#: The languages of the gateway's texts for people; the first is the default.
LANGUAGES = ("vi", "en")


def preferred_language(accepted: Iterable[tuple[str, float]]) -> str:
    """``vi`` or ``en``: the first language of an ``Accept-Language`` (highest quality first,
    then in the order sent, as Werkzeug parses it) that the gateway speaks; Vietnamese for a
    wildcard or when none is."""
    for value, quality in accepted:
        primary = value.split("-", 1)[0].strip().lower()
        if quality <= 0:
            continue
        if primary in LANGUAGES:
            return primary
        if primary == "*":
            break
    return LANGUAGES[0]


_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), vi, en) for pattern, vi, en in (
        (r"Not a valid integer\.", "Phải là số nguyên", "must be an integer"),
        (r"Not a valid number\.", "Phải là số", "must be a number"),
        (r"Not a valid string\.", "Phải là chuỗi ký tự", "must be a string"),
        (r"Not a valid boolean\.", "Phải là true hoặc false", "must be true or false"),
        (r"Not a valid list\.", "Phải là một danh sách", "must be a list"),
        (r"Not a valid (aware )?datetime\.|Not a valid aware datetime\.",
         "Phải là thời điểm ISO 8601 có múi giờ (ví dụ 2026-03-01T00:00:00+07:00)",
         "must be an ISO 8601 date-time with an offset (e.g. 2026-03-01T00:00:00+07:00)"),
        (r"Not a valid naive datetime\.|Not a valid date\.",
         "Phải là ngày ISO 8601", "must be an ISO 8601 date"),
        (r"Missing data for required field\.", "Bắt buộc", "required"),
        (r"Field may not be null\.", "Không được là null", "must not be null"),
        (r"Unknown field\.", "Tham số không được hỗ trợ", "unknown parameter"),
        (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.",
         "Phải từ {0} đến {1}", "must be from {0} to {1}"),
        (r"Must be greater than or equal to (\S+)\.", "Phải lớn hơn hoặc bằng {0}",
         "must be at least {0}"),
        (r"Must be less than or equal to (\S+)\.", "Phải nhỏ hơn hoặc bằng {0}",
         "must be at most {0}"),
        (r"Must be one of: (.*)\.", "Phải là một trong: {0}", "must be one of: {0}"),
        (r"Length must be between (\d+) and (\d+)\.", "Độ dài phải từ {0} đến {1} ký tự",
         "must be {0} to {1} characters long"),
        (r"Shorter than minimum length (\d+)\.", "Phải có ít nhất {0} ký tự",
         "must be at least {0} characters long"),
        (r"Longer than maximum length (\d+)\.", "Tối đa {0} ký tự",
         "must be at most {0} characters long"),
        (r"String does not match expected pattern\.", "Không đúng định dạng",
         "does not have the expected format"),
        (r"Invalid input type\.", "Sai kiểu dữ liệu", "wrong type"),
        (r"must be after from", "Phải sau `from`", "must be after `from`"),
        (r"unknown action", "Hành động không có trong nhật ký kiểm toán",
         "not an audit action"),
    ))


def bilingual(message: str) -> tuple[str, str]:
    """``message`` (a library default or one of ours) as (Vietnamese, English); a message not
    known here is returned as both."""
    for pattern, vi, en in _PATTERNS:
        match = pattern.fullmatch(message.strip())
        if match:
            groups = [group for group in match.groups() if group is not None]
            return vi.format(*groups), en.format(*groups)
    return message, message


#: The details of problems, written in English where they are raised, and their Vietnamese
#: (``{}`` stands for a value; the Vietnamese names the values in order as ``{0}``, ``{1}``).
#: A Vietnamese answer (the default) says the Vietnamese; ``Accept-Language: en`` the English.
DETAILS: tuple[tuple[str, str], ...] = (
    ("a clinic code is the 5-character facility code", "Mã phòng khám là mã cơ sở gồm 5 ký tự"),
    ("a clinic lists its own facility's prescriptions only",
     "Cơ sở chỉ xem danh sách đơn thuốc của chính mình"),
    ("a doctor needs --facility, a 5-character facility code",
     "Bác sĩ cần --facility, mã cơ sở gồm 5 ký tự"),
    ("a {} belongs to no facility", "{0} không thuộc cơ sở nào"),
    ("a {} with code {} exists already", "Đã có {0} với mã {1}"),
    ("a pharmacy with code {} exists already (pharmacy codes compare case-insensitively)",
     "Đã có nhà thuốc với mã {0} (mã nhà thuốc không phân biệt chữ hoa, chữ thường)"),
    ("address must not be blank", "Địa chỉ không được để trống"),
    ("address: at most {} characters", "Địa chỉ: tối đa {0} ký tự"),
    ("code: 1-50 letters, digits, '.', '_' or '-'",
     "Mã: 1-50 chữ cái, chữ số, '.', '_' hoặc '-'"),
    ("expected {}, got {}", "Cần {0}, nhận được {1}"),
    ("give at least one of name, address, phone",
     "Cần ít nhất một trong: tên, địa chỉ, số điện thoại"),
    ("grant_type must be client_credentials", "grant_type phải là client_credentials"),
    ("it is {}", "Đơn thuốc đang ở trạng thái {0}"),
    ("malformed JSON: {}", "JSON không đúng cú pháp: {0}"),
    ("more than {} header fields", "Nhiều hơn {0} trường tiêu đề"),
    ("name must not be blank", "Tên không được để trống"),
    ("name: at most {} characters", "Tên: tối đa {0} ký tự"),
    ("no credentials: send a bearer token",
     "Chưa có thông tin xác thực: hãy gửi mã truy cập (Bearer token)"),
    ("no delivery {}", "Không có lần chuyển giao {0}"),
    ("no party {}", "Không có đơn vị {0}"),
    ("no prescription {}", "Không có đơn thuốc {0}"),
    ("no webhook is registered", "Chưa đăng ký webhook"),
    ("only a clinic or a doctor of a facility prescribes",
     "Chỉ cơ sở khám chữa bệnh hoặc bác sĩ của cơ sở được kê đơn"),
    ("only a pharmacy dispenses", "Chỉ nhà thuốc được bán thuốc"),
    ("only the issuing facility and regulators print a prescription",
     "Chỉ cơ sở kê đơn và cơ quan quản lý được in đơn thuốc"),
    ("only the issuing facility cancels a prescription", "Chỉ cơ sở kê đơn được hủy đơn thuốc"),
    ("only the issuing facility, regulators and admins see deliveries",
     "Chỉ cơ sở kê đơn, cơ quan quản lý và quản trị viên xem được việc chuyển giao"),
    ("pharmacies read prescriptions by exact code only",
     "Nhà thuốc chỉ tra cứu đơn thuốc theo đúng mã đơn"),
    ("phone: a Vietnamese number, 0 (or +84) then 9 or 10 digits",
     "Số điện thoại: số Việt Nam, 0 (hoặc +84) rồi 9 hoặc 10 chữ số"),
    ("role must be one of {}", "Vai trò phải là một trong {0}"),
    ("status is active or disabled", "Trạng thái là active hoặc disabled"),
    ("text fields hold characters that are not allowed (controls, bidi overrides or lone "
     "surrogates)", "Có trường chứa ký tự không được phép (ký tự điều khiển, ký tự đổi chiều "
                    "văn bản hoặc nửa cặp surrogate)"),
    ("the GTIN's check digit is {}; the other digits call for {}: a typing error?",
     "Số kiểm tra của GTIN là {0}, các chữ số còn lại cần {1}: có thể gõ nhầm?"),
    ("the JSON is nested too deeply", "JSON lồng quá nhiều cấp"),
    ("the QR text is not a genuine prescription QR: {}",
     "Nội dung QR không phải mã QR đơn thuốc thật: {0}"),
    ("the URL is longer than {} bytes", "Địa chỉ (URL) dài hơn {0} byte"),
    ("the body is not UTF-8 (byte {})", "Nội dung không phải UTF-8 (byte {0})"),
    ("the body must be a JSON object", "Nội dung phải là một đối tượng JSON"),
    ("the cancellation is invalid", "Yêu cầu hủy không hợp lệ"),
    ("the delivery is {}; only {} deliveries are retried",
     "Lần chuyển giao đang ở trạng thái {0}; chỉ gửi lại được lần chuyển giao {1}"),
    ("the drug catalog is unavailable", "Danh mục thuốc tạm thời không dùng được"),
    ("the gateway cannot reach its database; nothing was changed that is not reported, retry "
     "shortly (an Idempotency-Key makes the retry safe)",
     "Cổng không truy cập được cơ sở dữ liệu; không có thay đổi nào ngoài những gì đã báo, hãy "
     "thử lại sau ít phút (Idempotency-Key giúp thử lại an toàn)"),
    ("the gateway is checking too many passwords; retry shortly",
     "Cổng đang kiểm tra quá nhiều mật khẩu; hãy thử lại sau ít phút"),
    ("the header field {} is larger than {} bytes", "Trường tiêu đề {0} lớn hơn {1} byte"),
    ("the key set is unavailable", "Bộ khóa công khai tạm thời không dùng được"),
    ("the log has not been sealed yet", "Nhật ký chưa được niêm phong lần nào"),
    ("the party is unknown or disabled", "Đơn vị không tồn tại hoặc đã bị khóa"),
    ("the password was not changed", "Mật khẩu chưa được đổi"),
    ("the prescription changed while it was stored; retry",
     "Đơn thuốc thay đổi trong khi lưu; hãy thử lại"),
    ("the prescription is changing too fast; retry", "Đơn thuốc đang thay đổi liên tục; hãy thử lại"),
    ("the report names pharmacy {}, but the caller is {}",
     "Báo cáo ghi nhà thuốc {0} nhưng bên gọi là {1}"),
    ("the signing key is unavailable", "Khóa ký tạm thời không dùng được"),
    ("the token is invalid or expired", "Mã truy cập không hợp lệ hoặc đã hết hạn"),
    ("the token was issued before the party's credentials changed (secret rotated, party "
     "disabled or enabled)", "Mã truy cập được cấp trước khi thông tin xác thực của đơn vị thay "
                             "đổi (đổi khóa bí mật, khóa hoặc mở khóa đơn vị)"),
    ("this Idempotency-Key was used with another body or path",
     "Idempotency-Key này đã dùng cho nội dung hoặc đường dẫn khác"),
    ("this answers application/json, text/csv or application/x-ndjson",
     "Chỉ trả lời application/json, text/csv hoặc application/x-ndjson"),
    ("this needs the role {}; the token is a {}'s", "Cần vai trò {0}; mã truy cập là của {1}"),
    ("this prescription belongs to another facility", "Đơn thuốc này thuộc cơ sở khác"),
    ("too many failed logins; try again later",
     "Quá nhiều lần đăng nhập sai; hãy thử lại sau"),
    ("unknown client or wrong secret", "Không có đơn vị này hoặc sai khóa bí mật"),
    ("use Authorization: Bearer <token>", "Hãy dùng Authorization: Bearer <token>"),
    ("{} already has {} dispenses", "Đơn thuốc {0} đã có {1} lần bán"),
    ("{} has no address or phone: the national dispense report could not be filed "
     "(erx-gateway parties update, or PATCH /v2/parties/{id})",
     "{0} chưa có địa chỉ hoặc số điện thoại: không gửi được báo cáo bán thuốc lên hệ thống "
     "quốc gia (erx-gateway parties update, hoặc PATCH /v2/parties/{{id}})"),
    ("{} no longer has the content its printed QR code was signed for",
     "Nội dung đơn thuốc {0} đã khác với nội dung mã QR in ra được ký"),
    ("{} nominates pharmacy {}", "Đơn thuốc {0} chỉ định nhà thuốc {1}"),
    ("{} was submitted before with different content; a prescription cannot be changed, only "
     "cancelled", "Đơn thuốc {0} đã được gửi trước đó với nội dung khác; đơn thuốc không sửa "
                  "được, chỉ hủy được"),
    ("{}: expected {}", "{0}: cần {1}"),
    ("username: 3-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
     "Tên đăng nhập gồm 3-64 chữ cái không dấu, chữ số, '.', '_', '-' hoặc '@', bắt đầu bằng "
     "chữ hoặc số"),
    ("a {}'s people do not use the console (only {})",
     "Người của {0} không dùng bảng điều khiển (chỉ {1})"),
    ("the username {} is taken", "Tên đăng nhập {0} đã có người dùng"),
    ("no user {}", "Không có người dùng {0}"),
    ("{} parties are created and changed only with `erx-gateway parties` on the server; over "
     "HTTP an admin manages {}", "Đơn vị {0} chỉ được tạo và sửa bằng `erx-gateway parties` trên "
                                "máy chủ; qua HTTP quản trị viên quản lý {1}"),
    ("app-name and app-key authenticate pharmacies only: other parties send a bearer token",
     "app-name và app-key chỉ dùng cho nhà thuốc: các đơn vị khác gửi mã truy cập (Bearer token)"),
    ("the submission took too long to be stored; retry", "Lưu đơn thuốc quá lâu; hãy thử lại"),
    ("no resource type {}", "Không có loại tài nguyên {0}"),
    ("no Organization {}", "Không có Organization {0}"),
    ("no MedicationDispense {}", "Không có MedicationDispense {0}"),
    ("no Medication {}", "Không có Medication {0}"),
    ("no MedicationRequest {}", "Không có MedicationRequest {0}"),
    ("no SearchParameter {}", "Không có SearchParameter {0}"),
    ("the base takes a POST of a transaction Bundle; searches name their type (GET "
     "/fhir/R4/MedicationRequest?...)", "Địa chỉ gốc nhận POST một Bundle giao dịch; tìm kiếm "
                                        "phải nêu loại tài nguyên (GET "
                                        "/fhir/R4/MedicationRequest?...)"),
    ("/fhir/R4/{} is not an interaction of this server (GET /fhir/R4/metadata)",
     "/fhir/R4/{0} không phải thao tác của máy chủ này (GET /fhir/R4/metadata)"),
    ("a {} does not read prescriptions", "{0} không đọc đơn thuốc"),
    ("this server has no {} resources", "Máy chủ không có tài nguyên {0}"),
    ("unknown search parameters", "Tham số tìm kiếm không được hỗ trợ"),
    ("only a clinic or a doctor prescribes", "Chỉ cơ sở khám chữa bệnh hoặc bác sĩ được kê đơn"),
    ("another prescription for the same person is being stored; retry",
     "Một đơn thuốc khác của cùng người bệnh đang được lưu; hãy thử lại"),
    ("send either Authorization: Bearer or app-name/app-key, not both",
     "Chỉ gửi một trong hai: Authorization: Bearer hoặc app-name/app-key"),
    ("{} is the last enabled admin: enable or create another admin first (erx-gateway parties "
     "create --role admin)", "{0} là quản trị viên cuối cùng đang hoạt động: hãy bật hoặc tạo "
                            "quản trị viên khác trước (erx-gateway parties create --role admin)"),
    ("{} kept changing; try again", "{0} liên tục thay đổi; hãy thử lại"),
    ("Idempotency-Key must be 1-255 visible ASCII characters",
     "Idempotency-Key phải gồm 1-255 ký tự ASCII nhìn thấy được"),
)


def _template(english: str) -> re.Pattern[str]:
    # {id} in a detail is literal text; {} is a value.
    escaped = re.escape(english).replace(r"\{id\}", "\x00").replace(r"\{\}", "(.+?)")
    return re.compile(escaped.replace("\x00", r"\{id\}"), re.S)


_DETAILS = tuple((_template(english), vi) for english, vi in DETAILS)


def _translated(table: tuple[tuple[re.Pattern[str], str], ...], text: str) -> str | None:
    """``text`` in the table's other language, its values carried over (None: not there)."""
    for pattern, other in table:
        match = pattern.fullmatch(text)
        if match:
            return other.format(*match.groups())
    return None


def detail_in_vietnamese(detail: str) -> str | None:
    """The Vietnamese of an English ``detail`` (None when the table does not have it)."""
    return _translated(_DETAILS, detail)


#: A delivery's ``last_error`` (English in the API, where integrators read it) as the console
#: shows it, in Vietnamese; ``{}`` stands for a value, ``{0}``... in the Vietnamese.
DELIVERY_ERRORS: tuple[tuple[str, str], ...] = (
    ("webhook.none: the pharmacy has no webhook for this event",
     "Nhà thuốc chưa đăng ký webhook cho sự kiện này (không gửi)"),
    ("webhook.address_forbidden: the webhook's host is or resolves to an internal address",
     "Địa chỉ webhook là hoặc trỏ tới địa chỉ nội bộ"),
    ("webhook.unreachable: the webhook could not be reached (name, connection, TLS or timeout)",
     "Không kết nối được webhook (tên miền, kết nối, TLS hoặc quá thời gian)"),
    ("webhook.server_error: the webhook answered a server error", "Webhook trả lời lỗi máy chủ"),
    ("webhook.busy: the webhook asked to retry later", "Webhook yêu cầu gửi lại sau"),
    ("webhook.refused: the webhook refused the delivery", "Webhook từ chối nhận"),
    ("ERX_REGISTRY_BASE_URL is not set: the registry is not configured",
     "Chưa cấu hình hệ thống quốc gia (ERX_REGISTRY_BASE_URL)"),
    ("the national registry has no cancel call configured (ERX_REGISTRY_CANCEL_PATH is empty)",
     "Hệ thống quốc gia chưa có lời gọi hủy đơn (ERX_REGISTRY_CANCEL_PATH trống)"),
    ("the registry refused a freshly issued token (401)",
     "Hệ thống quốc gia từ chối mã truy cập vừa cấp (401)"),
    ("timeout after {} s calling {}", "Quá thời gian sau {0} giây khi gọi {1}"),
    ("{} calling {}", "Lỗi {0} khi gọi {1}"),
    ("the registry answered {}", "Hệ thống quốc gia trả lời {0}"),
    ("the registry refused the content ({})", "Hệ thống quốc gia từ chối nội dung ({0})"),
    ("timeout logging in to the registry", "Quá thời gian khi đăng nhập hệ thống quốc gia"),
    ("{} logging in to the registry", "Lỗi {0} khi đăng nhập hệ thống quốc gia"),
    ("the registry refused the facility login ({})",
     "Hệ thống quốc gia từ chối đăng nhập của cơ sở ({0})"),
    ("gave up: first attempt more than {} ago; last error: {}",
     "Ngừng gửi: lần gửi đầu đã quá {0}; lỗi cuối: {1}"),
    ("gave up after {}: {}", "Ngừng gửi sau {0}: {1}"),
    ("internal error: {}", "Lỗi nội bộ: {0}"),
    ("dispense {} is not in the prescription", "Lần bán {0} không có trong đơn thuốc"),
    ("unknown target {} or event {}", "Không rõ nơi nhận {0} hoặc sự kiện {1}"),
)
_DELIVERY_ERRORS = tuple((_template(english), vi) for english, vi in DELIVERY_ERRORS)


def delivery_error_in_vietnamese(text: str | None) -> str:
    """A delivery's ``last_error`` in Vietnamese (as it is when the table lacks it)."""
    if not text:
        return ""
    for pattern, vi in _DELIVERY_ERRORS:
        match = pattern.fullmatch(text)
        if match:
            return vi.format(*(delivery_error_in_vietnamese(group) if group.startswith(
                ("webhook.", "the registry", "timeout")) else group for group in match.groups()))
    return text


#: The messages of error items, written in Vietnamese where they are raised, and their
#: English for ``Accept-Language: en`` (``{}`` stands for a value; ``{0}``... in the English).
ITEMS: tuple[tuple[str, str], ...] = (
    ("Phải là chuỗi ký tự", "must be a string"),
    ("Bắt buộc", "required"),
    ("Thiếu trường bắt buộc", "a required field is missing"),
    ("Không được là null (bỏ trường đi nếu không có giá trị)",
     "must not be null (leave the field out when it has no value)"),
    ("Trường không có trong đơn thuốc quốc gia (và không phải trường mở rộng của cổng)",
     "not a field of the national prescription (nor one of the gateway's extensions)"),
    ("Phải là một đối tượng JSON", "must be a JSON object"),
    ("Phải là số nguyên", "must be an integer"),
    ("Phải là số nguyên: {}", "must be an integer: {0}"),
    ("Phải là chuỗi ký tự: {}", "must be a string: {0}"),
    ("Phải là số", "must be a number"),
    ("Ngày không hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd)", "not a date (dd/mm/yyyy or yyyy-mm-dd)"),
    ("Thời điểm không hợp lệ (yyyy-mm-dd HH:MM:SS)", "not a time (yyyy-mm-dd HH:MM:SS)"),
    ("Phải là số ngày (số nguyên) hoặc một ngày (dd/mm/yyyy)",
     "must be a number of days (an integer) or a date (dd/mm/yyyy)"),
    ("Số lượng phải là một số", "the quantity must be a number"),
    ("Số lượng phải là một số hữu hạn", "the quantity must be a finite number"),
    ("Số lượng phải là số nguyên với đơn vị đếm được",
     "the quantity must be whole for a counted unit"),
    ("Mật khẩu mới cần ít nhất {} ký tự", "the new password needs at least {0} characters"),
    ("Mật khẩu mới tối đa {} ký tự", "the new password has at most {0} characters"),
    ("Mật khẩu không được trùng tên đăng nhập", "the password must not be the user name"),
    ("Mật khẩu mới phải khác mật khẩu hiện tại",
     "the new password must differ from the current one"),
    ("Hai lần nhập mật khẩu mới không khớp", "the two entries of the new password differ"),
    ("Mật khẩu hiện tại không đúng", "the current password is wrong"),
    ("Tên đăng nhập đã có người dùng", "the user name is taken"),
    ("Cần ít nhất một trường: name, address, phone",
     "at least one field is needed: name, address, phone"),
    ("Tên đăng nhập gồm 3-64 chữ cái không dấu, chữ số, '.', '_', '-' hoặc '@', bắt đầu bằng "
     "chữ hoặc số", "a user name is 3-64 unaccented letters, digits, '.', '_', '-' or '@', "
                    "starting with a letter or digit"),
    ("Chữ ký số của người kê đơn không hợp lệ ({}): {}",
     "the prescriber's digital signature is not valid ({0}): {1}"),
    ("Chữ ký số của cổng không hợp lệ ({}): {}",
     "the gateway's digital signature is not valid ({0}): {1}"),
    ("Mã GS1 của hộp thuốc không đọc được: {}", "the pack's GS1 code cannot be read: {0}"),
    ("Cơ sở dữ liệu tạm thời không truy cập được, vui lòng thử lại sau",
     "the database cannot be reached for now; please retry shortly"),
    ("Chỉ gửi lại được khi đã thất bại", "only a failed delivery can be sent again"),
    ("Đơn thuốc chỉ định nhà thuốc {}: nhà thuốc khác không được bán",
     "the prescription nominates pharmacy {0}: another pharmacy may not dispense it"),
    ("Đơn thuốc chỉ định nhà thuốc {}, không phải nhà thuốc này",
     "the prescription nominates pharmacy {0}, not this one"),
    ("Mã cơ sở cung ứng thuốc khác với nhà thuốc đang đăng nhập",
     "the dispensing facility's code is not the signed-in pharmacy's"),
    ("Đơn thuốc đã có {} lần bán: không ghi nhận thêm",
     "the prescription has {0} dispenses already: no more are recorded"),
    ("Mã hóa đơn là chuỗi tối đa 20 ký tự", "the invoice number is a string of at most 20 "
                                           "characters"),
    ("Cần ít nhất một dòng thuốc bán", "at least one line is needed"),
    ("Tối đa {} dòng thuốc bán (một dòng cho mỗi thuốc của đơn)",
     "at most {0} lines (one for each drug of the prescription)"),
    ("Tối đa {} hộp thuốc được quét trong một lần bán (nhận {})",
     "at most {0} packs scanned in one dispense (got {1})"),
    ("Trường không được hỗ trợ: {}", "unknown field: {0}"),
    ("Dòng thuốc bán phải là đối tượng", "a line must be an object"),
    ("Số thứ tự dòng thuốc phải là số nguyên (dòng đầu tiên là 0)",
     "must be an integer (the first line is 0)"),
    ("Số thứ tự dòng thuốc phải từ 0 đến {} (dòng đầu tiên là 0)",
     "must be from 0 to {0} (the first line is 0)"),
    ("Mã thuốc phải là chuỗi", "the drug code must be a string"),
    ("Mã thuốc không có trong danh mục ({})", "the drug code is not in the catalog ({0})"),
    ("Không được thay thế thuốc gây nghiện", "a narcotic may not be substituted"),
    ("Thuốc thay thế phải cùng hoạt chất, hàm lượng và dạng bào chế",
     "a substitute must have the same ingredients, strengths and dosage form"),
    ("Thuốc không còn lưu hành ({})", "the product is no longer marketed ({0})"),
    ("packs phải là danh sách mã GS1", "packs must be a list of GS1 codes"),
    ("Mã GS1 phải là chuỗi", "a GS1 code must be a string"),
    ("Mã GS1 không hợp lệ: {}", "not a valid GS1 code: {0}"),
    ("GTIN của hộp thuốc không thuộc thuốc được bán",
     "the pack's GTIN is not one of the dispensed product"),
    ("Hộp thuốc đã hết hạn ({})", "the pack has expired ({0})"),
    ("Hộp thuốc được quét hai lần", "the pack was scanned twice"),
    ("Vượt số lượng kê đơn: còn lại {}", "more than was prescribed: {0} remain"),
    ("Hộp thuốc (GTIN + số sê-ri) đã được bán trước đó",
     "the pack (GTIN and serial number) was dispensed before"),
    ("Nhà thuốc chưa có địa chỉ hoặc số điện thoại: không thể gửi báo cáo bán thuốc lên hệ "
     "thống quốc gia", "the pharmacy has no address or phone: its dispense report to the "
                       "national system cannot be filed"),
    ("Mã đơn thuốc đã tồn tại với nội dung khác",
     "the prescription code exists with other content"),
    ("Nội dung đơn thuốc trên cổng khác với bản đã in: mã QR không còn khớp, hãy liên hệ cơ sở "
     "kê đơn", "the prescription on the gateway differs from the printed one: the QR code no "
               "longer matches; contact the prescribing facility"),
    ("Thời điểm kê đơn ở tương lai (quá {} giây so với đồng hồ của cổng)",
     "the prescribing time is in the future (more than {0} s ahead of the gateway's clock)"),
    ("Thời điểm kê đơn đã quá {} ngày", "the prescribing time is more than {0} days ago"),
    ("Loại đơn thuốc phải là {}", "the prescription type must be {0}"),
    ("Mã đơn thuốc phải gồm 5 ký tự mã cơ sở, 7 chữ/số, dấu '-' và loại đơn (ví dụ "
     "79001A1B2C3D-c)", "a prescription code is the 5-character facility code, 7 letters or "
                        "digits, '-' and the type (e.g. 79001A1B2C3D-c)"),
    ("5 ký tự đầu của mã đơn thuốc phải là mã cơ sở gửi đơn ({})",
     "the code's first 5 characters must be the submitting facility's code ({0})"),
    ("Ký tự cuối của mã đơn thuốc ({}) khác loại đơn thuốc ({})",
     "the code's last character ({0}) differs from the prescription type ({1})"),
    ("Đơn thuốc phải có ít nhất một chẩn đoán", "at least one diagnosis is needed"),
    ("Mã chẩn đoán không phải mã ICD-10 hợp lệ của WHO (ví dụ J06.9 hoặc J069)",
     "not a valid WHO ICD-10 code (e.g. J06.9 or J069)"),
    ("Đơn thuốc phải có ít nhất một đợt dùng thuốc", "at least one treatment period is needed"),
    ("Số đợt phải từ 1 đến {}", "the period number must be from 1 to {0}"),
    ("Ngày bắt đầu (tu_ngay) sau ngày kết thúc (den_ngay) của đợt dùng thuốc",
     "the period starts (tu_ngay) after it ends (den_ngay)"),
    ("Ngày tái khám phải trong {} ngày kể từ ngày kê đơn",
     "the follow-up must be within {0} days of the prescribing date"),
    ("Hình thức điều trị phải là {}", "the treatment setting must be {0}"),
    ("Dài quá {} ký tự ({})", "longer than {0} characters ({1})"),
    ("Họ tên bệnh nhân không được để trống và không dài quá {} ký tự",
     "the patient's name must not be blank nor longer than {0} characters"),
    ("Ngày sinh ở tương lai", "the birth date is in the future"),
    ("Ngày sinh sau ngày kê đơn", "the birth date is after the prescribing date"),
    ("Ngày sinh cách đây hơn {} năm", "the birth date is more than {0} years ago"),
    ("Giới tính phải là {}", "the sex must be {0}"),
    ("Số định danh cá nhân (CCCD) phải gồm 12 chữ số, 3 số đầu là mã tỉnh",
     "a personal identification number (CCCD) is 12 digits, the first 3 a province code"),
    ("Số định danh cá nhân không khớp {} của bệnh nhân",
     "the personal identification number does not agree with the patient's {0}"),
    ("Cần số định danh cá nhân (CCCD) hoặc mã định danh y tế của bệnh nhân (trẻ dưới {} tháng "
     "tuổi: thông tin người giám hộ)", "the patient's CCCD or health identifier is needed "
                                       "(under {0} months: the guardian's details)"),
    ("Chỉ gửi một trong hai trường ma_so_the_bao_hiem_y_te và ma_so_bao_hiem_y_te",
     "send only one of ma_so_the_bao_hiem_y_te and ma_so_bao_hiem_y_te"),
    ("Mã thẻ BHYT phải là mã thẻ (2 chữ cái, 1 chữ số 1-5, 12 chữ số), mã số BHXH (10 chữ số) "
     "hoặc số định danh cá nhân (12 chữ số)", "a health-insurance number is a card number (2 "
     "letters, a digit 1-5, 12 digits), a social-insurance number (10 digits) or a CCCD (12 "
     "digits)"),
    ("Bệnh nhân dưới {} tháng tuổi: cần thông tin người giám hộ",
     "the patient is under {0} months: the guardian's details are needed"),
    ("Cân nặng phải lớn hơn 0 và không quá {} kg", "the weight must be above 0 and at most {0} kg"),
    ("Bệnh nhân dưới {} tháng tuổi: cần cân nặng (kg)",
     "the patient is under {0} months: the weight (kg) is needed"),
    ("Đơn thuốc phải có từ 1 đến {} thuốc", "a prescription has 1 to {0} drugs"),
    ("Đây là nguyên liệu làm thuốc, không phải thuốc để kê đơn",
     "this is a pharmaceutical ingredient, not a drug to prescribe"),
    ("Thuốc này đã có ở dòng {} của đơn", "this drug is on line {0} already"),
    ("Đơn vị tính không được để trống", "the unit must not be blank"),
    ("Đơn vị tính khác đơn vị trong danh mục ({})", "the unit differs from the catalog's ({0})"),
    ("Số lượng phải lớn hơn 0 và không quá {}", "the quantity must be above 0 and at most {0}"),
    ("Số lượng phải là số nguyên với đơn vị đếm được ({})",
     "the quantity must be whole for a counted unit ({0})"),
    ("Cách dùng không được để trống", "the directions must not be blank"),
    ("Tên thuốc không nêu hoạt chất của sản phẩm trong danh mục ({})",
     "the drug name does not name the catalog product's ingredients ({0})"),
    ("Mã thuốc không được để trống", "the drug code must not be blank"),
    ("Mã GTIN sai chữ số kiểm tra (là {}, đúng phải là {}): có lẽ gõ nhầm",
     "the GTIN's check digit is wrong (it is {0}, it should be {1}): a typing error?"),
    ("Mã thuốc chỉ nhiều sản phẩm ({}): dùng mã thuốc quốc gia hoặc GTIN",
     "the drug code names several products ({0}): use the national code or a GTIN"),
    ("Mã thuốc không có trong danh mục (mã thuốc quốc gia, số đăng ký hoặc GTIN)",
     "the drug code is not in the catalog (national code, registration number or GTIN)"),
    ("Thuốc {} chỉ được kê trong {}", "a {0} drug is prescribed only on {1}"),
    ("Thuốc y học cổ truyền chỉ được kê trong đơn thuốc thường (c) hoặc y học cổ truyền (y)",
     "a traditional medicine is prescribed only on a basic (c) or traditional (y) prescription"),
    ("Số ngày dùng thuốc ({}) vượt giới hạn {} ngày của {} với các chẩn đoán này",
     "{0} days of treatment exceed the {1}-day limit of {2} for these diagnoses"),
    ("Vai trò phải là một trong {}", "the role must be one of {0}"),
    ("Bắt buộc, là chuỗi ký tự", "required, a string"),
    ("Trường không được hỗ trợ", "unknown field"),
    ("Bắt buộc, là một URL", "required, a URL"),
    ("Danh sách sự kiện không rỗng", "a non-empty list of events"),
    ("URL dài quá {} ký tự", "the URL is longer than {0} characters"),
    ("URL phải dùng https", "the URL must use https"),
    ("Sự kiện phải là một trong {}", "the event must be one of {0}"),
    ("URL thiếu tên máy chủ", "the URL has no host name"),
    ("URL không được chứa tên đăng nhập hoặc mật khẩu",
     "the URL must not hold a user name or a password"),
    ("URL không được trỏ tới địa chỉ nội bộ", "the URL must not point to an internal address"),
    ("Thuốc này không có trong đơn", "this drug is not in the prescription"),
    ("{} là chuỗi tối đa {} ký tự", "{0} is a string of at most {1} characters"),
    ("Thiếu mã đơn thuốc", "the prescription code is missing"),
    ("Cần nêu lý do hủy đơn", "a reason for cancelling is needed"),
    ("Lý do tối đa 2.000 ký tự", "the reason has at most 2,000 characters"),
    ("Bắt buộc, là đối tượng JSON (prescription của đơn thuốc)",
     "required, a JSON object (the prescription's `prescription`)"),
    ("Bắt buộc, là chuỗi JWS (signature.jws của đơn thuốc)",
     "required, a JWS string (the prescription's `signature.jws`)"),
    ("Ký tự không được phép (U+{}): ký tự điều khiển, ký tự đảo chiều hoặc UTF-16 lẻ",
     "a character that is not allowed (U+{0}): a control, bidi or lone surrogate character"),
    ("Tên trường chứa ký tự không được phép", "a field name holds a character that is not "
                                              "allowed"),
    ("Nội dung phải là một đối tượng JSON", "the body must be a JSON object"),
    ("Chữ số kiểm tra của GTIN sai: là {}, phải là {}",
     "the GTIN's check digit is wrong: it is {0}, it should be {1}"),
    ("Mã này trỏ đến nhiều thuốc: {}", "this code names several products: {0}"),
    ("Mã thuốc không có trong danh mục", "the drug code is not in the catalog"),
    ("Mã định danh thuốc không hợp lệ: {}", "not a valid drug identifier: {0}"),
    ("Thuốc đang {}, không được kê đơn", "the drug is {0}: it may not be prescribed"),
    ("Số đăng ký của thuốc đã hết hiệu lực ({})", "the drug's registration has expired ({0})"),
    ("{} chỉ nên gồm thuốc thuộc nhóm của nó; thuốc này là thuốc {}",
     "{0} should hold only drugs of its class; this drug is {1}"),
    ("Đơn thuốc có tối đa {} chẩn đoán", "a prescription has at most {0} diagnoses"),
    ("Đơn thuốc có tối đa {} đợt dùng thuốc", "a prescription has at most {0} treatment periods"),
    ("Không sinh được mã đơn thuốc cho mã cơ sở {}",
     "no prescription code can be made for the facility code {0}"),
    ("Đơn thuốc phải là một đối tượng JSON", "the prescription must be a JSON object"),
    ("Thiếu mã đơn thuốc (cổng chỉ sinh mã khi biết mã cơ sở gửi đơn)",
     "the prescription code is missing (the gateway makes one only when it knows the "
     "submitting facility's code)"),
    ("Phải là một danh sách (mảng JSON)", "must be a list (a JSON array)"),
    ("Số lượng có tối đa {} chữ số thập phân", "the quantity has at most {0} decimal places"),
    ("Ngày phải từ {} đến {}", "must be a day from {0} to {1}"),
    ("Đơn thuốc đã bị hủy", "the prescription is cancelled"),
    ("Đơn thuốc đã bán đủ", "the prescription is fully dispensed"),
    ("Đơn thuốc đã hết hạn", "the prescription has expired"),
    ("Trạng thái đơn thuốc: {}", "the prescription's status: {0}"),
    ("Không đọc được mã QR: đây không phải mã QR đơn thuốc của cổng",
     "the QR code cannot be read: it is not one of the gateway's prescription QR codes"),
    ("Mã QR không hợp lệ: thuật toán ký không được chấp nhận",
     "the QR code is not valid: its signature algorithm is not accepted"),
    ("Mã QR không hợp lệ: không phải khóa ký của cổng",
     "the QR code is not valid: it is not signed with the gateway's key"),
    ("Mã QR không hợp lệ: chữ ký sai, mã đã bị sửa hoặc giả mạo",
     "the QR code is not valid: its signature is wrong, it was altered or forged"),
    ("Mã QR do cổng ký nhưng không phải mã QR đơn thuốc",
     "the QR code is signed by the gateway but is not a prescription's"),
    ("{}: người bệnh có {} tại {} ({}), trùng {} ngày",
     "{0}: the patient has {1} at {2} ({3}), {4} days overlap"),
)

#: The coded fields' meanings in English (schemas/document.py gives the Vietnamese).
CODE_MEANINGS = {"chưa rõ": "unknown", "nam": "male", "nữ": "female", "khám bệnh": "visit",
                 "điều trị ngoại trú": "outpatient treatment",
                 "điều trị nội trú": "inpatient treatment",
                 "đơn thuốc thường": "basic prescription", "thuốc gây nghiện": "narcotic drugs",
                 "thuốc hướng thần, tiền chất": "psychotropic drugs or precursors",
                 "y học cổ truyền": "traditional medicine"}


def _choices_in_english(choices: Mapping[Any, str]) -> str:
    shown = [f"{code} ({CODE_MEANINGS[meaning]})" for code, meaning in choices.items()]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]


#: The values rule messages carry in Vietnamese (a coded field's values with their meaning,
#: control classes, prescription types, a product's state) and their English.
VALUES: dict[str, str] = {
    **{choices_text(table): _choices_in_english(table)
       for table in (SEXES, TREATMENT_SETTINGS, TYPE_MEANINGS)},
    "gây nghiện": "narcotic", "hướng thần": "psychotropic", "tiền chất": "precursor",
    "phóng xạ": "radioactive", "không kiểm soát đặc biệt": "not specially controlled",
    "đơn thuốc thường (c)": "a basic prescription (c)",
    "đơn thuốc gây nghiện (n)": "a narcotic prescription (n)",
    "đơn thuốc hướng thần, tiền chất (h)": "a psychotropic or precursor prescription (h)",
    "đơn thuốc y học cổ truyền (y)": "a traditional-medicine prescription (y)",
    "bị đình chỉ": "suspended", "bị rút số đăng ký": "withdrawn", "bị thu hồi": "recalled",
    "Trùng lặp điều trị": "Duplicate therapy", "Trùng thời gian dùng thuốc": "Overlapping treatment",
}
#: Values with values of their own (the overlap warnings' parts).
_VALUE_PATTERNS = tuple((_template(vi), en) for vi, en in (
    ("đơn thuốc cùng hoạt chất {}", "a prescription with the same ingredient {0}"),
    ("đơn thuốc có thuốc {}", "a prescription with {0} drugs"),
    ("cơ sở {}", "facility {0}"), ("từ {} đến {}", "from {0} to {1}")))


def value_in_english(value: str) -> str:
    """A value of a rule message in English (as it is when it is data: a code, a name)."""
    found = VALUES.get(value) or VALUES.get(value[:1].lower() + value[1:])
    if found is not None:
        return found if value[:1].islower() else found[:1].upper() + found[1:]
    if ", từ " in value:  # several spans of days
        return ", ".join(value_in_english(part) for part in value.split(", "))
    for pattern, en in _VALUE_PATTERNS:
        match = pattern.fullmatch(value)
        if match:
            return en.format(*(value_in_english(part) for part in match.groups()))
    return value
_ITEMS = tuple((_template(vietnamese), en) for vietnamese, en in ITEMS)


def item_in_english(message: str) -> str | None:
    """The English of an item's Vietnamese ``message`` (None when the table lacks it), its
    values in English too when they are words (a coded field's values and their meaning)."""
    for pattern, english in _ITEMS:
        match = pattern.fullmatch(message)
        if match:
            return english.format(*(value_in_english(value) for value in match.groups()))
    return None
