"""The catalog in memory: resolve any identifier of a product, and search by name.

:class:`CatalogIndex` is an immutable snapshot built from :class:`~drug_catalog.model.Drug`
records; :meth:`CatalogIndex.with_changes` derives the next snapshot from a few changed
products without rebuilding. Everything that answers ``resolve(identifier) -> Drug`` (this index, the cached
MongoDB-backed catalog of ``drug_catalog.cache``) follows the :class:`Catalog` protocol, so
prescription validation and dispensing take any of them.
"""

from __future__ import annotations

import bisect
import heapq
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

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
    __slots__ = ("drug", "folded_name", "ingredient_tokens", "name_tokens", "other_tokens", "rank")

    def __init__(self, drug: Drug, name_tokens: tuple[str, ...],
                 ingredient_tokens: tuple[str, ...], other_tokens: tuple[str, ...],
                 folded: str) -> None:
        self.drug = drug
        self.name_tokens = name_tokens
        self.folded_name = " ".join(name_tokens)
        self.ingredient_tokens = ingredient_tokens
        self.other_tokens = other_tokens
        # The static rank (short names first): ties in search break the same way everywhere.
        self.rank = (len(drug.name), folded, drug.national_code)

    def fields(self) -> tuple[tuple[str, ...], ...]:
        """The tokens of each search field, in the order of ``_NAME`` ... ``_FIRST``."""
        return (self.name_tokens, self.ingredient_tokens, self.other_tokens,
                self.name_tokens[:1])


# Search fields: words of the name, of the active ingredients, of the registration number, and
# the name's first word (a name that starts with the query ranks higher).
_NAME, _INGREDIENT, _OTHER, _FIRST = range(4)
# Points of a query word found in a field: (whole word, prefix).
_POINTS = {_NAME: (6.0, 3.0), _INGREDIENT: (2.0, 1.5), _OTHER: (1.0, 1.0)}
_STARTS_BONUS = 1.5
_ACTIVE_BONUS = 0.5
_TOKEN = re.compile(r"[a-z0-9]+")


def _token_score(query: str, candidates: tuple[str, ...], exact: float, prefix: float) -> float:
    best = 0.0
    for token in candidates:
        if token == query:
            return exact
        if token.startswith(query):
            best = prefix
    return best


class _Tokenizer:
    """Tokens of a catalog's texts; an ingredient name is folded once however many products
    share it (the national registry has a few hundred distinct ones for 60,000 products)."""

    def __init__(self) -> None:
        self._ingredients: dict[str, tuple[str, ...]] = {}

    def entry(self, drug: Drug) -> _Entry:
        folded = fold(drug.name)
        ingredient_tokens: tuple[str, ...] = ()
        for item in drug.active_ingredients:
            found = self._ingredients.get(item.name)
            if found is None:
                found = self._ingredients[item.name] = tuple(tokens(item.name))
            ingredient_tokens += found
        return _Entry(drug, tuple(_TOKEN.findall(folded)), ingredient_tokens,
                      tuple(tokens(drug.registration_number)), folded)


