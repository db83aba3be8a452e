"""A :class:`signing.merkle.NodeStore` in a MongoDB collection (the only MongoDB code of the
Merkle tree)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from signing.merkle import NodeKey


class MongoNodeStore:
    """A :class:`NodeStore` in a MongoDB collection.

    Nodes are grouped in chunks of :attr:`CHUNK` consecutive nodes of one level, one
    document per chunk (``{_id: level * 2**40 + chunk, n: {"0": hash, "1": hash, ...}}``,
    keyed by the offset in the chunk), so a log of a million events is about 32,000 small
    documents rather than two million. Writes set fields (``$set: {"n.17": hash}``), which
    is idempotent, so a retried or racing sealer writing the same nodes is harmless.
    """

    CHUNK = 64
    _LEVEL_FACTOR = 1 << 40

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def _chunk_id(self, level: int, index: int) -> int:
        return level * self._LEVEL_FACTOR + index // self.CHUNK

    def get_many(self, keys: Collection[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = {self._chunk_id(level, index) for level, index in keys}
        if not wanted:
            return {}
        chunks = {doc["_id"]: doc.get("n") or {}
                  for doc in self.collection.find({"_id": {"$in": sorted(wanted)}})}
        found: dict[NodeKey, bytes] = {}
        for level, index in keys:
            value = chunks.get(self._chunk_id(level, index), {}).get(str(index % self.CHUNK))
            if value is not None:
                found[(level, index)] = bytes(value)
        return found

    def put_many(self, nodes: Mapping[NodeKey, bytes]) -> None:
        by_chunk: dict[int, dict[str, bytes]] = {}
        for (level, index), value in nodes.items():
            by_chunk.setdefault(self._chunk_id(level, index), {})[
                str(index % self.CHUNK)] = value
        # Whole chunks are inserted (cheap); a chunk that exists already (a racing or
        # restarted sealer) and partial chunks get field updates (idempotent).
        whole = [{"_id": chunk, "n": row} for chunk, row in sorted(by_chunk.items())
                 if len(row) == self.CHUNK]
        update = {chunk for chunk, row in by_chunk.items() if len(row) != self.CHUNK}
        if whole:
            try:
                self.collection.insert_many(whole, ordered=False)
            except BulkWriteError as exc:
                for error in exc.details.get("writeErrors", []):
                    if error.get("code") != 11000:
                        raise
                    update.add(whole[error["index"]]["_id"])
        if update:
            self.collection.bulk_write(
                [UpdateOne({"_id": chunk}, {"$set": {f"n.{offset}": value for offset, value
                                                     in by_chunk[chunk].items()}}, upsert=True)
                 for chunk in sorted(update)], ordered=False)

    def put_full_chunks(self, level: int, first_index: int, hashes: Sequence[bytes]) -> None:
        """Bulk-load whole chunks of one level starting at a chunk boundary (used to build a
        large tree quickly, e.g. by the benchmark); ``first_index`` must be a multiple of
        :attr:`CHUNK`."""
        if first_index % self.CHUNK:
            raise ValueError("first_index must start a chunk")
        documents = [{"_id": self._chunk_id(level, first_index + start),
                      "n": {str(offset): value for offset, value
                            in enumerate(hashes[start:start + self.CHUNK])}}
                     for start in range(0, len(hashes), self.CHUNK)]
        if documents:
            self.collection.insert_many(documents, ordered=False)
