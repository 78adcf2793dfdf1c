"""Every failure comes back in the one envelope, with a request id."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from homei.core.errors import HomeiError
from homei.monitor.api_metrics import ApiMetrics


def assert_envelope(body: dict[str, Any], code: str) -> dict[str, Any]:
    assert set(body) == {"error", "timestamp"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["timestamp"].endswith("Z")
    return body["error"]


async def test_unknown_route_is_404_envelope(homei):
    response = await homei.client.get("/api/v1/nope")
    assert response.status == 404
    assert_envelope(await response.json(), "NOT_FOUND")
    assert response.headers["X-Request-ID"]


async def test_wrong_method_is_405_with_allow(homei):
    response = await homei.client.delete("/health")
    assert response.status == 405
    error = assert_envelope(await response.json(), "METHOD_NOT_ALLOWED")
    assert "GET" in error["details"]["allowed"]
    assert "GET" in response.headers["Allow"]


async def test_body_over_limit_is_413(make_homei):
    homei = await make_homei("[api]\nmax_body_size = 1024\n[rate_limits]\nenabled = false\n")
    response = await homei.client.post(
        "/api/v1/auth/login",
        data=b"{" + b" " * 4096 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert_envelope(await response.json(), "PAYLOAD_TOO_LARGE")


async def test_body_over_limit_without_length_is_413(make_homei):
    homei = await make_homei("[api]\nmax_body_size = 1024\n[rate_limits]\nenabled = false\n")

    async def chunks():
        for _ in range(8):
            yield b" " * 512

    response = await homei.client.post(
        "/api/v1/auth/login", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert_envelope(await response.json(), "PAYLOAD_TOO_LARGE")


async def test_malformed_json_is_validation_error(homei):
    response = await homei.client.post(
        "/api/v1/auth/login", data=b'{"username": ', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    error = assert_envelope(await response.json(), "VALIDATION_ERROR")
    assert "Malformed JSON" in error["message"]


async def test_invalid_field_names_its_path(homei):
    response = await homei.client.post("/api/v1/auth/login", json={"username": 5, "password": "x"})
    assert response.status == 400
    error = assert_envelope(await response.json(), "VALIDATION_ERROR")
    assert error["details"]["fields"][0]["path"] == "body.username"


async def test_missing_field_names_it(homei):
    response = await homei.client.post("/api/v1/auth/login", json={"username": "admin"})
    assert response.status == 400
    error = assert_envelope(await response.json(), "VALIDATION_ERROR")
    assert "password" in error["message"]


async def test_invalid_query_parameter_names_its_path(homei):
    headers = await homei.auth()
    response = await homei.client.get("/api/v1/tasks?limit=many", headers=headers)
    assert response.status == 400
    error = assert_envelope(await response.json(), "VALIDATION_ERROR")
    assert error["details"]["fields"][0]["path"] == "query.limit"


async def test_client_request_id_is_echoed(homei):
    response = await homei.client.get("/health", headers={"X-Request-ID": "probe-42"})
    assert response.headers["X-Request-ID"] == "probe-42"
    # An id that could forge log lines is replaced, not echoed.
    response = await homei.client.get("/health", headers={"X-Request-ID": "a b\tc"})
    assert response.headers["X-Request-ID"] != "a b\tc"


async def test_unexpected_exception_is_500_without_traceback(homei, caplog):
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals at /srv/x.py line 3")

    # A route added for the test only: routers freeze on start, so use a fresh app.
    from aiohttp.test_utils import TestClient, TestServer

    from homei.api.middleware import make_error_middleware
    from homei.monitor.api_metrics import ApiMetrics

    app = web.Application(middlewares=[make_error_middleware(ApiMetrics())])
    app.router.add_get("/boom", explode)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "req-500"})
        assert response.status == 500
        text = await response.text()
        error = assert_envelope(await response.json(), "INTERNAL_ERROR")
        assert "secret internals" not in text and "Traceback" not in text
        assert error["details"]["requestId"] == "req-500"
    assert any("req-500" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_homei_error_keeps_its_status_and_code(homei):
    class Teapot(HomeiError):
        code = "TEAPOT"
        status = 418

    async def brew(request: web.Request) -> web.Response:
        raise Teapot("short and stout", {"spout": True})

    from aiohttp.test_utils import TestClient, TestServer

    from homei.api.middleware import make_error_middleware
    from homei.monitor.api_metrics import ApiMetrics

    app = web.Application(middlewares=[make_error_middleware(ApiMetrics())])
    app.router.add_get("/tea", brew)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/tea")
        assert response.status == 418
        error = assert_envelope(await response.json(), "TEAPOT")
        assert error["details"] == {"spout": True}


async def _metric_lines(metrics: ApiMetrics, name: str) -> list[str]:
    text = (await asyncio.to_thread(metrics.render)).decode()  # reads /proc
    return [
        line
        for line in text.splitlines()
        if line.startswith(name + "{") and not line.endswith(" 0.0")
    ]


async def test_a_file_gone_before_its_download_is_a_404_envelope(tmp_path):
    """The download opens its file before answering: one deleted meanwhile is a 404 in the
    envelope (not an empty 404 labelled as the file's type), counted as a 404."""
    from aiohttp.test_utils import TestClient, TestServer

    from homei.api.download import send_file
    from homei.api.middleware import make_error_middleware
    from homei.core.errors import NotFound

    async def download(request: web.Request) -> web.StreamResponse:
        return await send_file(
            request,
            tmp_path / "deleted.tar",
            content_type="application/x-tar",
            filename="deleted.tar",
            missing=lambda: NotFound("Backup 'deleted.tar' not found"),
        )

    metrics = ApiMetrics()
    app = web.Application(middlewares=[make_error_middleware(metrics)])
    app.router.add_get("/download", download)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/download")
        assert response.status == 404
        assert_envelope(await response.json(), "NOT_FOUND")
    assert any(
        'status="404"' in line for line in await _metric_lines(metrics, "api_requests_total")
    )


async def test_the_status_recorded_is_the_one_sent(tmp_path):
    """A response whose status changes as it is prepared (aiohttp's FileResponse finding no
    file) is logged and counted with the status that went out."""
    from aiohttp.test_utils import TestClient, TestServer

    from homei.api.middleware import make_error_middleware

    async def stale(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(tmp_path / "gone")

    metrics = ApiMetrics()
    app = web.Application(middlewares=[make_error_middleware(metrics)])
    app.router.add_get("/stale", stale)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/stale")
        assert response.status == 404
    counted = await _metric_lines(metrics, "api_requests_total")
    assert counted and all('status="404"' in line for line in counted), counted


async def test_streams_and_upgrades_carry_request_id_and_rate_limit_headers(homei):
    headers = {**(await homei.auth()), "X-Request-ID": "ws-probe-1"}
    async with homei.client.ws_connect("/ws/events", headers=headers) as ws:
        upgrade = ws._response.headers
        assert upgrade["X-Request-ID"] == "ws-probe-1"
        assert int(upgrade["X-RateLimit-Limit"]) > 0
        assert "X-RateLimit-Remaining" in upgrade


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
async def test_docs_send_no_rate_limit_headers(homei, path):
    """The docs count against no quota, so they claim none (not a limit of 0)."""
    response = await homei.client.get(path)
    assert response.status == 200
    assert "X-RateLimit-Limit" not in response.headers
    assert response.headers["X-Request-ID"]


async def test_errors_name_the_resource_not_the_device_internals(homei):
    """Docker's socket path, errno numbers and folders on the device stay out of answers."""
    headers = await homei.auth()
    response = await homei.client.get("/api/v1/containers", headers=headers)
    assert response.status == 503
    text = await response.text()
    assert "docker" in text.lower()
    assert "/nonexistent" not in text and "Errno" not in text, text
    response = await homei.client.post(
        "/api/v1/update/install", headers=headers, json={"bundle_path": "/etc/secret/x.raucb"}
    )
    text = await response.text()
    assert response.status in (400, 503), text
    assert "/etc/secret" not in text and str(homei.settings.data_dir) not in text, text


def test_redact_keeps_the_resource_and_drops_the_rest():
    from homei.core.errors import redact

    assert redact("[Errno 2] No such file: '/var/lib/homei/backups/b.tar'") == (
        "No such file: 'b.tar'"
    )
    assert redact("lookup registry.example on 10.0.0.1:53: no such host") == (
        "lookup registry.example: no such host"
    )
    assert redact("Cannot connect to unix socket /run/docker.sock ssl:default") == (
        "Cannot connect to unix socket docker.sock ssl:default"
    )
    # What a client sent itself stays as sent.
    assert (
        redact("'/etc/x' is outside the allowed roots") == "'/etc/x' is outside the allowed roots"
    )