class _Search:
    """The search structures of one catalog version: per product its tokens, per field the
    products of each token, the inactive products, and every token sorted."""

    __slots__ = ("entries", "fields", "inactive", "sorted_tokens")

    def __init__(self, entries: dict[str, _Entry], fields: tuple[Mapping[str, Collection[str]], ...],
                 inactive: frozenset[str], sorted_tokens: list[str]) -> None:
        self.entries = entries
        self.fields = fields
        self.inactive = inactive
        self.sorted_tokens = sorted_tokens

    @classmethod
    def build(cls, drugs: Iterable[Drug]) -> _Search:
        tokenizer = _Tokenizer()
        entries = {drug.national_code: tokenizer.entry(drug) for drug in drugs}
        fields: tuple[dict[str, list[str]], ...] = ({}, {}, {}, {})
        inactive = []
        # Products in rank order, so that every posting list is in rank order too.
        for entry in sorted(entries.values(), key=lambda e: e.rank):
            code = entry.drug.national_code
            for field, words in zip(fields, entry.fields(), strict=True):
                for token in dict.fromkeys(words):
                    postings = field.get(token)
                    if postings is None:
                        field[token] = [code]
                    else:
                        postings.append(code)
            if entry.drug.status != "active":
                inactive.append(code)
        return cls(entries, fields, frozenset(inactive), sorted(set().union(*fields)))

    def with_changes(self, changed: Mapping[str, Drug | None]) -> _Search:
        entries = dict(self.entries)
        inactive = set(self.inactive)
        edits: dict[tuple[int, str], tuple[set[str], set[str]]] = {}
        tokenizer = _Tokenizer()
        for code, drug in changed.items():
            old = entries.pop(code, None)
            if old is not None:
                for field, words in enumerate(old.fields()):
                    for token in words:
                        edits.setdefault((field, token), (set(), set()))[1].add(code)
                inactive.discard(code)
            if drug is None:
                continue
            entry = entries[code] = tokenizer.entry(drug)
            for field, words in enumerate(entry.fields()):
                for token in words:
                    added, removed = edits.setdefault((field, token), (set(), set()))
                    added.add(code)
                    removed.discard(code)
            if drug.status != "active":
                inactive.add(code)
        fields: tuple[dict[str, Collection[str]], ...] = tuple(dict(field) for field in self.fields)
        appeared: set[str] = set()
        vanished: set[str] = set()
        for (field, token), (added, removed) in edits.items():
            before = frozenset(fields[field].get(token, ()))
            after = (before - removed) | added
            if after == before:
                continue
            if after:
                fields[field][token] = after
            else:
                del fields[field][token]
            if not before:
                appeared.add(token)
            elif not after:
                vanished.add(token)
        vanished = {token for token in vanished if not any(token in field for field in fields)}
        appeared = {token for token in appeared
                    if not any(token in field for field in self.fields)}
        sorted_tokens = self.sorted_tokens
        if len(appeared) + len(vanished) > 64:
            sorted_tokens = sorted(set().union(*fields))
        elif appeared or vanished:
            sorted_tokens = list(sorted_tokens)
            for token in vanished:
                del sorted_tokens[bisect.bisect_left(sorted_tokens, token)]
            for token in appeared:
                bisect.insort(sorted_tokens, token)
        return _Search(entries, fields, frozenset(inactive), sorted_tokens)


