"""`/ws/events`: authenticated, filtered, heartbeating, and never slowed by a slow client."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest


async def receive_json(ws, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        return await ws.receive_json()


async def test_events_need_a_token(homei):
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await homei.client.ws_connect("/ws/events")
    assert raised.value.status == 401


async def test_token_in_query_and_filtered_delivery(homei):
    token = await homei.token()
    async with homei.client.ws_connect(f"/ws/events?token={token}&types=service:*") as ws:
        hello = await receive_json(ws)
        assert hello["type"] == "connected" and hello["data"]["patterns"] == ["service:*"]
        homei.components.events.publish("task:created", {"taskId": "ignored"})
        homei.components.events.publish("service:started", {"service": "jellyfin"})
        event = await receive_json(ws)
        assert event["type"] == "service:started"
        assert event["data"] == {"service": "jellyfin"}
        assert event["timestamp"].endswith("Z")


async def test_header_token_and_task_events(homei):
    headers = await homei.auth()
    async with homei.client.ws_connect("/ws/events?types=task:*", headers=headers) as ws:
        assert (await receive_json(ws))["type"] == "connected"
        response = await homei.client.post(
            "/api/v1/tasks", headers=headers, json={"type": "database_check"}
        )
        task_id = (await response.json())["id"]
        types = []
        while "task:completed" not in types:
            event = await receive_json(ws)
            assert event["data"]["taskId"] == task_id
            types.append(event["type"])
        assert types[0] == "task:created"


async def test_client_that_falls_behind_is_closed_with_1013(make_homei):
    homei = await make_homei("[events]\nqueue_size = 8\n[rate_limits]\nenabled = false\n")
    ws = await homei.client.ws_connect("/ws/events", headers=await homei.auth())
    assert (await receive_json(ws))["type"] == "connected"
    bus = homei.components.events
    # A burst far larger than the client's queue, published without yielding: the
    # publisher never waits, the subscriber is dropped.
    for number in range(100):
        bus.publish("system:test", {"n": number})
    async with asyncio.timeout(30):
        async for _ in ws:
            pass
    assert ws.close_code == 1013
    assert bus.dropped_subscribers == 1


async def test_a_client_that_never_reads_cannot_slow_the_daemon(make_homei):
    homei = await make_homei("[events]\nqueue_size = 16\n[rate_limits]\nenabled = false\n")
    token = await homei.token()
    good = await homei.client.ws_connect("/ws/events", headers={"Authorization": f"Bearer {token}"})
    assert (await receive_json(good))["type"] == "connected"
    # A raw client: handshake, then never read another byte.
    reader, writer = await asyncio.open_connection(homei.client.host, homei.client.port)
    writer.write(
        f"GET /ws/events?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    assert b"101" in await reader.readline()
    bus = homei.components.events
    loop = asyncio.get_running_loop()
    received = 0
    deadline = loop.time() + 60
    while bus.dropped_subscribers == 0 and loop.time() < deadline:
        for _ in range(8):
            bus.publish("system:test", {"pad": "x" * 4096})
        received += 1
        # The well-behaved client keeps up, and the API keeps answering meanwhile.
        for _ in range(8):
            await receive_json(good)
    assert bus.dropped_subscribers == 1
    response = await homei.client.get("/health/live")
    assert response.status == 200
    bus.publish("system:after", {})
    while (event := await receive_json(good))["type"] != "system:after":
        pass
    assert event["type"] == "system:after"
    writer.close()
    await good.close()


async def test_shutdown_closes_streams_with_1001(make_homei):
    homei = await make_homei()
    ws = await homei.client.ws_connect("/ws/events", headers=await homei.auth())
    assert (await receive_json(ws))["type"] == "connected"
    await homei.components.websockets.close_all()
    async with asyncio.timeout(10):
        message = await ws.receive()
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 1001
