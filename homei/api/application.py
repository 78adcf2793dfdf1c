"""The aiohttp application around the handlers: middlewares, body limits, the routes the
handlers declare, and the OpenAPI document and its viewers built from those routes."""

from __future__ import annotations

from aiohttp import web

from homei.api.accesslog import AccessLog
from homei.api.docs import DocsApi
from homei.api.middleware import AccessPolicy
from homei.api.middleware import install as install_pipeline
from homei.api.openapi import SchemaRefinement, build_document
from homei.api.routing import MAX_BODY_SIZE, register
from homei.core.accounts import Accounts
from homei.core.ratelimit import RateLimiter
from homei.monitor.api_metrics import ApiMetrics
from homei.settings import Settings


def web_application(
    settings: Settings,
    accounts: Accounts,
    metrics: ApiMetrics,
    access_log: AccessLog,
    limiter: RateLimiter,
    handlers: list[object],
    *,
    refine: list[SchemaRefinement],
) -> web.Application:
    """The application serving `handlers`, with `/openapi.json` and the docs beside them."""
    policy = AccessPolicy(accounts, limiter, settings.rate_limits)
    app = web.Application(
        client_max_size=settings.api.max_body_size,
        # A bigger socket read buffer (64 KiB by default) pauses a streamed upload less often.
        handler_args={"read_bufsize": 1024 * 1024},
    )
    install_pipeline(app, metrics, access_log, policy)
    app[MAX_BODY_SIZE] = settings.api.max_body_size
    endpoints = register(app, handlers)
    register(app, [DocsApi(lambda: build_document(endpoints, refine=refine))])
    return app
