"""``Idempotency-Key``: the same key with the same body returns the first answer.

A key is scoped to the party that sent it. The first request with a key inserts a ``pending``
record (the unique ``_id`` makes exactly one request the owner); when it finishes, its answer
is stored and replayed to every retry for ``IDEMPOTENCY_TTL_SECONDS``. A retry with another
body gets 409. A retry while the first is still running gets 409 with ``Retry-After``; if the
owner died mid-request its lease runs out and the retry takes over. Re-running is safe because
the operations themselves are conditioned on state (a prescription code, a dispense id), so a
half-finished first attempt is completed, never doubled.

Answers of unexpected failures (5xx) are not kept: the client may retry them. A kept answer
holds patient data (the prescription resource): it is stored encrypted
(:mod:`gateway.core.encryption`) and decrypted only to replay it to the party that sent the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from gateway.core.encryption import FieldCipher
from gateway.core.errors import IdempotencyInProgress, IdempotencyKeyReused, Malformed

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass
class Answer:
    """An HTTP answer as kept for replay."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


COLLECTION = "idempotency"
INDEXES = {COLLECTION: [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0,
                                   name="expires_at_ttl")]}


def request_fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


class IdempotencyStore:
    def __init__(self, collection: Collection[dict[str, Any]], *, ttl_seconds: int,
                 cipher: FieldCipher,
                 lease_seconds: float = 30.0) -> None:
        self.collection = collection
        self.ttl = timedelta(seconds=ttl_seconds)
        self.lease = timedelta(seconds=lease_seconds)
        self.cipher = cipher

    def run(self, *, scope: str, key: str | None, fingerprint: str,
            operation: Callable[[], Answer],
            answer_for: Callable[[Exception], Answer | None]) -> Answer:
        """Run ``operation`` once per (scope, key); replay its answer afterwards.

        When ``operation`` raises, ``answer_for(exc)`` is the answer the client gets, kept for
        replay unless it is None or a 5xx (an unexpected failure the client may retry).

        Raises:
            gateway.core.errors.Malformed: a malformed key.
            gateway.core.errors.IdempotencyKeyReused: a key reused with another request.
            gateway.core.errors.IdempotencyInProgress: the first request with the key still
                runs. Whatever ``operation`` raises.
        """
        if key is None:
            return operation()
        if not KEY_PATTERN.match(key):
            raise Malformed("Idempotency-Key must be 1-255 visible ASCII characters")
        record_id = f"{scope}\x1f{key}"
        try:
            self._claim(record_id, fingerprint)
        except _Replay as replay:
            return replay.answer
        try:
            answer = operation()
        except Exception as exc:
            kept = answer_for(exc)
            if kept is None or kept.status >= 500:
                self.collection.delete_one({"_id": record_id, "state": "pending"})
                raise
            self._finish(record_id, kept)
            raise
        except BaseException:
            self.collection.delete_one({"_id": record_id, "state": "pending"})
            raise
        self._finish(record_id, answer)
        return answer

    def encrypt_existing(self, batch: int) -> int:
        """Encrypt kept answers stored in plain text; how many were."""
        done = 0
        while True:
            plain = list(self.collection.find({"answer": {"$type": "object"}}, {"answer": 1},
                                              limit=batch))
            for doc in plain:
                done += self.collection.update_one(
                    {"_id": doc["_id"], "answer": doc["answer"]},
                    {"$set": {"answer": self.cipher.seal_value(doc["answer"])}}).modified_count
            if len(plain) < batch:
                return done

    def _claim(self, record_id: str, fingerprint: str) -> None:
        for _ in range(3):
            now = datetime.now(UTC)
            try:
                self.collection.insert_one({"_id": record_id, "fingerprint": fingerprint,
                                            "state": "pending", "lease_until": now + self.lease,
                                            "created_at": now, "expires_at": now + self.ttl})
                return
            except DuplicateKeyError:
                existing = self.collection.find_one({"_id": record_id})
            if existing is None:
                continue  # expired between the insert and the read: try again
            if existing["fingerprint"] != fingerprint:
                raise IdempotencyKeyReused()
            if existing["state"] == "done":
                raise _Replay(self.cipher.open_value(existing["answer"]))
            if existing["lease_until"] > now:
                raise IdempotencyInProgress(retry_after=1)
            taken = self.collection.update_one(
                {"_id": record_id, "state": "pending", "lease_until": existing["lease_until"]},
                {"$set": {"lease_until": now + self.lease}})
            if taken.modified_count == 1:
                return  # the first owner died: this request completes the work
        raise IdempotencyInProgress(retry_after=1)

    def _finish(self, record_id: str, answer: Answer) -> None:
        self.collection.update_one(
            {"_id": record_id},
            {"$set": {"state": "done", "answer": self.cipher.seal_value(
                {"status": answer.status, "body": answer.body, "headers": answer.headers})}})


class _Replay(Exception):
    """Raised inside :meth:`IdempotencyStore.run` to short-circuit with a kept answer."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__("replay")
        self.answer = Answer(answer["status"], answer["body"], dict(answer.get("headers") or {}),
                             replayed=True)

