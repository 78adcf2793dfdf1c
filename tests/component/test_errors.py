"""Every failure comes back in the one envelope, with a request id."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from homei.core.errors import HomeiError


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
