"""``erx-gateway audit verify``: the regulator's check that the audit log was not edited.

It needs no database access: it reads an NDJSON export of the events (a file, or the
gateway's ``GET /v2/audit/events`` with ``Accept: application/x-ndjson``), recomputes the
RFC 9162 Merkle tree, and checks it against the gateway's signed tree head (signature by a
key of the JWKS, best pinned: a JWKS saved earlier, not fetched from the server under test).
When the roots differ it finds the FIRST event that differs by bisection: a consistency
proof from the root of our first ``m`` events to the signed root verifies exactly when those
``m`` events are the logged ones, so O(log n) proofs name the event. Tree heads saved
earlier (``--tree-head``) must be consistent with the current one: the log only grew.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests

from gateway.audit.log import NDJSON, event_leaf
from gateway.audit.tree import TreeHead
from signing.errors import CanonicalizationError, VerificationError
from signing.merkle import InMemoryNodeStore, InvalidProof, MerkleTree, leaf_hash, verify_consistency

EXPORT_PATH = "/v2/audit/events"


class Source(Protocol):
    """Where the gateway's commitments are read."""

    def tree_head(self) -> Mapping[str, Any]: ...

    def consistency(self, first: int, second: int) -> list[str]: ...


@dataclass
class VerifyReport:
    ok: bool
    tree_size: int
    events: int
    message: str
    first_bad_seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "tree_size": self.tree_size, "events": self.events,
                "first_bad_seq": self.first_bad_seq, "message": self.message}


SignatureCheck = Callable[[bytes, str, Mapping[str, Any]], Any]


def verify_log(events: Iterable[Mapping[str, Any]], source: Source, jwks: Mapping[str, Any], *,
               verify_signature: SignatureCheck,
               known_heads: Sequence[Mapping[str, Any]] = ()) -> VerifyReport:
    """Check exported ``events`` (in export order) against the signed tree head of ``source``.

    ``verify_signature(payload, jws, jwks)`` raises ``VerificationError`` when a signature
    does not hold (``signing.jws.verify_detached``).

    Raises:
        ValueError, KeyError: the tree head is not one.
    """
    head = TreeHead.from_json(source.tree_head())
    try:
        verify_signature(head.payload(), head.signature, jwks)
    except VerificationError as exc:
        return VerifyReport(False, head.tree_size, 0,
                            f"the tree head's signature does not verify: {exc}")
    leaves: list[bytes] = []
    expected = 0
    stop: str | None = None  # why reading stopped before the signed size, if it did
    for event in events:
        seq = event.get("seq")
        if seq != expected:
            if expected >= head.tree_size:
                break  # events after the signed tree are not sealed yet
            if isinstance(seq, int) and not isinstance(seq, bool) and seq > expected:
                stop = f"event {expected} is missing from the export"
            elif isinstance(seq, int) and not isinstance(seq, bool):
                stop = (f"event {expected} is not where it should be: event {seq} appears "
                        f"again after event {expected - 1} (reordered or duplicated)")
            else:
                stop = f"event {expected} has no valid seq"
            break
        if expected < head.tree_size:
            try:
                leaves.append(leaf_hash(event_leaf(event)))
            except CanonicalizationError as exc:
                stop = f"event {expected} has no canonical form: {exc}"
                break
        expected += 1
    if stop is None and len(leaves) < head.tree_size:
        stop = (f"event {len(leaves)} is missing: the export stops there, the signed tree "
                f"has {head.tree_size} events")
    merkle = MerkleTree(InMemoryNodeStore())
    merkle.append_leaf_hashes(leaves)
    for known in known_heads:
        try:
            check_older_head(known, head, source, jwks, verify_signature=verify_signature)
        except (VerificationError, InvalidProof, ValueError, KeyError) as exc:
            return VerifyReport(False, head.tree_size, expected,
                                f"a saved tree head is not consistent with the current "
                                f"one: {exc}")
    available = len(leaves)
    if available == head.tree_size and (
            head.tree_size == 0 or merkle.root(head.tree_size) == head.root_hash):
        unsealed = expected - head.tree_size
        return VerifyReport(True, head.tree_size, expected,
                            f"the {head.tree_size} sealed events match the signed tree head"
                            + (f"; {unsealed} later events are not sealed yet" if unsealed
                               else ""))
    if stop is not None and (available == 0
                             or _prefix_holds(source, available, merkle.root(), head)):
        # Every event before the anomaly is the logged one: the anomaly is the first fault.
        return VerifyReport(False, head.tree_size, expected, stop, first_bad_seq=available)
    # The prefix of `high` events is known bad: find the shortest bad prefix.
    low, high = 1, max(available, 1)
    while low < high:
        middle = (low + high) // 2
        if _prefix_holds(source, middle, merkle.root(middle), head):
            low = middle + 1
        else:
            high = middle
    bad = low - 1
    return VerifyReport(False, head.tree_size, expected,
                        f"event {bad} does not match the sealed log (edited, replaced or moved)",
                        first_bad_seq=bad)


