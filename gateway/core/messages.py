"""Messages of the request edge in both languages: marshmallow's and webargs' English
defaults (query and path parameters, request-level fields) as (Vietnamese, English) pairs.

The gateway's own rule messages are Vietnamese (docs/rules.md); what the libraries say in
English is matched here and said again in both languages, so no answer mixes a Vietnamese
title with a library's English sentence.
"""

from __future__ import annotations

import re

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
