"""RFC 9162 Merkle trees: proofs from stored subtrees, checked by an independent verifier.

The reference functions below are written straight from RFC 9162 §2.1.1 (MTH), §2.1.3.1
(PATH), §2.1.3.2 (inclusion verification), §2.1.4.1 (PROOF/SUBPROOF) and §2.1.4.2
(consistency verification) over plain lists of leaves; they share no code with
``signing.merkle`` apart from SHA-256.
"""

from __future__ import annotations

from functools import cache, lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing import merkle
from signing.merkle import (
    EMPTY_ROOT,
    InMemoryNodeStore,
    InvalidProof,
    InvalidTreeSize,
    MerkleTree,
    MissingNode,
)
from signing.merkle_store import MongoNodeStore
from tests.support.merkle import H, rfc_verify_consistency, rfc_verify_inclusion

MAX_SIZE = 10_000


# --- the independent reference (RFC 9162 §2.1, verbatim in spirit) ---------------------------


def k_split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: tuple[bytes, ...]) -> bytes:
    n = len(leaves)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + leaves[0])
    k = k_split(n)
    return H(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: tuple[bytes, ...]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = k_split(n)
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = k_split(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


# --- fixtures ---------------------------------------------------------------------------------

def entry(i: int) -> bytes:
    return f"event {i}".encode()


LEAVES = tuple(entry(i) for i in range(MAX_SIZE))


@cache
def big_tree() -> MerkleTree:
    tree = MerkleTree(InMemoryNodeStore())
    tree.append(LEAVES)
    return tree


@lru_cache(maxsize=64)
def reference_root(size: int) -> bytes:
    return ref_mth(LEAVES[:size])


sizes = st.integers(min_value=1, max_value=MAX_SIZE)


# --- proofs --------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=sizes)
def test_every_inclusion_proof_verifies_by_the_rfc_algorithm(data, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    tree = big_tree()
    root = tree.root(size)
    assert root == reference_root(size)
    proof = tree.inclusion_proof(index, size)
    assert rfc_verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, root)
    merkle.verify_inclusion(merkle.leaf_hash(LEAVES[index]), index, size, proof, root)
    assert len(proof) <= (size - 1).bit_length()


@settings(max_examples=60, deadline=None)
@given(data=st.data(), second=st.integers(min_value=2, max_value=MAX_SIZE))
def test_every_consistency_proof_verifies_by_the_rfc_algorithm(data, second: int) -> None:
    first = data.draw(st.integers(min_value=1, max_value=second - 1))
    tree = big_tree()
    proof = tree.consistency_proof(first, second)
    first_root, second_root = reference_root(first), reference_root(second)
    assert rfc_verify_consistency(first, second, first_root, second_root, proof)
    merkle.verify_consistency(first, second, first_root, second_root, proof)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=1, max_value=200), data=st.data())
def test_proofs_equal_the_rfc_definitions(size: int, data) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    first = data.draw(st.integers(min_value=1, max_value=size))
    tree = big_tree()
    leaves = LEAVES[:size]
    assert tree.inclusion_proof(index, size) == ref_path(index, leaves)
    expected = [] if first == size else ref_subproof(first, leaves, True)
    assert tree.consistency_proof(first, size) == expected


@settings(max_examples=30, deadline=None)
@given(chunks=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=8))
def test_appending_in_any_batches_gives_the_rfc_root(chunks: list[int]) -> None:
    tree = MerkleTree(InMemoryNodeStore())
    done = 0
    for count in chunks:
        # A fresh tree object over the same store each time: state is the store plus size.
        tree = MerkleTree(tree.store, size=done)
        assert tree.append(LEAVES[done:done + count]) == done + count
        done += count
        assert tree.root() == reference_root(done)


def test_the_empty_tree_has_the_hash_of_nothing() -> None:
    assert MerkleTree(InMemoryNodeStore()).root() == EMPTY_ROOT == H(b"")


