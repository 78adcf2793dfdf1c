"""Health probes, system information and Prometheus metrics."""

from __future__ import annotations

import platform

import homei as package


async def test_health_has_version_uptime_and_service_counts(homei):
    response = await homei.client.get("/health")
    assert response.status == 200
    body = await response.json()
    # No RAUC on this bus: a non-critical dependency down makes the device degraded.
    assert body["status"] == "degraded" and body["version"] == package.__version__
    assert body["uptime"] >= 0 and body["timestamp"].endswith("Z")
    assert body["services"] == {"total": 0, "healthy": 0, "unhealthy": 0, "stopped": 0}


async def test_probes(homei):
    assert await (await homei.client.get("/health/live")).json() == {"status": "alive"}
    assert await (await homei.client.get("/health/ready")).json() == {"status": "ready"}


async def test_detailed_reports_the_database(homei):
    body = await (await homei.client.get("/health/detailed")).json()
    database = body["dependencies"]["database"]
    assert database["status"] == "healthy" and database["critical"] is True
    rauc = body["dependencies"]["rauc"]
    assert rauc["status"] == "unhealthy" and rauc["critical"] is False
    assert "updates are unavailable" in rauc["message"]
    assert database["details"]["size"] > 0
    body = await (
        await homei.client.get("/api/v1/health/dependencies", headers=await homei.auth())
    ).json()
    assert body["database"]["status"] == "healthy"


async def test_a_dead_database_makes_it_unhealthy_and_not_ready(make_homei):
    homei = await make_homei()
    await homei.components.store.close()
    body = await (await homei.client.get("/health")).json()
    assert body["status"] == "unhealthy"
    response = await homei.client.get("/health/ready")
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE" and error["details"]["failing"] == ["database"]
    assert await homei.components.watchdog.healthy() is False


async def test_system_info_from_psutil(homei):
    response = await homei.client.get("/api/v1/system/info", headers=await homei.auth())
    body = await response.json()
    assert body["architecture"] == platform.machine()
    assert body["cpu_count"] >= 1 and body["memory"]["total"] > body["memory"]["available"] > 0
    assert body["disk"]["path"] == str(homei.settings.data_dir)
    assert len(body["load_average"]) == 3 and body["uptime"] > 0


async def test_status(homei):
    body = await (await homei.client.get("/api/v1/status", headers=await homei.auth())).json()
    assert body["status"] == "degraded" and body["ready"] is True and body["mode"] == "development"


async def test_metrics_use_route_templates_and_need_permission(homei):
    assert (await homei.client.get("/metrics")).status == 401
    headers = await homei.auth()
    await homei.client.get("/api/v1/tasks/task-0123456789abcdef", headers=headers)
    response = await homei.client.get("/metrics", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert (
        'api_requests_total{endpoint="/api/v1/tasks/{task_id}",method="GET",status="404"}'
        in text.replace("task_id:task-[0-9a-f]+", "task_id")
    )
    assert "task-0123456789abcdef" not in text
    assert "api_response_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text
    assert f'homei_build_info{{machine="{platform.machine()}"' in text
