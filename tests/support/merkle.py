"""RFC 9162's verification algorithms written out as the RFC states them, to check the Merkle log against."""

from __future__ import annotations

import hashlib


def rfc_verify_inclusion(leaf_index: int, tree_size: int, hash_: bytes,
                         inclusion_path: list[bytes], root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if leaf_index >= tree_size:                                   # 1
        return False
    fn, sn = leaf_index, tree_size - 1                            # 2
    r = hash_                                                     # 3
    for p in inclusion_path:                                      # 4
        if sn == 0:                                               # 4a
            return False
        if fn % 2 == 1 or fn == sn:                               # 4b
            r = H(b"\x01" + p + r)                                # 4b i
            if fn % 2 == 0:                                       # 4b ii
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = H(b"\x01" + r + p)                                # 4b otherwise
        fn //= 2                                                  # 4c
        sn //= 2
    return sn == 0 and r == root_hash                             # 5


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                           consistency_path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, step by step (for 0 < first < second)."""
    if not consistency_path:                                      # 1
        return False
    path = list(consistency_path)
    if first & (first - 1) == 0:                                  # 2
        path = [first_hash] + path
    fn, sn = first - 1, second - 1                                # 3
    if fn % 2 == 1:                                               # 4
        while fn % 2 == 1:
            fn //= 2
            sn //= 2
    fr = sr = path[0]                                             # 5
    for c in path[1:]:                                            # 6
        if sn == 0:                                               # 6a
            return False
        if fn % 2 == 1 or fn == sn:                               # 6b
            fr = H(b"\x01" + c + fr)
            sr = H(b"\x01" + c + sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = H(b"\x01" + sr + c)
        fn //= 2                                                  # 6c
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0     # 7


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
