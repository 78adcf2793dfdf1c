"""Prometheus metrics of the API and the daemon itself, in a registry of their own."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector

import homei

# Any token is a method to HTTP: others are counted together, or a client inventing
# methods would add a time series per invention.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """Request counts and latencies by route template, process figures and build info."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._requests = Counter(
            "api_requests_total",
            "Total API requests",
            ("method", "endpoint", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "api_response_duration_seconds",
            "API response duration",
            ("method", "endpoint"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._disconnects = Counter(
            "api_client_disconnects_total",
            "Requests whose client left before the answer was sent (not server errors)",
            ("method", "endpoint"),
            registry=self.registry,
        )
        build = Gauge(
            "homei_build_info",
            "Homei version and runtime",
            ("version", "python", "machine"),
            registry=self.registry,
        )
        build.labels(homei.__version__, platform.python_version(), platform.machine()).set(1)
        self._gauges: dict[str, Gauge] = {}
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one finished request; `endpoint` is the route template, never the raw path."""
        method = method if method in METHODS else "OTHER"
        key = (method, endpoint, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(method, endpoint, str(status)),
                self._duration.labels(method, endpoint),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_disconnect(self, method: str, endpoint: str) -> None:
        """Count one request its client abandoned (an upload cut off, a log follow closed)."""
        self._disconnects.labels(method, endpoint).inc()

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read from a callable at scrape time."""
        gauge = Gauge(name, documentation, registry=self.registry)
        gauge.set_function(read)
        self._gauges[name] = gauge

    def labelled_gauge(
        self, name: str, documentation: str, label: str, reads: dict[str, Callable[[], float]]
    ) -> None:
        """One gauge with a value per label value, each read at scrape time."""
        gauge = Gauge(name, documentation, [label], registry=self.registry)
        for value, read in reads.items():
            gauge.labels(value).set_function(read)
        self._gauges[name] = gauge

    def render(self) -> bytes:
        """The exposition-format text of every metric. CPU-light; reads /proc once."""
        return generate_latest(self.registry)
