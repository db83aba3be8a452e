"""Counting the database commands an app sends (a pymongo command listener)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

NOT_OPERATIONS = frozenset({"hello", "ismaster", "isMaster", "saslStart", "saslContinue",
                            "endSessions", "ping", "buildInfo"})


class Commands(CommandListener):
    """Every database command the app sends: (thread, command, collection)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name in NOT_OPERATIONS:
            return
        target = event.command.get(event.command_name)
        if event.command_name == "getMore":
            target = event.command.get("collection")
        with self._lock:
            self.seen.append((threading.get_ident(), event.command_name,
                              target if isinstance(target, str) else str(event.database_name)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    @contextmanager
    def on_this_thread(self) -> Iterator[list[tuple[str, str]]]:
        """The commands this thread sends inside the block, as (command, collection)."""
        me, start = threading.get_ident(), len(self.seen)
        found: list[tuple[str, str]] = []
        yield found
        with self._lock:
            found += [(name, target) for thread, name, target in self.seen[start:] if thread == me]

    @contextmanager
    def everywhere(self) -> Iterator[list[tuple[str, str]]]:
        """Every command any thread sends inside the block."""
        start = len(self.seen)
        found: list[tuple[str, str]] = []
        yield found
        with self._lock:
            found += [(name, target) for _, name, target in self.seen[start:]]
