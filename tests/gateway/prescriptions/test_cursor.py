"""The one page cursor of prescription lists (the API's list and the console's history)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.errors import Invalid
from gateway.prescriptions.cursor import decode_cursor, encode_cursor


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=7))])),
       st.text(min_size=1, max_size=40))
def test_a_cursor_gives_back_what_it_holds(issued_at: datetime, code: str) -> None:
    after_time, after_code = decode_cursor(encode_cursor(issued_at, code))
    assert (after_time, after_code) == (issued_at, code)
    assert after_time.tzinfo is not None


@pytest.mark.parametrize("cursor", ["", "!!", "bm90IGpzb24", "WzFd", "WyJ5ZXN0ZXJkYXkiLCAiYSJd"])
def test_anything_else_is_refused_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(Invalid) as raised:
        decode_cursor(cursor)
    assert raised.value.errors[0]["parameter"] == "cursor"
