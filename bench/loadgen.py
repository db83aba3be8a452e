"""A small HTTP load generator run in its own process (so it does not share the GIL with the
server under test). Closed loop: ``concurrency`` keep-alive connections each send the next
request as soon as the previous answer arrives. Open loop: requests are scheduled at a fixed
rate and latency is measured from the scheduled time (no coordinated omission); with
``cut_off``, a request that could not be sent by the end of its phase (every connection still
waiting for an answer) is not sent at all, and counted as such: the phase lasts its length, not
as long as a saturated server takes to answer everything scheduled.
"""

from __future__ import annotations

import http.client
import multiprocessing
import random
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Request:
    method: str
    paths: list[str]          # one is picked at random per request
    body: bytes | None
    headers: dict[str, str]
    bodies: list[bytes] | None = None  # when given, one is picked at random per request
    in_order: bool = False  # paths and bodies taken in turn (the n-th request the n-th), not at random


@dataclass
class Result:
    sent: int
    ok: int
    statuses: dict[int, int]
    elapsed: float
    latencies: list[float]
    unsent: int = 0  # open loop with cut_off: scheduled, but not sent by the phase's end

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def _send(connection: http.client.HTTPConnection, request: Request, index: int) -> int:
    if request.in_order:
        path = request.paths[index % len(request.paths)]
        body = request.bodies[index % len(request.bodies)] if request.bodies else request.body
    else:
        path = random.choice(request.paths)
        body = random.choice(request.bodies) if request.bodies else request.body
    connection.request(request.method, path, body=body, headers=request.headers)
    response = connection.getresponse()
    response.read()
    return response.status


def _attempt(connection: http.client.HTTPConnection, request: Request, host: str,
             port: int, index: int = 0) -> tuple[int, http.client.HTTPConnection]:
    """Send once (``index``: the request's number, for ``in_order``); a broken connection
    counts as status 0 and is replaced."""
    try:
        return _send(connection, request, index), connection
    except (OSError, http.client.HTTPException):
        connection.close()
        return 0, http.client.HTTPConnection(host, port, timeout=30)


class _Tally:
    """Answers counted by status, and latencies of the 2xx ones, from many threads."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()

    def add(self, status: int, took: float) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                self.latencies.append(took)

    def result(self, elapsed: float, unsent: int = 0) -> Result:
        return Result(sum(self.statuses.values()), len(self.latencies), self.statuses,
                      elapsed, self.latencies, unsent)


def _closed(host: str, port: int, request: Request, concurrency: int, seconds: float) -> Result:
    deadline = time.perf_counter() + seconds
    tally = _Tally()

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, connection = _attempt(connection, request, host, port)
            tally.add(status, time.perf_counter() - started)
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally.result(time.perf_counter() - started)


def _open(host: str, port: int, request: Request, rate: float, seconds: float,
          cut_off: bool = False) -> Result:
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    end = start + seconds
    tally = _Tally()
    next_index = [0]
    unsent = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            with tally.lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= total:
                break
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif cut_off and time.perf_counter() >= end:
                with tally.lock:
                    unsent[0] += 1
                continue
            status, connection = _attempt(connection, request, host, port, index)
            tally.add(status, time.perf_counter() - scheduled)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally.result(time.perf_counter() - start, unsent[0])


def _raw_inserts(uri: str, database: str, body: bytes, concurrency: int,
                 seconds: float) -> Result:
    """The baseline: ``concurrency`` threads inserting the parsed JSON with pymongo, each as
    soon as the previous insert is acknowledged."""
    import json

    import pymongo

    client: pymongo.MongoClient = pymongo.MongoClient(uri, maxPoolSize=concurrency + 2)
    collection = client[database]["raw_inserts"]
    deadline = time.perf_counter() + seconds
    tally = _Tally()

    def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            collection.insert_one(json.loads(body))
            tally.add(201, time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = tally.result(time.perf_counter() - started)
    client.close()
    return result


def _child(queue: Any, mode: str, args: tuple[Any, ...]) -> None:
    if mode == "raw":
        queue.put(_raw_inserts(*args))
        return
    queue.put(_closed(*args) if mode == "closed" else _open(*args))


def raw_inserts(uri: str, database: str, body: bytes, concurrency: int,
                seconds: float) -> Result:
    """:func:`_raw_inserts` in a separate process (its own GIL, like the HTTP load)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child,
                              args=(queue, "raw", (uri, database, body, concurrency, seconds)))
    process.start()
    result = queue.get(timeout=seconds + 300)
    process.join(30)
    return result


def run(mode: str, host: str, port: int, request: Request, level: float,
        seconds: float, cut_off: bool = False) -> Result:
    """Run one load in a separate process: ``mode`` ``closed`` (``level`` = concurrency) or
    ``open`` (``level`` = requests per second; ``cut_off``: nothing is sent after the phase's
    end)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args: tuple[Any, ...] = ((host, port, request, int(level), seconds) if mode == "closed"
                             else (host, port, request, level, seconds, cut_off))
    process = context.Process(target=_child, args=(queue, mode, args))
    process.start()
    result = queue.get(timeout=seconds + 300)
    process.join(30)
    return result
