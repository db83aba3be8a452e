"""The console in English (pure tables): every text of its pages, written in Vietnamese in the
templates and views, and its English for a browser that prefers English (or chose it with
``?lang=en``). Vietnamese stays the default and needs no table.

Two kinds of entries, like the tables of :mod:`gateway.core.messages`:

- :data:`PAGES`: the texts the templates mark with ``_()`` or ``{% trans %}`` (Jinja's i18n
  extension), exactly as written there; ``%(name)s`` is a value the template fills in after
  the text is chosen.
- :data:`SAID`: the texts of the views and of the label tables (``labels``, ``forms``,
  ``charts``, the printed form's words the pages reuse), as the views write them; ``{}`` is a
  value, carried over into the English (``{0}``, ``{1}``... in order).

:func:`english` says a finished text in English: first these tables, then the rule messages
of :mod:`gateway.core.messages` (the items the services answer), else the text as it is.
``tests/gateway/console/test_english.py`` keeps every text of the templates and views in
these tables and walks every page in English.
"""

from __future__ import annotations

import re

from gateway.core.messages import item_in_english

#: The templates' texts and their English (keys exactly as the templates write them).
PAGES: dict[str, str] = {
    "Thời gian": "Time",
    "Nhà thuốc": "Pharmacy",
    "Số hóa đơn": "Invoice number",
    "Thuốc đã bán": "Drugs dispensed",
    "Dòng %(number)s": "Line %(number)s",
    "(thay thế)": "(substitute)",
    "%(count)s hộp quét": "%(count)s packs scanned",
    "Chưa có lần bán nào.": "Nothing has been dispensed yet.",
    "Chuyển giao": "Deliveries",
    "Nơi nhận": "Recipient",
    "Nội dung": "Content",
    "Trạng thái": "Status",
    "Số lần gửi": "Attempts",
    "Lỗi gần nhất": "Last error",
    "chờ lần gửi trước": "waiting for the previous delivery",
    "Chưa có chuyển giao nào.": "No deliveries yet.",
    "Loại đơn": "Prescription type",
    "Ngày kê": "Prescribed on",
    "Mua thuốc đến hết": "Dispensable until",
    "Cơ sở kê đơn": "Prescribing facility",
    "Đơn đã hủy lúc %(at)s. Lý do: %(reason)s":
        "The prescription was cancelled at %(at)s. Reason: %(reason)s",
    "Bệnh nhân": "Patient",
    "Họ tên": "Name",
    "Ngày sinh": "Date of birth",
    "Giới tính": "Sex",
    "Cân nặng": "Weight",
    "CCCD": "CCCD (citizen ID)",
    "Người giám hộ": "Guardian",
    "Địa chỉ": "Address",
    "Chẩn đoán:": "Diagnoses:",
    "Đợt dùng thuốc:": "Treatment periods:",
    "Cảnh báo": "Warnings",
    "Thuốc trong đơn": "Drugs prescribed",
    "Thuốc": "Drug",
    "Cách dùng": "Directions",
    "Kê đơn": "Prescribed",
    "Đã bán": "Dispensed",
    "Còn lại": "Remaining",
    "mã": "code",
    "Lời dặn:": "Advice:",
    "Từ ngày": "From",
    "Đến ngày": "To",
    "Xem": "Show",
    "Bảng điều khiển": "Console",
    "Cổng đơn thuốc điện tử": "E-prescription gateway",
    "Bỏ qua, đến nội dung chính": "Skip to the main content",
    "Chức năng chính": "Main functions",
    "Tra cứu đơn thuốc": "Look up a prescription",
    "Lịch sử bán thuốc": "Dispense history",
    "Đơn thuốc của cơ sở": "The facility's prescriptions",
    "Tổng quan": "Overview",
    "Nhật ký kiểm toán": "Audit log",
    "Nhật ký truy cập": "Access log",
    "Đơn trùng thuốc": "Overlapping prescriptions",
    "Toàn vẹn nhật ký": "Log integrity",
    "Đổi mật khẩu": "Change password",
    "Đăng xuất": "Sign out",
    "Cổng liên thông đơn thuốc điện tử quốc gia · Mọi thao tác đều được ghi nhật ký kiểm toán.":
        "National e-prescription gateway · Every action is recorded in the audit log.",
    "Lọc đơn thuốc": "Filter prescriptions",
    "Tất cả": "All",
    "Kê từ ngày": "Prescribed from",
    "CCCD bệnh nhân": "Patient's CCCD",
    "Lọc": "Filter",
    "Kết quả": "Result",
    "Mã đơn": "Code",
    "Loại": "Type",
    "Dòng còn thuốc": "Lines with drugs left",
    "Trang sau →": "Next page →",
    "Không có đơn thuốc nào phù hợp.": "No prescription matches.",
    "Đơn thuốc %(code)s": "Prescription %(code)s",
    "Lý do hủy": "Reason for cancelling",
    "← Danh sách đơn thuốc": "← List of prescriptions",
    "In đơn thuốc": "Print the prescription",
    "Tải bản PDF": "Download the PDF",
    "Các lần bán thuốc": "Dispenses",
    "Hủy đơn thuốc": "Cancel the prescription",
    "Hủy phần thuốc chưa bán. Nhà thuốc và hệ thống quốc gia sẽ được báo.":
        "Cancels what has not been dispensed. The pharmacy and the national system are told.",
    "Về trang chính": "Back to the home page",
    "Truy cập hồ sơ bệnh nhân": "Access to a patient's records",
    "Ai đã xem, in hoặc bán đơn thuốc của một người":
        "Who viewed, printed or dispensed a person's prescriptions",
    "Tra cứu theo CCCD": "Look up by CCCD",
    "CCCD của người bệnh": "The patient's CCCD",
    "12 chữ số. Việc tra cứu này cũng được ghi nhật ký.":
        "12 digits. This look-up is recorded in the log too.",
    "Tra cứu": "Look up",
    "Đơn vị": "Party",
    "Người dùng": "User",
    "Vai trò": "Role",
    "Thao tác": "Action",
    "Đơn thuốc": "Prescription",
    "Chưa ai xem, in hay bán đơn thuốc của người này.":
        "Nobody has viewed, printed or dispensed this person's prescriptions.",
    "Tìm sự kiện": "Search events",
    "Đơn vị thực hiện (mã client)": "Acting party (client id)",
    "Nhóm thao tác": "Action families",
    "Mã đơn thuốc": "Prescription code",
    "So khớp bằng mã băm trên máy chủ": "Matched by a keyed hash on the server",
    "Tìm": "Search",
    "Tải về": "Download",
    "Tải mọi sự kiện phù hợp:": "Download every matching event:",
    "NDJSON (cho audit verify)": "NDJSON (for audit verify)",
    "Sự kiện": "Events",
    "Người thực hiện": "Actor",
    "Đối tượng": "Object",
    "Chi tiết": "Details",
    "từ %(address)s": "from %(address)s",
    "Không có sự kiện nào phù hợp.": "No event matches.",
    "Tổng quan đơn thuốc toàn quốc": "National prescription overview",
    "Chọn khoảng thời gian": "Choose a period",
    "Đã hủy": "Cancelled",
    "Đơn có thuốc kiểm soát": "Prescriptions with controlled drugs",
    "Dòng thuốc": "Drug lines",
    "Số liệu:": "Figures:",
    "Chưa có dữ liệu": "No data yet",
    "Số sự kiện": "Events",
    "Thời điểm ký": "Signed at",
    "Gốc cây Merkle": "Merkle tree root",
    "Toàn vẹn nhật ký kiểm toán": "Integrity of the audit log",
    "Nhật ký là một cây Merkle (RFC 9162) được niêm phong định kỳ và ký bằng khóa của cổng. "
    "Trang này kiểm tra trên máy chủ, bằng đúng các bằng chứng mà lệnh <code>erx-gateway audit "
    "verify</code> dùng: chữ ký của bản tóm tắt mới nhất, và bằng chứng nhất quán từ bản tóm tắt "
    "trước đó.":
        "The log is a Merkle tree (RFC 9162), sealed periodically and signed with the "
        "gateway's key. This page checks it on the server with the very proofs <code>erx-gateway "
        "audit verify</code> uses: the signature of the latest tree head, and the consistency "
        "proof from the previous one.",
    "Nhật ký chưa được niêm phong lần nào.": "The log has not been sealed yet.",
    "Toàn vẹn.": "Intact.",
    "Chữ ký hợp lệ; nhật ký %(latest)s sự kiện nối tiếp đúng nhật ký %(previous)s sự kiện đã ký "
    "trước đó.": "The signature is valid; the log of %(latest)s events extends the log of "
                 "%(previous)s events signed before.",
    "Chữ ký hợp lệ; đây là bản tóm tắt đầu tiên, chưa có bản trước để so.":
        "The signature is valid; this is the first tree head, there is none before it to "
        "compare with.",
    "CẢNH BÁO: kiểm tra không đạt.": "WARNING: the check failed.",
    "Chữ ký của bản tóm tắt mới nhất không hợp lệ.":
        "The signature of the latest tree head is not valid.",
    "Nhật ký mới nhất không nối tiếp bản đã ký trước đó: lịch sử có thể đã bị sửa.":
        "The latest log does not extend the one signed before: its history may have been "
        "altered.",
    "Chi tiết kỹ thuật:": "Technical details:",
    "Bản tóm tắt mới nhất": "Latest tree head",
    "Bản tóm tắt trước đó": "Previous tree head",
    "Sự kiện đã ghi": "Events recorded",
    "Đã niêm phong": "Sealed",
    "Chờ niêm phong": "Waiting to be sealed",
    "Để kiểm tra độc lập, không cần tin máy chủ này: tải nhật ký dạng NDJSON ở trang <a "
    "href=\"%(audit)s\">Nhật ký kiểm toán</a> rồi chạy <code>erx-gateway audit verify --from "
    "export.ndjson --gateway URL --jwks jwks.json --tree-head head.json</code>.":
        "To check independently, without trusting this server: download the log as NDJSON on "
        "the <a href=\"%(audit)s\">Audit log</a> page, then run <code>erx-gateway audit verify "
        "--from export.ndjson --gateway URL --jwks jwks.json --tree-head head.json</code>.",
    "Đơn trùng thuốc kiểm soát": "Overlapping controlled-drug prescriptions",
    "<strong>%(count)s</strong> lần": "<strong>%(count)s</strong> times",
    "Không có.": "None.",
    "Đơn thuốc gây nghiện, hướng thần trùng thời gian điều trị":
        "Narcotic and psychotropic prescriptions with overlapping treatment days",
    "Phát hiện khi cơ sở gửi đơn: cùng một người (so khớp bằng mã băm CCCD) có đơn khác, ở bất kỳ "
    "cơ sở nào, trùng ngày điều trị với thuốc cùng hoạt chất hoặc cùng nhóm kiểm soát.":
        "Found when a facility submits: the same person (matched by a keyed hash of the CCCD) "
        "has another prescription, at any facility, whose treatment days overlap with a drug "
        "of the same ingredient or the same control class.",
    "Cơ sở liên quan nhiều nhất": "Facilities most often involved",
    "Người kê đơn liên quan nhiều nhất": "Prescribers most often involved",
    "Các trường hợp": "Cases",
    "Thời điểm": "Time",
    "Đơn gửi": "Submitted prescription",
    "Đơn đã có": "Existing prescription",
    "Trùng": "Overlap",
    "Từ chối": "Refused",
    "%(days)s ngày": "%(days)s days",
    "Không có trường hợp nào trong khoảng thời gian này.": "No case in this period.",
    "← Nhật ký kiểm toán": "← Audit log",
    "Đăng nhập": "Sign in",
    "Dành cho dược sĩ nhà thuốc, nhân viên phòng khám và thanh tra. Tài khoản do quản trị viên "
    "của cổng cấp.": "For pharmacists, clinic staff and inspectors. Accounts are given by the "
                     "gateway's administrator.",
    "Tên đăng nhập": "User name",
    "Mật khẩu": "Password",
    "Mật khẩu hiện tại": "Current password",
    "Mật khẩu mới": "New password",
    "Ít nhất %(count)s ký tự; nên là một câu dễ nhớ với bạn.":
        "At least %(count)s characters; a sentence you remember easily is a good choice.",
    "Nhập lại mật khẩu mới": "The new password again",
    "Sau khi đổi, các phiên đăng nhập khác của bạn sẽ kết thúc.":
        "Once it is changed, your other sessions end.",
    "Lịch sử bán thuốc của nhà thuốc": "The pharmacy's dispense history",
    "Lần bán": "Dispenses",
    "HĐ %(invoice)s": "invoice %(invoice)s",
    "Nhà thuốc chưa bán theo đơn nào.": "The pharmacy has not dispensed any prescription yet.",
    "Mã đơn thuốc hoặc mã QR trên đơn": "Prescription code or the QR code on the paper",
    "Gõ mã đơn (ví dụ 79001ABC1234-c) hoặc quét mã QR in trên đơn bằng máy quét.":
        "Type the code (e.g. 79001ABC1234-c) or scan the QR code printed on the prescription.",
    "Xem lịch sử bán thuốc của nhà thuốc": "See the pharmacy's dispense history",
    "← Tra cứu đơn khác": "← Look up another prescription",
    "Bán thuốc theo đơn": "Dispense",
    "Dòng %(number)s: %(name)s — còn lại %(remaining)s %(unit)s":
        "Line %(number)s: %(name)s — %(remaining)s %(unit)s remaining",
    "Số lượng bán (%(unit)s)": "Quantity dispensed (%(unit)s)",
    "đơn vị": "units",
    "Thuốc thay thế (nếu có)": "Substitute (if any)",
    "Bán đúng thuốc đã kê": "The drug as prescribed",
    "Mã hộp thuốc đã quét (GS1, mỗi hộp một dòng)": "Packs scanned (GS1, one pack a line)",
    "Ghi nhận bán thuốc": "Record the dispense",
    "Đơn thuốc này không còn bán được (%(status)s).":
        "This prescription can no longer be dispensed (%(status)s).",
    "Các lần bán của nhà thuốc này": "This pharmacy's dispenses",
}