class CatalogIndex:
    """An immutable in-memory catalog: identifier maps and a prefix search index.

    Building costs O(products); ``resolve`` and ``get`` are dictionary look-ups; ``search``
    looks query words up as prefixes in a sorted token list. :meth:`with_changes` gives a new
    index with some products added, replaced or removed, sharing everything else with this
    one (the change feed applies catalog changes this way, without reloading).

    :meth:`from_rows` is the cold-start path: identifier maps only, straight from the compact
    rows of the catalog snapshot, each product rebuilt when first asked for; the search
    structures follow with :meth:`with_search` (the gateway builds them in the background
    once the process is ready, see ``drug_catalog.cache``), or on the first search.
    """

    _by_code: dict[str, Drug | Sequence[Any]]
    _by_registration: dict[str, tuple[str, ...]]
    _by_gtin: dict[str, tuple[str, ...]]
    _search: _Search | None

    def __init__(self, drugs: Iterable[Drug], *, search: bool = True) -> None:
        """Index ``drugs``; a later record with the same national code replaces an earlier one.
        ``search=False`` leaves the search structures for later (:meth:`with_search`)."""
        by_code: dict[str, Drug | Sequence[Any]] = {}
        for drug in drugs:
            by_code[drug.national_code] = drug
        self._set_maps(by_code, ((code, drug.registration_number, drug.gtins)  # type: ignore[union-attr]
                                 for code, drug in by_code.items()))
        self._search = _Search.build(by_code.values()) if search else None  # type: ignore[arg-type]
        self._search_lock = threading.Lock()

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> CatalogIndex:
        """An index of products in :meth:`Drug.to_row` form, without search structures yet.

        Raises:
            IndexError, TypeError: a row was not written by :meth:`Drug.to_row`.
        """
        index = object.__new__(cls)
        by_code: dict[str, Drug | Sequence[Any]] = {row[0]: row for row in rows}
        index._set_maps(by_code, ((code, row[1], row[2])  # type: ignore[index]
                                  for code, row in by_code.items()))
        index._search = None
        index._search_lock = threading.Lock()
        return index

    def _set_maps(self, by_code: dict[str, Drug | Sequence[Any]],
                  keys: Iterable[tuple[str, str, Iterable[str]]]) -> None:
        by_registration: dict[str, list[str]] = {}
        by_gtin: dict[str, list[str]] = {}
        for code, registration, gtins in keys:
            found = by_registration.get(registration)
            if found is None:
                by_registration[registration] = [code]
            else:
                found.append(code)
            for gtin in gtins:
                by_gtin.setdefault(gtin, []).append(code)
        self._by_code = by_code
        self._by_registration = {key: tuple(value) for key, value in by_registration.items()}
        self._by_gtin = {key: tuple(value) for key, value in by_gtin.items()}

    def _drug(self, code: str) -> Drug | None:
        value = self._by_code.get(code)
        if value is None or isinstance(value, Drug):
            return value
        drug = Drug.from_row(value)
        self._by_code[code] = drug  # the same product, rebuilt once
        return drug

    # -------------------------------------------------------------------- search structures

    @property
    def has_search(self) -> bool:
        return self._search is not None

    def with_search(self) -> CatalogIndex:
        """This index with its search structures built (this one when it has them)."""
        if self._search is not None:
            return self
        new = self._copy()
        new._search = self._searcher()
        return new

    def _searcher(self) -> _Search:
        search = self._search
        if search is None:
            with self._search_lock:
                search = self._search
                if search is None:
                    search = _Search.build(self._drugs(list(self._by_code)))
                    self._search = search
        return search

    def _copy(self) -> CatalogIndex:
        new = object.__new__(CatalogIndex)
        new._by_code = self._by_code
        new._by_registration = self._by_registration
        new._by_gtin = self._by_gtin
        new._search = self._search
        new._search_lock = threading.Lock()
        return new

    # -------------------------------------------------------------------- changes

    def with_changes(self, upserts: Iterable[Drug] = (),
                     deletes: Iterable[str] = ()) -> CatalogIndex:
        """A new index: this one with ``upserts`` added or replacing the product of the same
        national code, and the products of the national codes ``deletes`` removed.

        Costs a shallow copy of the maps (milliseconds at 60,000 products) plus the postings
        the changed products are in; this index is not modified (readers keep using it).
        """
        changed: dict[str, Drug | None] = dict.fromkeys(deletes)
        for upsert in upserts:
            changed[upsert.national_code] = upsert
        if not changed:
            return self
        by_code = dict(self._by_code)
        by_registration = dict(self._by_registration)
        by_gtin = dict(self._by_gtin)
        for code, drug in changed.items():
            old = self._drug(code)
            if old is not None:
                del by_code[code]
                _put(by_registration, old.registration_number,
                     tuple(c for c in by_registration[old.registration_number] if c != code))
                for gtin in old.gtins:
                    _put(by_gtin, gtin, tuple(c for c in by_gtin[gtin] if c != code))
            if drug is None:
                continue
            by_code[code] = drug
            by_registration[drug.registration_number] = (
                *by_registration.get(drug.registration_number, ()), code)
            for gtin in drug.gtins:
                by_gtin[gtin] = (*by_gtin.get(gtin, ()), code)
        new = object.__new__(CatalogIndex)
        new._by_code = by_code
        new._by_registration = by_registration
        new._by_gtin = by_gtin
        new._search = self._search.with_changes(changed) if self._search is not None else None
        new._search_lock = threading.Lock()
        return new

    # -------------------------------------------------------------------- collection

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Drug]:
        for code in list(self._by_code):
            drug = self._drug(code)
            if drug is not None:
                yield drug

    def __contains__(self, national_code: object) -> bool:
        return isinstance(national_code, str) and normalize_code(national_code) in self._by_code

    def ranked(self) -> list[str]:
        """Every national code in the static rank order ties are broken by (shorter names
        first, then alphabetical)."""
        entries = self._searcher().entries
        return sorted(entries, key=lambda code: entries[code].rank)

    # -------------------------------------------------------------------- look-ups

    def get(self, national_code: str) -> Drug | None:
        """The product with this national code (compared in canonical form), or None."""
        return self._drug(normalize_code(national_code))

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
            by_code=lambda code: [drug] if (drug := self._drug(code)) else [],
            by_registration=lambda number: self._drugs(self._by_registration.get(number, ())),
            by_gtin=lambda gtin: self._drugs(self._by_gtin.get(gtin, ())))

    def _drugs(self, codes: Iterable[str]) -> list[Drug]:
        return [drug for code in codes if (drug := self._drug(code)) is not None]

    def by_gtin(self, gtin: str) -> list[Drug]:
        """Products carrying this (already 14-digit) GTIN: normally one, none if unknown."""
        return self._drugs(self._by_gtin.get(gtin, ()))

    # -------------------------------------------------------------------- search

    def _expand(self, search: _Search, word: str) -> list[str]:
        """Indexed tokens starting with ``word`` (``word`` itself first when indexed)."""
        tokens_ = search.sorted_tokens
        start = bisect.bisect_left(tokens_, word)
        matching = []
        for index in range(start, len(tokens_)):
            token = tokens_[index]
            if not token.startswith(word):
                break
            matching.append(token)
        return matching

    @staticmethod
    def _union(postings: Mapping[str, Collection[str]], tokens_: Iterable[str]) -> set[str]:
        codes: set[str] = set()
        for token in tokens_:
            codes.update(postings.get(token, ()))
        return codes

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
        search = self._searcher()
        codes = (self._rank_one_word(search, words[0], limit) if len(words) == 1
                 else self._rank_words(search, words, limit))
        return self._drugs(codes)

    def _rank_one_word(self, search: _Search, word: str, limit: int) -> list[str]:
        # Set operations instead of scoring each candidate: a three-letter prefix can match a
        # tenth of the national registry, and this keeps such a query in milliseconds.
        matching = self._expand(search, word)
        if not matching:
            return []
        exact = matching[:1] if matching[0] == word else []
        prefixes = matching[len(exact):]
        tiers: list[tuple[float, set[str]]] = []
        taken: set[str] = set()
        for field in (_NAME, _INGREDIENT, _OTHER):
            whole, partial = _POINTS[field]
            for points, words_ in ((whole, exact), (partial, prefixes)):
                codes = self._union(search.fields[field], words_) - taken
                if codes:
                    tiers.append((points, codes))
                    taken |= codes
        starts = self._union(search.fields[_FIRST], matching)
        groups: dict[float, list[set[str]]] = {}
        for points, codes in tiers:
            for bonus, part in ((_STARTS_BONUS, codes & starts), (0.0, codes - starts)):
                groups.setdefault(points + bonus + _ACTIVE_BONUS, []).append(
                    part - search.inactive)
                groups.setdefault(points + bonus, []).append(part & search.inactive)
        entries = search.entries
        ranked: list[str] = []
        for score in sorted(groups, reverse=True):
            group = set().union(*groups[score])
            if group:
                ranked.extend(heapq.nsmallest(limit - len(ranked), group,
                                              key=lambda code: entries[code].rank))
                if len(ranked) >= limit:
                    break
        return ranked

    def _word_points(self, search: _Search, word: str) -> dict[str, float]:
        """National code -> the best points ``word`` earns there (see :meth:`search`)."""
        matching = self._expand(search, word)
        exact = matching[:1] if matching and matching[0] == word else []
        prefixes = matching[len(exact):]
        points: dict[str, float] = {}
        # Lowest points first: a later layer overwrites, so each product keeps its best.
        for field, words_, value in ((_OTHER, matching, _POINTS[_OTHER][1]),
                                     (_INGREDIENT, prefixes, _POINTS[_INGREDIENT][1]),
                                     (_INGREDIENT, exact, _POINTS[_INGREDIENT][0]),
                                     (_NAME, prefixes, _POINTS[_NAME][1]),
                                     (_NAME, exact, _POINTS[_NAME][0])):
            if words_:
                points.update(dict.fromkeys(self._union(search.fields[field], words_), value))
        return points

    def _rank_words(self, search: _Search, words: list[str], limit: int) -> list[str]:
        per_word = sorted((self._word_points(search, word) for word in words), key=len)
        if not per_word[0]:
            return []
        candidates = set(per_word[0]).intersection(*per_word[1:])
        scores = {c: sum(points[c] for points in per_word) for c in candidates}
        phrase = " ".join(words)
        entries = search.entries
        for c in self._union(search.fields[_FIRST], self._expand(search, words[0])) & candidates:
            if entries[c].folded_name.startswith(phrase):
                scores[c] += _STARTS_BONUS
        for c in candidates - search.inactive:
            scores[c] += _ACTIVE_BONUS
        return heapq.nsmallest(limit, scores, key=lambda c: (-scores[c], entries[c].rank))

    def score(self, national_code: str, words: list[str]) -> float:
        """The ranking score of the product ``national_code`` for query ``words`` (see
        :meth:`search`); 0 when a word matches nothing."""
        entry = self._searcher().entries[national_code]
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


def _put(mapping: dict[str, tuple[str, ...]], key: str, value: tuple[str, ...]) -> None:
    if value:
        mapping[key] = value
    else:
        mapping.pop(key, None)
