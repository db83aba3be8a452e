"""The catalog in memory: resolve any identifier of a product, and search by name.

:class:`CatalogIndex` is an immutable snapshot built from :class:`~drug_catalog.model.Drug`
records. Everything that answers ``resolve(identifier) -> Drug`` (this index, the cached
MongoDB-backed catalog of ``drug_catalog.cache``) follows the :class:`Catalog` protocol, so
prescription validation and dispensing take any of them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from drug_catalog.errors import AmbiguousIdentifier, BadCheckDigit, InvalidIdentifier, UnknownDrug
from drug_catalog.identifiers import GTIN_LENGTHS, gtin_check_digit, normalize_code
from drug_catalog.model import Drug
from drug_catalog.text import fold, tokens

DEFAULT_SEARCH_LIMIT = 20
MAX_SEARCH_LIMIT = 100


@runtime_checkable
class Catalog(Protocol):
    """What validation and dispensing need from a catalog."""

    def resolve(self, identifier: str) -> Drug:
        """The one product named by a national code, registration number or GTIN."""
        ...

    def get(self, national_code: str) -> Drug | None:
        """The product with this national code, or None."""
        ...

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Drug]:
        """Products whose name or active ingredients match ``query``, best first."""
        ...


def resolve_identifier(identifier: str, *, by_code: Callable[[str], Iterable[Drug]],
                       by_registration: Callable[[str], Iterable[Drug]],
                       by_gtin: Callable[[str], Iterable[Drug]]) -> Drug:
    """The resolution rule shared by every catalog implementation.

    ``identifier`` is normalised (:func:`~drug_catalog.identifiers.normalize_code`) and
    looked up as a national code and as a registration number; an all-digit value of a GTIN
    length with a correct check digit is also looked up as a GTIN (14 digits). The look-up
    functions receive the normalised key and return the products found.

    Raises:
        InvalidIdentifier: empty or not a string.
        BadCheckDigit: a value of a GTIN's shape whose check digit is wrong and that nothing
            else matched.
        UnknownDrug: nothing matched.
        AmbiguousIdentifier: more than one product matched.
    """
    if not isinstance(identifier, str) or not identifier.strip():
        raise InvalidIdentifier(str(identifier), "empty")
    key = normalize_code(identifier)
    found: dict[str, Drug] = {}
    for drug in (*by_code(key), *by_registration(key)):
        found[drug.national_code] = drug
    if key.isascii() and key.isdigit() and len(key) in GTIN_LENGTHS:
        expected = gtin_check_digit(key[:-1])
        if int(key[-1]) == expected:
            for drug in by_gtin(key.zfill(14)):
                found[drug.national_code] = drug
        elif not found:
            raise BadCheckDigit(identifier, expected=expected, found=int(key[-1]))
    if not found:
        raise UnknownDrug(identifier)
    if len(found) > 1:
        raise AmbiguousIdentifier(identifier, found)
    return next(iter(found.values()))


class _Entry:
    __slots__ = ("drug", "name_tokens", "ingredient_tokens", "other_tokens", "folded_name")

    def __init__(self, drug: Drug) -> None:
        self.drug = drug
        self.name_tokens = tuple(tokens(drug.name))
        self.folded_name = " ".join(self.name_tokens)
        self.ingredient_tokens = tuple(token for item in drug.active_ingredients
                                       for token in tokens(item.name))
        self.other_tokens = tuple(tokens(drug.registration_number))


def _token_score(query: str, candidates: tuple[str, ...], exact: float, prefix: float) -> float:
    best = 0.0
    for token in candidates:
        if token == query:
            return exact
        if token.startswith(query):
            best = prefix
    return best


class CatalogIndex:
    """An immutable in-memory catalog: identifier maps and a prefix search index.

    Building costs O(products); ``resolve`` and ``get`` are dictionary look-ups; ``search``
    looks query words up as prefixes in a sorted token list.
    """

    def __init__(self, drugs: Iterable[Drug]) -> None:
        """Index ``drugs``; a later record with the same national code replaces an earlier one."""
        by_code: dict[str, Drug] = {}
        for drug in drugs:
            by_code[drug.national_code] = drug
        # Positions follow a static rank (short names first) so ties in search break the same
        # way everywhere.
        ordered = sorted(by_code.values(), key=lambda d: (len(d.name), fold(d.name),
                                                          d.national_code))
        self._entries = [_Entry(drug) for drug in ordered]
        self._by_code = by_code
        self._by_registration: dict[str, list[Drug]] = {}
        self._by_gtin: dict[str, list[Drug]] = {}
        postings: dict[str, list[int]] = {}
        for position, entry in enumerate(self._entries):
            drug = entry.drug
            self._by_registration.setdefault(drug.registration_number, []).append(drug)
            for gtin in drug.gtins:
                self._by_gtin.setdefault(gtin, []).append(drug)
            for token in {*entry.name_tokens, *entry.ingredient_tokens, *entry.other_tokens}:
                postings.setdefault(token, []).append(position)
        self._postings = postings
        self._sorted_tokens = sorted(postings)

    # -------------------------------------------------------------------- collection

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Drug]:
        return iter(self._by_code.values())

    def __contains__(self, national_code: object) -> bool:
        return isinstance(national_code, str) and normalize_code(national_code) in self._by_code

    # -------------------------------------------------------------------- look-ups

    def get(self, national_code: str) -> Drug | None:
        """The product with this national code (compared in canonical form), or None."""
        return self._by_code.get(normalize_code(national_code))

    def resolve(self, identifier: str) -> Drug:
        """The one product named by ``identifier``.

        ``identifier`` may be a national code, a registration number (any spelling that
        normalises to it: case, look-alike ``Đ``, spaces), or a GTIN of 8, 12, 13 or 14 digits.
        Every interpretation is tried; exactly one product must answer.

        Raises:
            InvalidIdentifier: empty or not a string.
            BadCheckDigit: an all-digit value of a GTIN length whose check digit is wrong and
                that names no product as a code or registration number (a typo, not a miss).
            UnknownDrug: a well-formed identifier no product has.
            AmbiguousIdentifier: it names more than one product.
        """
        return resolve_identifier(
            identifier,
            by_code=lambda code: [drug] if (drug := self._by_code.get(code)) else [],
            by_registration=lambda number: self._by_registration.get(number, []),
            by_gtin=lambda gtin: self._by_gtin.get(gtin, []))

    def by_gtin(self, gtin: str) -> list[Drug]:
        """Products carrying this (already 14-digit) GTIN: normally one, none if unknown."""
        return list(self._by_gtin.get(gtin, ()))

    # -------------------------------------------------------------------- search

    def _matching_positions(self, query_token: str) -> set[int]:
        start = bisect.bisect_left(self._sorted_tokens, query_token)
        positions: set[int] = set()
        for index in range(start, len(self._sorted_tokens)):
            token = self._sorted_tokens[index]
            if not token.startswith(query_token):
                break
            positions.update(self._postings[token])
        return positions

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Drug]:
        """Products whose name, active ingredients or registration number match every word of
        ``query`` as a prefix, case- and diacritics-insensitively (``thuoc`` finds ``thuốc``),
        best first.

        Ranking: whole-word matches before prefix matches, matches in the name before matches
        in the active ingredients, a name that starts with the query first, active products
        before inactive ones; ties go to the shorter name.

        Args:
            query: free text; punctuation is ignored.
            limit: at most this many results (1 to :data:`MAX_SEARCH_LIMIT`).

        Raises:
            ValueError: ``limit`` is out of range.
        """
        if not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"limit must be 1 to {MAX_SEARCH_LIMIT}, got {limit}")
        words = list(dict.fromkeys(tokens(query)))
        if not words:
            return []
        # Longest words first: they are the most selective, so the intersection shrinks fast.
        candidates: set[int] | None = None
        for word in sorted(words, key=len, reverse=True):
            positions = self._matching_positions(word)
            candidates = positions if candidates is None else candidates & positions
            if not candidates:
                return []
        assert candidates is not None
        phrase = " ".join(words)
        scored = []
        for position in candidates:
            entry = self._entries[position]
            score = 0.0
            for word in words:
                score += max(_token_score(word, entry.name_tokens, 6.0, 3.0),
                             _token_score(word, entry.ingredient_tokens, 2.0, 1.5),
                             _token_score(word, entry.other_tokens, 1.0, 1.0))
            if entry.folded_name.startswith(phrase):
                score += 1.5
            if entry.drug.status == "active":
                score += 0.5
            scored.append((-score, position))
        return [self._entries[position].drug for _, position in sorted(scored)[:limit]]
