"""The catalog in memory: resolve any identifier of a product, and search by name.

:class:`CatalogIndex` is an immutable snapshot built from :class:`~drug_catalog.model.Drug`
records. Everything that answers ``resolve(identifier) -> Drug`` (this index, the cached
MongoDB-backed catalog of ``drug_catalog.cache``) follows the :class:`Catalog` protocol, so
prescription validation and dispensing take any of them.
"""

from __future__ import annotations

import bisect
import heapq
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
    __slots__ = ("drug", "folded_name", "ingredient_tokens", "name_tokens", "other_tokens")

    def __init__(self, drug: Drug) -> None:
        self.drug = drug
        self.name_tokens = tuple(tokens(drug.name))
        self.folded_name = " ".join(self.name_tokens)
        self.ingredient_tokens = tuple(token for item in drug.active_ingredients
                                       for token in tokens(item.name))
        self.other_tokens = tuple(tokens(drug.registration_number))


# Search fields: words of the name, of the active ingredients, of the registration number, and
# the name's first word (a name that starts with the query ranks higher).
_NAME, _INGREDIENT, _OTHER, _FIRST = range(4)
# Points of a query word found in a field: (whole word, prefix).
_POINTS = {_NAME: (6.0, 3.0), _INGREDIENT: (2.0, 1.5), _OTHER: (1.0, 1.0)}
_STARTS_BONUS = 1.5
_ACTIVE_BONUS = 0.5


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
        fields: tuple[dict[str, list[int]], ...] = ({}, {}, {}, {})
        inactive = set()
        for position, entry in enumerate(self._entries):
            drug = entry.drug
            self._by_registration.setdefault(drug.registration_number, []).append(drug)
            for gtin in drug.gtins:
                self._by_gtin.setdefault(gtin, []).append(drug)
            for token in {*entry.name_tokens, *entry.ingredient_tokens, *entry.other_tokens}:
                postings.setdefault(token, []).append(position)
            for field, words in ((_NAME, entry.name_tokens), (_INGREDIENT, entry.ingredient_tokens),
                                 (_OTHER, entry.other_tokens), (_FIRST, entry.name_tokens[:1])):
                for token in set(words):
                    fields[field].setdefault(token, []).append(position)
            if drug.status != "active":
                inactive.add(position)
        self._postings = postings
        self._fields = fields
        self._inactive = frozenset(inactive)
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

    def _expand(self, word: str) -> list[str]:
        """Indexed tokens starting with ``word`` (``word`` itself first when indexed)."""
        start = bisect.bisect_left(self._sorted_tokens, word)
        matching = []
        for index in range(start, len(self._sorted_tokens)):
            token = self._sorted_tokens[index]
            if not token.startswith(word):
                break
            matching.append(token)
        return matching

    def _union(self, postings: dict[str, list[int]], tokens_: Iterable[str]) -> set[int]:
        positions: set[int] = set()
        for token in tokens_:
            positions.update(postings.get(token, ()))
        return positions

    def search(self, query: str, limit: int = DEFAULT_SEARCH_LIMIT) -> list[Drug]:
        """Products whose name, active ingredients or registration number match every word of
        ``query`` as a prefix, case- and diacritics-insensitively (``thuoc`` finds ``thuốc``),
        best first.

        Ranking: each query word scores the best of: a whole word of the name (6), a prefix of
        a name word (3), a whole active-ingredient word (2), a prefix of one (1.5), a part of
        the registration number (1); a name that starts with the query adds 1.5, an active
        product 0.5. Ties go to the shorter name, then alphabetical order.

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
        positions = (self._rank_one_word(words[0], limit) if len(words) == 1
                     else self._rank_words(words, limit))
        return [self._entries[position].drug for position in positions]

    def _rank_one_word(self, word: str, limit: int) -> list[int]:
        # Set operations instead of scoring each candidate: a three-letter prefix can match a
        # tenth of the national registry, and this keeps such a query in milliseconds.
        matching = self._expand(word)
        if not matching:
            return []
        exact = matching[:1] if matching[0] == word else []
        prefixes = matching[len(exact):]
        tiers: list[tuple[float, set[int]]] = []
        taken: set[int] = set()
        for field in (_NAME, _INGREDIENT, _OTHER):
            whole, partial = _POINTS[field]
            for points, words_ in ((whole, exact), (partial, prefixes)):
                positions = self._union(self._fields[field], words_) - taken
                if positions:
                    tiers.append((points, positions))
                    taken |= positions
        starts = self._union(self._fields[_FIRST], matching)
        groups: dict[float, list[set[int]]] = {}
        for points, positions in tiers:
            for bonus, part in ((_STARTS_BONUS, positions & starts), (0.0, positions - starts)):
                groups.setdefault(points + bonus + _ACTIVE_BONUS, []).append(part - self._inactive)
                groups.setdefault(points + bonus, []).append(part & self._inactive)
        ranked: list[int] = []
        for score in sorted(groups, reverse=True):
            group = set().union(*groups[score])
            if group:
                ranked.extend(heapq.nsmallest(limit - len(ranked), group))
                if len(ranked) >= limit:
                    break
        return ranked

    def _word_points(self, word: str) -> dict[int, float]:
        """Position -> the best points ``word`` earns there (see :meth:`search`)."""
        matching = self._expand(word)
        exact = matching[:1] if matching and matching[0] == word else []
        prefixes = matching[len(exact):]
        points: dict[int, float] = {}
        # Lowest points first: a later layer overwrites, so each position keeps its best.
        for field, words_, value in ((_OTHER, matching, _POINTS[_OTHER][1]),
                                     (_INGREDIENT, prefixes, _POINTS[_INGREDIENT][1]),
                                     (_INGREDIENT, exact, _POINTS[_INGREDIENT][0]),
                                     (_NAME, prefixes, _POINTS[_NAME][1]),
                                     (_NAME, exact, _POINTS[_NAME][0])):
            if words_:
                points.update(dict.fromkeys(self._union(self._fields[field], words_), value))
        return points

    def _rank_words(self, words: list[str], limit: int) -> list[int]:
        per_word = sorted((self._word_points(word) for word in words), key=len)
        if not per_word[0]:
            return []
        candidates = set(per_word[0]).intersection(*per_word[1:])
        scores = {p: sum(points[p] for points in per_word) for p in candidates}
        phrase = " ".join(words)
        for p in self._union(self._fields[_FIRST], self._expand(words[0])) & candidates:
            if self._entries[p].folded_name.startswith(phrase):
                scores[p] += _STARTS_BONUS
        for p in candidates - self._inactive:
            scores[p] += _ACTIVE_BONUS
        return heapq.nsmallest(limit, scores, key=lambda p: (-scores[p], p))

    def score(self, position: int, words: list[str]) -> float:
        """The ranking score of the product at ``position`` for query ``words`` (see
        :meth:`search`); 0 when a word matches nothing."""
        entry = self._entries[position]
        total = 0.0
        for word in words:
            best = max(_token_score(word, entry.name_tokens, *_POINTS[_NAME]),
                       _token_score(word, entry.ingredient_tokens, *_POINTS[_INGREDIENT]),
                       _token_score(word, entry.other_tokens, *_POINTS[_OTHER]))
            if not best:
                return 0.0
            total += best
        if entry.folded_name.startswith(" ".join(words)):
            total += _STARTS_BONUS
        if entry.drug.status == "active":
            total += _ACTIVE_BONUS
        return total