# --- tampering and bad input -----------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=2000))
def test_a_changed_hash_anywhere_in_an_inclusion_proof_fails(data, size: int) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    tree = big_tree()
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)
    leaf = merkle.leaf_hash(LEAVES[index])
    at = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    bad = list(proof)
    bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(leaf, index, size, bad, root)
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(leaf, index, size, proof[:-1], root)
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(leaf, index, size, proof + [root], root)
    other = (index + 1) % size
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(merkle.leaf_hash(LEAVES[other]), index, size, proof, root)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), second=st.integers(min_value=3, max_value=2000))
def test_a_forked_log_fails_consistency(data, second: int) -> None:
    first = data.draw(st.integers(min_value=1, max_value=second - 1))
    changed = data.draw(st.integers(min_value=0, max_value=first - 1))
    proof = big_tree().consistency_proof(first, second)
    forked = list(LEAVES[:first])
    forked[changed] = b"forged"
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(first, second, ref_mth(tuple(forked)),
                                  reference_root(second), proof)
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(first, second, reference_root(first),
                                  reference_root(second), proof[:-1])


def test_sizes_out_of_range_are_refused() -> None:
    tree = big_tree()
    with pytest.raises(InvalidTreeSize):
        tree.inclusion_proof(5, 5)
    with pytest.raises(InvalidTreeSize):
        tree.inclusion_proof(0, MAX_SIZE + 1)
    with pytest.raises(InvalidTreeSize):
        tree.consistency_proof(0, 10)
    with pytest.raises(InvalidTreeSize):
        tree.consistency_proof(11, 10)
    with pytest.raises(InvalidTreeSize):
        tree.root(MAX_SIZE + 1)
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(3, 3, b"a" * 32, b"b" * 32, [])
    with pytest.raises(InvalidProof):
        merkle.verify_consistency(2, 3, b"a" * 32, b"b" * 32, [])
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(b"a" * 32, 3, 3, [], b"a" * 32)
    with pytest.raises(ValueError):
        MerkleTree(InMemoryNodeStore()).append_leaf_hashes([b"short"])


def test_a_damaged_store_names_the_missing_node() -> None:
    tree = MerkleTree(InMemoryNodeStore())
    tree.append(LEAVES[:8])
    del tree.store.nodes[(0, 3)]  # type: ignore[attr-defined]
    with pytest.raises(MissingNode) as caught:
        tree.inclusion_proof(2, 8)
    assert caught.value.key == (0, 3)


# --- the MongoDB store ---------------------------------------------------------------------

def test_the_mongo_store_gives_the_same_tree(database) -> None:
    store = MongoNodeStore(database["merkle_nodes"])
    tree = MerkleTree(store)
    for start, end in ((0, 1), (1, 70), (70, 70), (70, 300)):
        tree = MerkleTree(store, size=start)
        tree.append(LEAVES[start:end])
    assert tree.root() == reference_root(300)
    # Idempotent: a racing sealer writing the same nodes again changes nothing.
    MerkleTree(store, size=70).append(LEAVES[70:300])
    assert MerkleTree(store, size=300).root() == reference_root(300)
    proof = tree.inclusion_proof(129, 300)
    assert rfc_verify_inclusion(129, 300, merkle.leaf_hash(LEAVES[129]), proof,
                                reference_root(300))
    assert rfc_verify_consistency(65, 300, reference_root(65), reference_root(300),
                                  tree.consistency_proof(65, 300))
    # About size/CHUNK documents per level, not one per node.
    assert database["merkle_nodes"].count_documents({}) < 30


def test_bulk_loading_whole_chunks_matches_appending(database) -> None:
    store = MongoNodeStore(database["bulk"])
    leaves = [merkle.leaf_hash(leaf) for leaf in LEAVES[:256]]
    level, row = 0, leaves
    while row:
        store.put_full_chunks(level, 0, row)
        row = [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
    assert MerkleTree(store, size=256).root() == reference_root(256)
    with pytest.raises(ValueError):
        store.put_full_chunks(0, 3, leaves[:1])
