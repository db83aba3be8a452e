"""The outbox's queries and updates on the ``prescriptions`` collection: what the forwarder
claims, writes and releases, what the deliveries view reads, and the admin retry.

The entries themselves are built by :mod:`gateway.prescriptions.outbox`; this module only
stores them. See :mod:`gateway.forwarding.worker` for the protocol these updates implement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from gateway.core.encryption import FieldCipher
from gateway.prescriptions.model import DeliveryState
from gateway.prescriptions.outbox import OPEN, QUEUED, REGISTRY, RETRYABLE_BY_ADMIN, REVISION, SETTLED, earliest_due
from gateway.prescriptions.store import PRESCRIPTIONS, audit_stage, audit_update, merge_updates

#: fields of deliveries by their index in the outbox: what the forwarder writes
Outcomes = dict[int, dict[str, Any]]

# The change events that mean work for a forwarder (the $match of its change feed): a new
# prescription, or a change that queued deliveries (never the forwarders' own writes).
WORK_EVENTS: dict[str, Any] = {"$or": [
    {"operationType": {"$in": ["insert", "replace"]}},
    {f"updateDescription.updatedFields.{QUEUED}": {"$exists": True}}]}


def _delivery_fields(outcomes: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """``outcomes`` as the dotted paths of an update (``deliveries.3.state``)."""
    return {f"deliveries.{index}.{name}": value
            for index, values in outcomes.items() for name, value in values.items()}

# forward_due_at recomputed in the database: the earliest next_attempt_at of an open delivery
# not held back by an earlier undelivered delivery to the same target. A parked delivery (its
# next_attempt_at is null: the registry is not configured) counts for nothing ($min skips
# nulls), so a prescription with only parked deliveries is not open.
_SENDABLE = {"$filter": {"input": {"$ifNull": ["$deliveries", []]}, "as": "d", "cond": {"$and": [
    {"$in": ["$$d.state", list(OPEN)]},
    {"$eq": [{"$size": {"$filter": {"input": "$deliveries", "as": "e", "cond": {"$and": [
        {"$eq": ["$$e.target", "$$d.target"]}, {"$lt": ["$$e.seq", "$$d.seq"]},
        {"$not": [{"$in": ["$$e.state", list(SETTLED)]}]}]}}}}, 0]}]}}}
RECOMPUTE_DUE = {"$min": {"$map": {"input": _SENDABLE, "as": "p", "in": "$$p.next_attempt_at"}}}
RELEASE: list[dict[str, Any]] = [{"$set": {"forward_due_at": RECOMPUTE_DUE, "forward_lease_until": None,
                     "forward_lease_owner": None}},
           {"$set": {"forward_open": {"$ne": [{"$ifNull": ["$forward_due_at", None]}, None]}}}]


def _apply_to_element(index: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """Pipeline stage setting ``values`` into ``deliveries[index]`` (``$literal``: values are
    data, whatever their keys look like)."""
    element = {"$arrayElemAt": ["$deliveries", "$$i"]}
    return {"$set": {"deliveries": {"$map": {
        "input": {"$range": [0, {"$size": "$deliveries"}]}, "as": "i",
        "in": {"$cond": [{"$eq": ["$$i", index]},
                         {"$mergeObjects": [element, {"$literal": dict(values)}]}, element]}}}}}


class OutboxStore:
    def __init__(self, database: Database[dict[str, Any]], *, cipher: FieldCipher) -> None:
        self.prescriptions = database[PRESCRIPTIONS]
        self.cipher = cipher

    # --- the forwarder ---------------------------------------------------------------------
    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` due, unleased prescriptions, most overdue first (snapshots, their
        patient fields decrypted: the registry and pharmacies receive plain values over TLS)."""
        found = list(self.prescriptions.find(
            {"forward_open": True, "forward_due_at": {"$lte": now},
             "forward_lease_until": {"$not": {"$gt": now}}},
            sort=[("forward_open", ASCENDING), ("forward_due_at", ASCENDING)], limit=limit))
        for doc in found:
            doc["document"] = self.cipher.open_document(doc["document"])
        return found

    def opened(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A snapshot from elsewhere (the change feed, :meth:`upcoming`) with its patient fields
        decrypted, as :meth:`due` gives them (decrypting plain values changes nothing)."""
        if isinstance(doc.get("document"), dict):
            doc = {**doc, "document": self.cipher.open_document(doc["document"])}
        return doc

    def upcoming(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` open prescriptions, earliest due first, leased or not (snapshots:
        the forwarder takes those due and sleeps until the next; their patient fields are still
        encrypted: :meth:`opened` decrypts the ones it takes)."""
        return list(self.prescriptions.find(
            {"forward_open": True},
            sort=[("forward_open", ASCENDING), ("forward_due_at", ASCENDING)], limit=limit))

    def snapshots(self, codes: list[str]) -> list[dict[str, Any]]:
        """The prescriptions ``codes`` name (one query by ``_id``), as :meth:`upcoming` gives
        them: the documents of updates the change feed announced without them."""
        return list(self.prescriptions.find({"_id": {"$in": codes}}))

    def unpark(self, now: datetime) -> int:
        """Make every parked delivery (waiting for the registry to be configured) due now;
        how many prescriptions had some. One read when there are none."""
        parked = {"deliveries": {"$elemMatch": {"state": DeliveryState.PENDING, "next_attempt_at": None}}}
        if self.prescriptions.find_one(parked, {"_id": 1}) is None:
            return 0
        return self.prescriptions.update_many(
            parked,
            {"$set": {"deliveries.$[d].next_attempt_at": now, "forward_due_at": now,
                      "forward_open": True, QUEUED: now}, "$inc": {REVISION: 1}},
            array_filters=[{"d.state": DeliveryState.PENDING, "d.next_attempt_at": None}]).modified_count

    def write(self, code: str, *, owner: str, lease_until: datetime,
              outcomes: Mapping[int, Mapping[str, Any]], attempted: int | None,
              claim: Mapping[str, Any] | None, now: datetime,
              audit_events: list[dict[str, Any]] | None = None) -> bool:
        """One write of the forwarder, renewing its lease: the fields of ``outcomes`` (by
        delivery index), one more attempt of the delivery ``attempted``. ``claim`` (``{index,
        id, state, attempts}`` of the delivery as the snapshot shows it) makes it the claim:
        the lease must be free and the delivery unchanged; without it the lease must be
        ``owner``'s. ``audit_events`` (of the outcomes it records) are written with it. False
        when the condition does not hold (the lease is lost)."""
        fields = {**_delivery_fields(outcomes), "forward_lease_until": lease_until}
        inc = {f"deliveries.{attempted}.attempts": 1} if attempted is not None else {}
        if claim is None:
            query: dict[str, Any] = {"_id": code, "forward_lease_owner": owner}
        else:
            index = claim["index"]
            query = {"_id": code, "forward_lease_until": {"$not": {"$gt": now}},
                     f"deliveries.{index}.id": claim["id"],
                     f"deliveries.{index}.state": claim["state"],
                     f"deliveries.{index}.attempts": claim["attempts"]}
            fields["forward_lease_owner"] = owner
        update = merge_updates({"$set": fields}, {"$inc": inc} if inc else {},
                               audit_update(audit_events or []))
        return self.prescriptions.update_one(query, update).matched_count == 1

    def release(self, code: str, *, owner: str, outcomes: Mapping[int, Mapping[str, Any]],
                audit_events: list[dict[str, Any]] | None = None,
                known: Mapping[str, Any] | None = None) -> bool:
        """Record the last outcomes (fields by delivery index) and their ``audit_events``,
        set ``forward_due_at`` and clear the lease: ONE update. False when the lease was not
        ``owner``'s any more.

        ``known`` (``{"revision", "deliveries"}``: the outbox as the lease holder knows it,
        outcomes applied) lets the due time be computed here and written with a plain ``$set``,
        on condition that :data:`REVISION` is unchanged, i.e. that no delivery was added or
        made due again since the snapshot. Otherwise (or without ``known``) the due time is
        recomputed inside the database from the array as it is then, by a pipeline update
        (which the embedded database evaluates several times slower)."""
        if known is not None:
            due = earliest_due(known["deliveries"])
            fields = _delivery_fields(outcomes)
            fields.update(forward_due_at=due, forward_open=due is not None,
                          forward_lease_until=None, forward_lease_owner=None)
            update = merge_updates({"$set": fields}, audit_update(audit_events or []))
            if self.prescriptions.update_one(
                    {"_id": code, "forward_lease_owner": owner, REVISION: known["revision"]},
                    update).matched_count == 1:
                return True
        stages = [_apply_to_element(index, values) for index, values in outcomes.items()]
        return self.prescriptions.update_one(
            {"_id": code, "forward_lease_owner": owner},
            stages + audit_stage(audit_events or []) + RELEASE).matched_count == 1

    def claim_to_recompute(self, code: str, *, owner: str, now: datetime,
                           lease_until: datetime) -> bool:
        """Claim a due prescription with nothing sendable now, only to recompute it."""
        return self.prescriptions.update_one(
            {"_id": code, "forward_open": True, "forward_due_at": {"$lte": now},
             "forward_lease_until": {"$not": {"$gt": now}}},
            {"$set": {"forward_lease_owner": owner,
                      "forward_lease_until": lease_until}}).modified_count == 1

    # --- people looking at deliveries --------------------------------------------------------
    def deliveries_of(self, code: str) -> dict[str, Any] | None:
        """``{facility, deliveries}`` of a prescription, or None."""
        return self.prescriptions.find_one({"_id": code}, {"facility": 1, "deliveries": 1})

    def containing(self, delivery_id: str) -> dict[str, Any] | None:
        """``{deliveries}`` of the prescription holding a delivery, or None."""
        return self.prescriptions.find_one({"deliveries.id": delivery_id}, {"deliveries": 1})

    def retry(self, delivery_id: str, *, by: str, now: datetime) -> bool:
        """Put a dead or failed_permanent delivery back to pending, due now; False when no
        delivery with that id is in such a state."""
        retryable = {"$in": list(RETRYABLE_BY_ADMIN)}
        changed = self.prescriptions.update_one(
            {"deliveries": {"$elemMatch": {"id": delivery_id, "state": retryable}}},
            {"$set": {"deliveries.$[d].state": DeliveryState.PENDING, "deliveries.$[d].next_attempt_at": now,
                      "deliveries.$[d].attempts": 0, "deliveries.$[d].first_attempt_at": None,
                      "deliveries.$[d].retried_at": now, "deliveries.$[d].retried_by": by,
                      "forward_due_at": now, "forward_open": True, QUEUED: now},
             "$inc": {REVISION: 1}},
            # The state condition is in the query (on the embedded database an array filter
            # on a field this update changes stops matching halfway through the $set).
            array_filters=[{"d.id": delivery_id}])
        return changed.matched_count == 1

    def refused(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` refused (failed_permanent) deliveries, oldest first, each with its
        prescription's code: ``{"_id": code, "delivery": {...}}``."""
        wanted = {"deliveries.state": DeliveryState.FAILED_PERMANENT}
        return list(self.prescriptions.aggregate([
            {"$match": wanted}, {"$project": {"deliveries": 1}},
            {"$unwind": "$deliveries"}, {"$match": wanted},
            {"$sort": {"deliveries.created_at": 1}}, {"$limit": limit},
            {"$project": {"delivery": "$deliveries"}}]))

    def count_by_state(self, states: tuple[str, ...]) -> list[dict[str, Any]]:
        """Deliveries in ``states``, counted by state and by registry or not, with the oldest
        creation time of each group (the delivery metrics)."""
        wanted = {"deliveries.state": {"$in": list(states)}}
        return list(self.prescriptions.aggregate([
            {"$match": wanted}, {"$project": {"deliveries": 1}},
            {"$unwind": "$deliveries"}, {"$match": wanted},
            {"$group": {"_id": {"state": "$deliveries.state", "registry": {
                "$eq": ["$deliveries.target", REGISTRY]}},
                "count": {"$sum": 1}, "oldest": {"$min": "$deliveries.created_at"}}}]))