def check_older_head(older_json: Mapping[str, Any], head: TreeHead, source: Source,
                     jwks: Mapping[str, Any], *, verify_signature: SignatureCheck) -> None:
    """Check that an older tree head (as ``GET /v2/audit/tree-head`` gave it) is signed by a
    key of ``jwks`` and that the log of ``head`` extends it: the consistency proof ``source``
    gives from its size to ``head``'s verifies (RFC 9162 §2.1.4.2).

    Raises:
        signing.errors.VerificationError: the older head's signature does not verify.
        signing.merkle.InvalidProof: the log was rewritten since.
        ValueError, KeyError: not a tree head, or larger than ``head``.
    """
    older = TreeHead.from_json(older_json)
    verify_signature(older.payload(), older.signature, jwks)
    if older.tree_size > head.tree_size:
        raise ValueError(f"it is larger than the current one ({head.tree_size})")
    _check_prefix(source, older.tree_size, older.root_hash, head)


def _check_prefix(source: Source, size: int, root: bytes, head: TreeHead) -> None:
    if size == 0:
        return
    proof = ([bytes.fromhex(node) for node in source.consistency(size, head.tree_size)]
             if size != head.tree_size else [])
    verify_consistency(size, head.tree_size, root, head.root_hash, proof)


def _prefix_holds(source: Source, size: int, root: bytes, head: TreeHead) -> bool:
    try:
        _check_prefix(source, size, root, head)
    except InvalidProof:
        return False
    return True


# --- reading exports and talking to a gateway --------------------------------------------------


def read_export(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """Events from NDJSON lines (blank lines skipped).

    Raises:
        ValueError: a line is not a JSON object (naming the line).
    """
    for number, line in enumerate(lines, start=1):
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        try:
            event = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"line {number} of the export is not JSON: {exc}") from None
        if not isinstance(event, dict):
            raise ValueError(f"line {number} of the export is not a JSON object")
        yield event


def gateway_base(url: str) -> str:
    """The gateway's base URL from its base or its export endpoint's URL."""
    parts = urlsplit(url)
    path = parts.path
    if path.rstrip("/").endswith(EXPORT_PATH):
        path = path.rstrip("/")[: -len(EXPORT_PATH)]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


class HttpSource:
    """A running gateway, read with a regulator's bearer token."""

    def __init__(self, base_url: str, *, token: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, **kwargs: Any) -> Any:
        response = self.session.get(self.base_url + path, timeout=self.timeout, **kwargs)
        if response.status_code != 200:
            raise ValueError(f"GET {path} answered {response.status_code}: "
                             f"{response.text[:300]}")
        return response

    def tree_head(self) -> Mapping[str, Any]:
        return self._get("/v2/audit/tree-head").json()

    def consistency(self, first: int, second: int) -> list[str]:
        body = self._get("/v2/audit/proofs/consistency",
                         params={"first": first, "second": second}).json()
        return list(body["consistency_path"])

    def jwks(self) -> Mapping[str, Any]:
        return self._get("/.well-known/jwks.json").json()

    def events(self) -> Iterator[dict[str, Any]]:
        response = self._get(EXPORT_PATH, headers={"Accept": NDJSON}, stream=True)
        yield from read_export(response.iter_lines())


def load_heads(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Tree heads saved earlier (JSON files of ``GET /v2/audit/tree-head``).

    Raises:
        ValueError: a file is unreadable or not a JSON object.
    """
    heads = []
    for path in paths:
        try:
            body = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the tree head {path}: {exc}") from None
        if not isinstance(body, dict):
            raise ValueError(f"{path} is not a tree head")
        heads.append(body)
    return heads
