"""Prometheus metrics of the API and the daemon itself, in a registry of their own.

Requests are counted in plain dictionaries; prometheus-client is imported on the first
scrape, which builds the registry around them. An idle daemon nobody scrapes never loads
it, and counting a request costs two dictionary updates instead of two locked metrics.
"""

from __future__ import annotations

import bisect
import platform
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import msgspec

import homei
from homei.core.lazy import load

# Any token is a method to HTTP: others are counted together, or a client inventing
# methods would add a time series per invention.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Durations(msgspec.Struct):
    """One histogram's counts per bucket (not cumulative; the last is +Inf) and their sum."""

    counts: list[int] = msgspec.field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


class _Gauge(msgspec.Struct, frozen=True):
    """A gauge read at scrape time: one value, or one per label value."""

    name: str
    documentation: str
    label: str | None
    reads: dict[str, Callable[[], float]]


class ApiMetrics:
    """Request counts and latencies by route template, process figures and build info."""

    content_type = "text/plain; version=1.0.0; charset=utf-8"  # prometheus-client's latest

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        self._durations: dict[tuple[str, str], _Durations] = {}
        self._disconnects: dict[tuple[str, str], int] = {}
        self._gauges: dict[str, _Gauge] = {}
        self._collectors: list[Callable[[], Iterator[Any]]] = []
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self._registry: Any = None

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one finished request; `endpoint` is the route template, never the raw path."""
        method = method if method in METHODS else "OTHER"
        key = (method, endpoint, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        durations = self._durations.get((method, endpoint))
        if durations is None:
            durations = self._durations[(method, endpoint)] = _Durations()
        durations.observe(seconds)

    def observe_disconnect(self, method: str, endpoint: str) -> None:
        """Count one request its client abandoned (an upload cut off, a log follow closed)."""
        key = (method if method in METHODS else "OTHER", endpoint)
        self._disconnects[key] = self._disconnects.get(key, 0) + 1

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read from a callable at scrape time."""
        self._gauges[name] = _Gauge(name, documentation, None, {"": read})

    def labelled_gauge(
        self, name: str, documentation: str, label: str, reads: dict[str, Callable[[], float]]
    ) -> None:
        """One gauge with a value per label value, each read at scrape time."""
        self._gauges[name] = _Gauge(name, documentation, label, dict(reads))

    def add_collector(
        self,
        collect: Callable[[], Iterator[Any]],
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Metric families of a component, from `collect` on the scrape's thread; `refresh`
        (if given) runs on the event loop before each scrape, to fetch what `collect` reads."""
        self._collectors.append(collect)
        if refresh is not None:
            self._refreshers.append(refresh)

    async def refresh(self) -> None:
        """Bring the components' figures up to date before a scrape."""
        for refresh in self._refreshers:
            await refresh()

    def render(self) -> bytes:
        """The exposition-format text of every metric (blocking: run it on a thread)."""
        exposition = load("prometheus_client.exposition")
        if self._registry is None:
            self._registry = self._make_registry()
        text: bytes = exposition.generate_latest(self._registry)
        return text

    def _make_registry(self) -> Any:
        registry_module = load("prometheus_client.registry")
        process = load("prometheus_client.process_collector")
        registry = registry_module.CollectorRegistry()
        process.ProcessCollector(registry=registry)
        registry.register(_Collector(self))
        return registry

    def collect(self) -> Iterator[Any]:
        """The metric families of one scrape, from the counts as they are now."""
        core = load("prometheus_client.metrics_core")
        requests = core.CounterMetricFamily(
            "api_requests", "Total API requests", labels=("method", "endpoint", "status")
        )
        # list(): the event loop may add a key while this thread reads.
        for (method, endpoint, status), count in list(self._requests.items()):
            requests.add_metric((method, endpoint, str(status)), count)
        yield requests
        duration = core.HistogramMetricFamily(
            "api_response_duration_seconds",
            "API response duration",
            labels=("method", "endpoint"),
        )
        for (method, endpoint), durations in list(self._durations.items()):
            counts, cumulative, buckets = list(durations.counts), 0, []
            for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            duration.add_metric((method, endpoint), buckets, durations.total)
        yield duration
        disconnects = core.CounterMetricFamily(
            "api_client_disconnects",
            "Requests whose client left before the answer was sent (not server errors)",
            labels=("method", "endpoint"),
        )
        for (method, endpoint), count in list(self._disconnects.items()):
            disconnects.add_metric((method, endpoint), count)
        yield disconnects
        build = core.GaugeMetricFamily(
            "homei_build_info", "Homei version and runtime", labels=("version", "python", "machine")
        )
        build.add_metric((homei.__version__, platform.python_version(), platform.machine()), 1)
        yield build
        for gauge in list(self._gauges.values()):
            labels = () if gauge.label is None else (gauge.label,)
            family = core.GaugeMetricFamily(gauge.name, gauge.documentation, labels=labels)
            for value, read in gauge.reads.items():
                family.add_metric(() if gauge.label is None else (value,), read())
            yield family
        for collect in list(self._collectors):
            yield from collect()


class _Collector:
    """Hands the registry what `ApiMetrics` counted, at each scrape."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        return self._metrics.collect()
