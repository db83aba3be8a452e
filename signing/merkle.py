"""RFC 9162 Merkle trees over an append-only log: roots, inclusion and consistency proofs.

Hashing is RFC 9162 §2.1.1 with SHA-256: a leaf is ``SHA-256(0x00 || entry)``, an interior
node ``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``.

Proofs stay logarithmic however long the log grows because the tree keeps only the hashes
of *complete* subtrees (perfect, aligned: level ``k``, index ``i`` covers the leaves
``[i * 2**k, (i + 1) * 2**k)``), written once when their last leaf is appended, in a
:class:`NodeStore`. Every range the RFC's recursion visits is either such a subtree or the
right edge of a tree, which is a fold of at most ``log2(n)`` of them; so a proof is built
from O(log n) stored nodes (O(log² n) at worst for consistency), read in ONE batch
(:meth:`NodeStore.get_many`), never from the leaves.

This module knows nothing of HTTP or MongoDB; :class:`signing.merkle_store.MongoNodeStore`
keeps the nodes in a MongoDB collection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

NodeKey = tuple[int, int]  # (level, index): level 0 holds the leaf hashes

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class MerkleError(ValueError):
    """Base of this module's errors."""


class InvalidTreeSize(MerkleError):
    """A size or index is out of range for the tree (e.g. a proof for a size not yet
    appended, an index not below the tree size, or a first size above the second)."""


class InvalidProof(MerkleError):
    """A proof does not verify: wrong length, or the recomputed root differs."""


class MissingNode(MerkleError):
    """The node store lacks a node the tree has committed to (the store is damaged or was
    edited); ``key`` names the first missing (level, index)."""

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        super().__init__(f"the node store has no node at level {key[0]}, index {key[1]}")


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)`` (RFC 9162 §2.1.1)."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


