"""Searching the audit trail: the event filter, pages, exports and a patient's access log.

One implementation for every face that reads the trail (``GET /v2/audit/events``,
``GET /v2/patients/{cccd}/access-log`` and the inspector's pages of the console), so they
filter, page, export and audit alike. Each read first numbers the events still waiting for the
sequencer (:meth:`AuditLog.catch_up`), so it shows everything recorded before it. No HTTP here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from gateway.audit import store
from gateway.audit.log import ACCESS_ACTIONS, ACTIONS, AuditLog
from gateway.audit.store import event_from_document, format_time, utc
from gateway.parties.store import PartyStore

#: Columns of the CSV export, one row per event (``actor_user``: the person, console events).
CSV_COLUMNS = ("seq", "time", "actor_party_id", "actor_role", "action", "object_type",
               "object_id", "outcome", "request_id", "client_address", "content_sha256",
               "patient_hash", "details", "actor_user")
#: The filters of an event search (``from_``/``to`` are aware datetimes, ``cursor`` a seq).
FILTERS = ("actor", "user", "action", "prescription", "patient", "from_", "to", "cursor")


def known_action(action: str) -> bool:
    """An action name of :data:`ACTIONS`, or a family of them such as ``prescription.*``."""
    if action in ACTIONS:
        return True
    return action.endswith(".*") and any(name.startswith(action[:-1]) for name in ACTIONS)


def event_query(args: Mapping[str, Any], audit: AuditLog) -> dict[str, Any]:
    """The database filter of a search (keys of :data:`FILTERS`; a CCCD is hashed here)."""
    actions = None
    if args.get("action"):
        action = args["action"]
        actions = ([name for name in ACTIONS if name.startswith(action[:-1])]
                   if action.endswith(".*") else [action])
    return store.event_filter(
        actor=args.get("actor") or None, user=args.get("user") or None, actions=actions,
        prescription=args.get("prescription") or None,
        patient_hash=audit.patient_hash(args["patient"]) if args.get("patient") else None,
        since=utc(args["from_"]) if args.get("from_") is not None else None,
        until=utc(args["to"]) if args.get("to") is not None else None,
        after=int(args["cursor"]) if args.get("cursor") is not None else None)


def events_page(audit: AuditLog, query: Mapping[str, Any],
                limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` events in sequence order, and the cursor of the next page."""
    audit.catch_up()
    docs = store.find_page(audit.database, query, limit + 1)
    items = [event_from_document(doc) for doc in docs[:limit]]
    return items, (str(items[-1]["seq"]) if len(docs) > limit else None)


def every_event(audit: AuditLog, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every matching event in sequence order (exports)."""
    audit.catch_up()
    return (event_from_document(doc) for doc in store.iterate(audit.database, query))


def csv_row(event: Mapping[str, Any]) -> list[Any]:
    obj = event["object"] or {}
    return [event["seq"], event["time"], event["actor"]["party_id"] or "",
            event["actor"]["role"] or "", event["action"], obj.get("type", ""),
            obj.get("id", ""), event["outcome"], event["request_id"] or "",
            event["client_address"] or "", event["content_sha256"] or "",
            event["patient_hash"] or "",
            json.dumps(event["details"], ensure_ascii=False, sort_keys=True)
            if event["details"] is not None else "",
            event["actor"].get("user") or ""]


def access_log(audit: AuditLog, parties: PartyStore, cccd: str, *, cursor: str | None,
               limit: int) -> dict[str, Any]:
    """Who read, printed or dispensed the person's prescriptions, oldest first; the reading
    is itself recorded (``patient.access_log_viewed``)."""
    audit.catch_up()
    query = store.event_filter(patient_hash=audit.patient_hash(cccd),
                               actions=list(ACCESS_ACTIONS),
                               after=int(cursor) if cursor is not None else None)
    docs = store.find_page(audit.database, query, limit + 1)
    page = docs[:limit]
    names = parties.names(d["actor"]["party_id"] for d in page if d["actor"].get("party_id"))
    items = [{"seq": doc["_id"], "time": format_time(doc["time"]),
              "party_id": doc["actor"].get("party_id"),
              "party_name": names.get(doc["actor"].get("party_id")),
              "role": doc["actor"].get("role"), "user": doc["actor"].get("user"),
              "action": doc["action"],
              "ma_don_thuoc": (doc.get("object") or {}).get("id"), "outcome": doc["outcome"]}
             for doc in page]
    audit.record("patient.access_log_viewed", patient_id=cccd)
    return {"items": items, "next_cursor": str(page[-1]["_id"]) if len(docs) > limit else None}


def valid_cccd(cccd: str) -> bool:
    """A CCCD (citizen identity number): 12 ASCII digits."""
    return len(cccd) == 12 and cccd.isascii() and cccd.isdigit()
