"""Prometheus metrics: request counts and latency histograms by endpoint and status.

Under gunicorn, ``erx-gateway run`` sets ``PROMETHEUS_MULTIPROC_DIR`` so that ``/metrics``
aggregates every worker (prometheus_client's multiprocess mode); a single process (tests, the
Flask dev server) uses the default registry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

# Made here, registered by the composition root (init_app): nothing registers at import.
REQUESTS = Counter("erx_http_requests_total", "HTTP requests answered",
                   ["method", "endpoint", "status"], registry=None)
LATENCY = Histogram("erx_http_request_duration_seconds", "HTTP request latency",
                    ["method", "endpoint", "status"],
                    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                    registry=None)
_REGISTERED: set[Collector] = set()


def _observe(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
    labels = (request.method, endpoint, str(response.status_code))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(time.perf_counter() - g.get("started", time.perf_counter()))
    return response


class _ScrapeCollectors:
    def __init__(self, collectors: Sequence[Any]) -> None:
        self.collectors = collectors

    def collect(self) -> Any:
        for collector in self.collectors:
            yield from collector.collect()


def render(collectors: Sequence[Any] = ()) -> Response:
    """The metrics page; ``collectors`` (objects with ``collect()``) run at each scrape, for
    figures read from the database rather than counted in one process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    if collectors:
        payload += generate_latest(_ScrapeCollectors(collectors))
    return Response(payload, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask, process_metrics: Sequence[Collector] = ()) -> None:
    """Count ``app``'s requests, and register its metrics and ``process_metrics`` (those of the
    other packages, made with ``registry=None``) in the process's default registry, once per
    process however many apps it builds. Under multiprocess mode the figures go to the shared
    directory whatever the registry."""
    app.after_request(_observe)
    for collector in (REQUESTS, LATENCY, *process_metrics):
        if collector not in _REGISTERED:
            REGISTRY.register(collector)
            _REGISTERED.add(collector)