class NodeStore(Protocol):
    """Where the hashes of complete subtrees live. Nodes are written once and never change;
    writing a node again with the same hash must be harmless (two sealers may race)."""

    def get_many(self, keys: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored hashes among ``keys`` (absent keys are simply left out)."""
        ...

    def put_many(self, nodes: Mapping[NodeKey, bytes]) -> None:
        """Store ``nodes``."""
        ...


class InMemoryNodeStore:
    """A :class:`NodeStore` in a dict (tests, offline verification)."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, bytes] = {}

    def get_many(self, keys: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def put_many(self, nodes: Mapping[NodeKey, bytes]) -> None:
        self.nodes.update(nodes)


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2): RFC 9162's split ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _decompose(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees covering ``[start, end)``, left to right, biggest first.

    ``start`` must be aligned to a power of two >= ``end - start``, which holds for every
    range RFC 9162's recursion visits; then the subtrees shrink left to right and the
    range's hash is their right fold.
    """
    keys = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1
        while position % (1 << level):
            level -= 1
        keys.append((level, position >> level))
        position += 1 << level
    return keys


def _fold(hashes: Sequence[bytes]) -> bytes:
    result = hashes[-1]
    for value in reversed(hashes[:-1]):
        result = node_hash(value, result)
    return result


class MerkleTree:
    """An append-only RFC 9162 tree of ``size`` leaves whose complete subtrees are in
    ``store``. ``size`` is the number of leaves already appended (the caller persists it)."""

    def __init__(self, store: NodeStore, *, size: int = 0) -> None:
        if size < 0:
            raise InvalidTreeSize("size must be >= 0")
        self.store = store
        self.size = size

    # -- reading ---------------------------------------------------------------------------

    def _fetch(self, plan: Iterable[Sequence[NodeKey]]) -> list[bytes]:
        plan = [list(group) for group in plan]
        keys = {key for group in plan for key in group}
        found = self.store.get_many(keys)
        for group in plan:
            for key in group:
                if key not in found:
                    raise MissingNode(key)
        return [_fold([found[key] for key in group]) for group in plan]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise InvalidTreeSize(f"tree size {size} is outside 0..{self.size}")

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all).

        Raises:
            InvalidTreeSize: ``size`` exceeds the tree. MissingNode: the store is damaged.
        """
        size = self.size if size is None else size
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._fetch([_decompose(0, size)])[0]

    def leaf_hash_at(self, index: int) -> bytes:
        """The stored leaf hash at ``index``.

        Raises:
            InvalidTreeSize: no such leaf. MissingNode: the store is damaged.
        """
        if not 0 <= index < self.size:
            raise InvalidTreeSize(f"leaf index {index} is outside 0..{self.size - 1}")
        return self._fetch([[(0, index)]])[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf's sibling first.

        Raises:
            InvalidTreeSize: ``size`` exceeds the tree or ``index >= size``.
            MissingNode: the store is damaged.
        """
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise InvalidTreeSize(f"leaf index {index} is outside 0..{size - 1}")
        plan: list[list[NodeKey]] = []
        start, end, m = 0, size, index
        while end - start > 1:  # walk down from the root, collecting siblings root-first
            k = _largest_power_of_two_below(end - start)
            if m < k:
                plan.append(_decompose(start + k, end))
                end = start + k
            else:
                plan.append(_decompose(start, start + k))
                start, m = start + k, m - k
        plan.reverse()
        return self._fetch(plan)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 §2.1.4.1; empty when ``first == second``.

        Raises:
            InvalidTreeSize: not ``1 <= first <= second <= size``.
            MissingNode: the store is damaged.
        """
        second = self.size if second is None else second
        self._check_size(second)
        if not 1 <= first <= second:
            raise InvalidTreeSize(f"need 1 <= first <= second, got first={first}, "
                                  f"second={second}")
        if first == second:
            return []
        plan: list[list[NodeKey]] = []
        start, end, m, whole = 0, second, first, True
        while m != end - start:
            k = _largest_power_of_two_below(end - start)
            if m <= k:
                plan.append(_decompose(start + k, end))
                end = start + k
            else:
                plan.append(_decompose(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            plan.append(_decompose(start, end))
        plan.reverse()
        return self._fetch(plan)

    # -- appending -------------------------------------------------------------------------

    def _frontier(self) -> dict[int, bytes]:
        """Level -> hash of the complete subtrees on the right edge (one per set bit of
        ``size``): the only state appending needs."""
        keys = {}
        position = 0
        for level in range(self.size.bit_length() - 1, -1, -1):
            if self.size >> level & 1:
                keys[level] = (level, position >> level)
                position += 1 << level
        found = self._fetch([[key] for key in keys.values()])
        return dict(zip(keys, found, strict=True))

    def append_leaf_hashes(self, hashes: Iterable[bytes]) -> int:
        """Append leaves given by their leaf hashes, storing every subtree they complete in
        one :meth:`NodeStore.put_many`; returns the new size.

        Raises:
            ValueError: a hash is not 32 bytes. MissingNode: the store is damaged.
        """
        frontier = self._frontier()
        new_nodes: dict[NodeKey, bytes] = {}
        size = self.size
        for value in hashes:
            if len(value) != HASH_SIZE:
                raise ValueError("a leaf hash is 32 bytes")
            level, index, current = 0, size, bytes(value)
            new_nodes[(0, index)] = current
            while index & 1:  # this node completes a pair: its parent is complete too
                current = node_hash(frontier.pop(level), current)
                level, index = level + 1, index >> 1
                new_nodes[(level, index)] = current
            frontier[level] = current
            size += 1
        if new_nodes:
            self.store.put_many(new_nodes)
        self.size = size
        return size

    def append(self, entries: Iterable[bytes]) -> int:
        """Append entries (hashed as leaves); returns the new size.

        Raises:
            MissingNode: the store is damaged.
        """
        return self.append_leaf_hashes(leaf_hash(entry) for entry in entries)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2) for the leaf hash ``leaf``.

    Raises:
        InvalidProof: the proof does not show ``leaf`` at ``index`` in the tree ``root``.
    """
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise InvalidProof("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the proof is shorter than the tree is deep")
    if result != root:
        raise InvalidProof("the proof leads to another root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2): the tree ``second_root`` of ``second``
    leaves extends the tree ``first_root`` of ``first`` leaves. Equal sizes need an empty
    proof and equal roots.

    Raises:
        InvalidProof: the proof does not show that extension.
    """
    if not 1 <= first <= second:
        raise InvalidProof(f"need 1 <= first <= second, got {first} and {second}")
    if first == second:
        if proof:
            raise InvalidProof("equal sizes take an empty proof")
        if first_root != second_root:
            raise InvalidProof("equal sizes with different roots")
        return
    if not proof:
        raise InvalidProof("the proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first tree is a subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise InvalidProof("the proof is longer than the trees need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the proof is shorter than the trees need")
    if fr != first_root:
        raise InvalidProof("the proof leads to another first root")
    if sr != second_root:
        raise InvalidProof("the proof leads to another second root")
