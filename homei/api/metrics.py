"""`/metrics`: the Prometheus exposition of the daemon's metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.monitor.api_metrics import ApiMetrics


class MetricsApi:
    """Scraped by Prometheus with an API key of role `metrics`."""

    def __init__(self, metrics: ApiMetrics) -> None:
        self._metrics = metrics

    @endpoint(
        "GET",
        "/metrics",
        summary="Prometheus metrics",
        tag="monitoring",
        permission=Permission.METRICS,
        content_type="text/plain",
    )
    async def scrape(self, request: web.Request) -> web.Response:
        """Request counts and latencies by route template, process figures, build info."""
        await self._metrics.refresh()
        body = await asyncio.to_thread(self._metrics.render)
        response = web.Response(body=body)
        response.headers["Content-Type"] = self._metrics.content_type
        return response