#: Texts whose English has a singular and a plural (``ngettext``): the Vietnamese has one form.
PLURALS: dict[str, tuple[str, str]] = {
    "Chưa ghi nhận: %(num)s lỗi cần sửa": ("Not recorded: %(num)s problem to fix",
                                          "Not recorded: %(num)s problems to fix"),
}

#: The views' and label tables' texts (``{}`` a value) and their English.
SAID: tuple[tuple[str, str], ...] = (
    # pages: error pages and the CSRF refusal
    ("Yêu cầu không hợp lệ.", "The request is not valid."),
    ("Bạn không có quyền thực hiện thao tác này.", "You are not allowed to do this."),
    ("Không tìm thấy trang hoặc đơn thuốc này.", "This page or prescription was not found."),
    ("Thao tác này không được hỗ trợ ở đây.", "This action is not supported here."),
    ("Thao tác không thực hiện được với trạng thái hiện tại.",
     "This cannot be done in the current state."),
    ("Dữ liệu gửi lên quá lớn.", "What was sent is too large."),
    ("Dữ liệu nhập chưa hợp lệ.", "What was entered is not valid."),
    ("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau.",
     "Too many attempts. Please try again later."),
    ("Đã có lỗi hệ thống. Vui lòng thử lại sau.", "A system error occurred. Please try again "
                                                  "later."),
    ("Hệ thống tạm thời không phục vụ được. Vui lòng thử lại sau.",
     "The system is unavailable for now. Please try again later."),
    ("Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF), nên không có gì được thay đổi. Hãy tải "
     "lại trang rồi gửi lại.", "The form has expired or lacks its protection token (CSRF), so "
                              "nothing was changed. Reload the page and send it again."),
    ("Biểu mẫu không hợp lệ", "The form is not valid"),
    ("Không có quyền", "Not allowed"),
    ("Không tìm thấy", "Not found"),
    # account
    ("Nhập tên đăng nhập", "Enter your user name"),
    ("Nhập mật khẩu", "Enter your password"),
    ("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {} giây.",
     "Too many failed sign-ins. Please try again in {0} seconds."),
    ("Sai tên đăng nhập hoặc mật khẩu, hoặc tài khoản đã bị khóa.",
     "Wrong user name or password, or the account is disabled."),
    ("Bạn đã đăng xuất.", "You have signed out."),
    ("Nhập sai mật khẩu quá nhiều lần. Vui lòng thử lại sau {} giây.",
     "Too many wrong passwords. Please try again in {0} seconds."),
    ("Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã kết thúc.",
     "The password was changed. Your other sessions have ended."),
    # pharmacy
    ("Nhập hoặc quét mã đơn thuốc", "Type or scan a prescription code"),
    ("Không tìm thấy đơn thuốc có mã này", "No prescription has this code"),
    ("Đã ghi nhận lần bán {} ({}).", "Dispense {0} recorded ({1})."),
    ("dòng {}: {}", "line {0}: {1}"),
    # clinic
    ("Trạng thái không hợp lệ", "Not a status"),
    ("CCCD gồm 12 chữ số", "A CCCD is 12 digits"),
    ("Đã hủy đơn thuốc {}.", "Prescription {0} was cancelled."),
    # inspector
    ("Ngày kết thúc phải sau ngày bắt đầu", "The last day must come after the first"),
    ("Tối đa {} ký tự", "At most {0} characters"),
    ("Thao tác không có trong danh sách", "Not an action of the list"),
    ("CCCD hoặc mã định danh y tế: chữ và số, tối đa 32 ký tự",
     "A CCCD or health identifier: letters and digits, at most 32"),
    ("Chọn định dạng CSV hoặc NDJSON", "Choose CSV or NDJSON"),
    ("Phải là con trỏ của trang trước", "must be a cursor from the previous page"),
    ("Phải là ngày từ `from` trở đi", "must be a day on or after `from`"),
    ("Khoảng thời gian tối đa {} ngày (đã chọn {} ngày)",
     "a period of at most {0} days ({1} days chosen)"),
    # forms
    ("Số lượng phải là một số (ví dụ 10 hoặc 2,5)", "The quantity must be a number (e.g. 10 or "
                                                    "2.5)"),
    ("Nhập số lượng bán cho dòng có hộp thuốc đã quét",
     "Enter the quantity dispensed for a line with scanned packs"),
    ("Dòng {}, số lượng bán", "Line {0}, quantity dispensed"),
    ("Dòng {}, mã hộp thuốc", "Line {0}, packs"),
    ("Dòng {}, thuốc thay thế", "Line {0}, substitute"),
    ("Hộp thứ {}: {}", "Pack {0}: {1}"),
    ("ngày/tháng/năm, ví dụ 07/12/2026", "day/month/year, e.g. 07/12/2026"),
    ("Ngày không hợp lệ (ngày/tháng/năm, ví dụ 07/12/2026)",
     "Not a date (day/month/year, e.g. 07/12/2026)"),
    # the prescription's words (labels, and the printed form's the pages reuse)
    ("Nhân viên phòng khám", "Clinic staff"), ("Bác sĩ", "Doctor"),
    ("Dược sĩ nhà thuốc", "Pharmacist"), ("Thanh tra", "Inspector"),
    ("Quản trị", "Administrator"), ("Hệ thống", "System"), ("Chưa đăng nhập", "Not signed in"),
    ("Chưa bán", "Not dispensed"), ("Đã bán một phần", "Partly dispensed"),
    ("Đã bán đủ", "Fully dispensed"), ("Đã hủy", "Cancelled"), ("Hết hạn", "Expired"),
    ("Thuốc thường (c)", "Basic (c)"), ("Gây nghiện (n)", "Narcotic (n)"),
    ("Hướng thần (h)", "Psychotropic (h)"), ("Y học cổ truyền (y)", "Traditional medicine (y)"),
    ("Không xác định", "Unknown"), ("Nam", "Male"), ("Nữ", "Female"),
    ("Thuốc gây nghiện", "Narcotic"), ("Thuốc hướng thần", "Psychotropic"),
    ("Tiền chất", "Precursor"), ("Phóng xạ", "Radioactive"),
    ("Đang chờ gửi", "Waiting"), ("Đang gửi", "Sending"), ("Đã gửi", "Delivered"),
    ("Bị từ chối", "Refused"), ("Hết hạn gửi lại", "Retries exhausted"),
    ("Không gửi (nhà thuốc chưa đăng ký webhook)",
     "Not sent (the pharmacy has no webhook)"),
    ("Đơn thuốc mới", "New prescription"), ("Hủy đơn thuốc", "Prescription cancelled"),
    ("Báo cáo bán thuốc", "Dispense report"),
    ("Thành công", "Success"), ("Thất bại", "Failure"),
    ("Đăng nhập", "Sign in"), ("Đăng xuất", "Sign out"),
    ("Tạo người dùng", "User created"), ("Khóa người dùng", "User disabled"),
    ("Mở khóa người dùng", "User enabled"), ("Đổi mật khẩu", "Password changed"),
    ("Tạo đơn vị", "Party created"), ("Sửa thông tin đơn vị", "Party updated"),
    ("Khóa đơn vị", "Party disabled"), ("Mở khóa đơn vị", "Party enabled"),
    ("Đổi khóa bí mật đơn vị", "Party secret rotated"),
    ("Tạo khóa ký", "Signing key created"), ("Thay khóa ký", "Signing key rotated"),
    ("Nhập danh mục thuốc", "Drug catalog imported"),
    ("Gửi đơn thuốc", "Prescription submitted"), ("Từ chối đơn thuốc", "Prescription refused"),
    ("Từ chối đơn trùng thuốc kiểm soát", "Overlapping controlled prescription refused"),
    ("Cảnh báo đơn trùng thuốc", "Overlapping prescription warned"),
    ("Xem đơn thuốc", "Prescription viewed"), ("In đơn thuốc", "Prescription printed"),
    ("Bán thuốc", "Dispensed"),
    ("Chuyển giao thành công", "Delivery succeeded"), ("Chuyển giao thất bại", "Delivery failed"),
    ("Không chuyển giao (không có webhook)", "Not delivered (no webhook)"),
    ("Xem nhật ký truy cập của bệnh nhân", "Patient access log viewed"),
    ("Mất số thứ tự nhật ký", "Log sequence number lost"),
    ("Mọi thao tác trên đơn thuốc", "Every action on prescriptions"),
    ("Đăng nhập, đăng xuất", "Sign-ins and sign-outs"),
    ("Mọi thao tác trên người dùng", "Every action on users"),
    ("Mọi thao tác trên đơn vị", "Every action on parties"),
    ("Mọi chuyển giao", "Every delivery"),
    ("Hệ thống đơn thuốc quốc gia", "National prescription system"),
    ("Nhà thuốc {}", "Pharmacy {0}"),
    ("ĐƠN THUỐC", "PRESCRIPTION"), ("ĐƠN THUỐC “N”", "PRESCRIPTION “N”"),
    ("ĐƠN THUỐC “H”", "PRESCRIPTION “H”"), ("ĐƠN THUỐC Y HỌC CỔ TRUYỀN",
                                          "TRADITIONAL MEDICINE PRESCRIPTION"),
    ("{} tuổi", "{0} years"), ("{} tháng tuổi", "{0} months"),
    ("từ {} đến {}", "from {0} to {1}"),
    # charts
    ("Đơn thuốc theo ngày", "Prescriptions per day"),
    ("Tất cả đơn", "All prescriptions"), ("Có thuốc kiểm soát", "With controlled drugs"),
    ("{}: {} đơn trong {} ngày", "{0}: {1} prescriptions in {2} days"),
    ("Ngày", "Day"),
    ("Đơn thuốc theo loại", "Prescriptions per type"), ("Đơn thuốc", "Prescriptions"),
    ("Loại đơn", "Type"), ("Số đơn", "Prescriptions"),
    ("Thuốc kiểm soát đặc biệt: số lượng kê và đã bán",
     "Specially controlled drugs: quantities prescribed and dispensed"),
    ("Đã kê", "Prescribed"), ("Đã bán", "Dispensed"), ("Thuốc", "Drug"),
    ("Số lượng kê", "Quantity prescribed"), ("Số lượng đã bán", "Quantity dispensed"),
    ("{}: {} thuốc", "{0}: {1} drugs"),
    ("Cơ sở kê đơn nhiều nhất", "Facilities prescribing most"),
    ("Cơ sở", "Facility"), ("{}: {} cơ sở", "{0}: {1} facilities"),
    ("Thuốc được kê nhiều nhất", "Drugs prescribed most"),
    ("Tình trạng chuyển giao (đang chờ, bị từ chối, hết hạn gửi lại)",
     "Deliveries (waiting, refused, retries exhausted)"),
    ("Hệ thống quốc gia", "National system"),
    ("Chưa có dữ liệu", "No data yet"),
)

