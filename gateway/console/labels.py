"""The Vietnamese words the console shows for the gateway's codes (pure tables; their English
is in :mod:`gateway.console.english`)."""

from __future__ import annotations

ROLES = {"clinic": "Nhân viên phòng khám", "doctor": "Bác sĩ", "pharmacy": "Dược sĩ nhà thuốc",
         "regulator": "Thanh tra", "admin": "Quản trị", "system": "Hệ thống",
         "anonymous": "Chưa đăng nhập"}
STATUSES = {"issued": "Chưa bán", "partially_dispensed": "Đã bán một phần",
            "dispensed": "Đã bán đủ", "cancelled": "Đã hủy", "expired": "Hết hạn"}
TYPES = {"c": "Thuốc thường (c)", "n": "Gây nghiện (n)", "h": "Hướng thần (h)",
         "y": "Y học cổ truyền (y)"}
SEXES = {1: "Không xác định", 2: "Nam", 3: "Nữ"}
CONTROL_CLASSES = {"none": "", "narcotic": "Thuốc gây nghiện", "psychotropic": "Thuốc hướng thần",
                   "precursor": "Tiền chất", "radioactive": "Phóng xạ"}
DELIVERY_STATES = {"pending": "Đang chờ gửi", "in_flight": "Đang gửi", "delivered": "Đã gửi",
                   "failed_permanent": "Bị từ chối", "dead": "Hết hạn gửi lại",
                   "skipped": "Không gửi (nhà thuốc chưa đăng ký webhook)"}
DELIVERY_EVENTS = {"prescription.issued": "Đơn thuốc mới",
                   "prescription.cancelled": "Hủy đơn thuốc",
                   "dispense.recorded": "Báo cáo bán thuốc"}
OUTCOMES = {"success": "Thành công", "failure": "Thất bại"}
ACTIONS = {
    "auth.login": "Đăng nhập", "auth.logout": "Đăng xuất",
    "user.created": "Tạo người dùng", "user.disabled": "Khóa người dùng",
    "user.enabled": "Mở khóa người dùng", "user.password_changed": "Đổi mật khẩu",
    "party.created": "Tạo đơn vị", "party.updated": "Sửa thông tin đơn vị",
    "party.disabled": "Khóa đơn vị", "party.enabled": "Mở khóa đơn vị",
    "party.secret_rotated": "Đổi khóa bí mật đơn vị",
    "key.generated": "Tạo khóa ký", "key.rotated": "Thay khóa ký",
    "catalog.imported": "Nhập danh mục thuốc",
    "prescription.submitted": "Gửi đơn thuốc", "prescription.refused": "Từ chối đơn thuốc",
    "prescription.overlap_refused": "Từ chối đơn trùng thuốc kiểm soát",
    "prescription.overlap_warned": "Cảnh báo đơn trùng thuốc",
    "prescription.viewed": "Xem đơn thuốc", "prescription.printed": "In đơn thuốc",
    "prescription.dispensed": "Bán thuốc", "prescription.cancelled": "Hủy đơn thuốc",
    "delivery.delivered": "Chuyển giao thành công", "delivery.failed": "Chuyển giao thất bại",
    "delivery.skipped": "Không chuyển giao (không có webhook)",
    "patient.access_log_viewed": "Xem nhật ký truy cập của bệnh nhân",
    "audit.sequence_lost": "Mất số thứ tự nhật ký",
}
#: The action families the audit search offers besides single actions.
ACTION_FAMILIES = {"prescription.*": "Mọi thao tác trên đơn thuốc", "auth.*": "Đăng nhập, đăng xuất",
                   "user.*": "Mọi thao tác trên người dùng", "party.*": "Mọi thao tác trên đơn vị",
                   "delivery.*": "Mọi chuyển giao"}


def delivery_target(target: str) -> str:
    if target == "registry":
        return "Hệ thống đơn thuốc quốc gia"
    if target.startswith("pharmacy:"):
        return f"Nhà thuốc {target.split(':', 1)[1]}"
    return target


def number(value: object, lang: str = "vi") -> str:
    """A quantity as people write it: no needless decimals; in Vietnamese a decimal comma and
    a dot between thousands, in English (``lang="en"``) the other way round."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    text = f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
    return text if lang == "en" else text.translate(_VIETNAMESE_MARKS)


_VIETNAMESE_MARKS = str.maketrans({",": ".", ".": ","})
