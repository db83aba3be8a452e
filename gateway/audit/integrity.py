"""The integrity panel's check: is the latest signed tree head genuine, and does the log it
commits to extend the one committed to by the tree head before it? (No HTTP here.)

The same proofs as a regulator's ``erx-gateway audit verify --tree-head`` (
:func:`gateway.audit.verify.check_older_head`): both tree heads' signatures against the
gateway's key set, and the RFC 9162 consistency proof from the earlier size to the latest,
computed from the stored Merkle tree and verified against the two signed roots. It proves that
nothing sealed before the earlier head was changed since; it does not re-hash every event (that
is ``audit verify`` over an export, which needs no trust in this server).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from gateway.audit import store
from gateway.audit.tree import latest_tree_head, sealed_size, tree, tree_heads_before
from gateway.audit.verify import SignatureCheck, check_older_head
from signing.errors import VerificationError
from signing.merkle import InvalidProof, MerkleError

HISTORY = 5


class DatabaseSource:
    """:class:`gateway.audit.verify.Source` over this gateway's own database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def tree_head(self) -> Mapping[str, Any]:
        head = latest_tree_head(self.database)
        if head is None:
            raise ValueError("the log has not been sealed yet")
        return head.to_json()

    def consistency(self, first: int, second: int) -> list[str]:
        return [node.hex() for node in tree(self.database).consistency_proof(first, second)]


@dataclass(frozen=True)
class Integrity:
    """What the panel shows. ``consistent`` is None when there is no earlier head to compare."""

    latest: dict[str, Any] | None
    previous: dict[str, Any] | None
    signature_valid: bool | None
    consistent: bool | None
    message: str
    recorded: int
    sealed: int
    history: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return self.latest is not None and bool(self.signature_valid) and self.consistent is not False


def check_integrity(database: Database, jwks: Mapping[str, Any], *,
                    verify_signature: SignatureCheck) -> Integrity:
    """Check the latest tree head against its key set and the tree head before it."""
    recorded, sealed = store.allocated(database), sealed_size(database)
    head = latest_tree_head(database)
    if head is None:
        return Integrity(None, None, None, None, "the log has not been sealed yet",
                         recorded, sealed)
    earlier = tree_heads_before(database, head.tree_size, HISTORY)
    history = tuple(item.to_json() for item in earlier)
    try:
        verify_signature(head.payload(), head.signature, jwks)
    except VerificationError as exc:
        return Integrity(head.to_json(), history[0] if history else None, False, None,
                         f"the latest tree head's signature does not verify: {exc}",
                         recorded, sealed, history)
    if not earlier:
        return Integrity(head.to_json(), None, True, None,
                         "the first tree head: no earlier one to compare", recorded, sealed)
    previous = earlier[0]
    try:
        check_older_head(previous.to_json(), head, DatabaseSource(database), jwks,
                         verify_signature=verify_signature)
    except (VerificationError, InvalidProof, MerkleError, ValueError, KeyError) as exc:
        return Integrity(head.to_json(), previous.to_json(), True, False,
                         f"the tree head of {previous.tree_size} events is not consistent with "
                         f"the latest: {exc}", recorded, sealed, history)
    return Integrity(head.to_json(), previous.to_json(), True, True,
                     f"the log of {head.tree_size} events extends the one of "
                     f"{previous.tree_size} events", recorded, sealed, history)


__all__ = ["DatabaseSource", "Integrity", "check_integrity"]