_VALUE = re.compile(r"\\\{\\\}")
_SAID_EXACT = {vi: en for vi, en in SAID if "{}" not in vi}
# The longest wording first: "{} tháng tuổi" before "{} tuổi".
_SAID_VALUES = tuple((re.compile(_VALUE.sub("(.+?)", re.escape(vi)), re.S), en)
                     for vi, en in sorted((pair for pair in SAID if "{}" in pair[0]),
                                          key=lambda pair: -len(pair[0].replace("{}", ""))))


def page_text(text: str) -> str:
    """A template's text in English (the text itself when the table lacks it: the test of
    the tables finds that)."""
    return PAGES.get(text, text)


def page_plural(singular: str, plural: str, count: int) -> str:
    """A template's text with a count, in English."""
    forms = PLURALS.get(singular)
    if forms is None:
        return singular if count == 1 else plural
    return forms[0] if count == 1 else forms[1]


def english(text: str, *, depth: int = 2) -> str:
    """A finished Vietnamese text of the console (a view's message, a label, a rule message
    the services answered) in English; a value inside it is said in English too when it is
    one of the console's texts. Unknown text (data) comes back as it is."""
    if not text:
        return text
    found = _SAID_EXACT.get(text) or PAGES.get(text)
    if found is not None:
        return found
    for pattern, en in _SAID_VALUES:
        match = pattern.fullmatch(text)
        if match:
            values = [english(value, depth=depth - 1) if depth else value
                      for value in match.groups()]
            return en.format(*values)
    return item_in_english(text) or text
