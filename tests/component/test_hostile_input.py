"""What hostile and clumsy clients send, against a real `homei serve`: every answer is in the
envelope, nothing is a server error, and no client can hold the daemon's connections."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.daemon_process import HomeiProcess, start_homei
from tests.processes import wait_for

HEADER_TIMEOUT = 1.0
BODY_STALL_TIMEOUT = 1.5
IDLE_TIMEOUT = 3.0
PER_CLIENT = 40


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeiProcess]:
    """One daemon with short timeouts and a small per-client cap; rate limits off."""
    process = start_homei(
        tmp_path_factory.mktemp("hostile"),
        HOMEI_RATE_LIMITS__ENABLED="false",
        HOMEI_API__HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        HOMEI_API__BODY_STALL_TIMEOUT=str(BODY_STALL_TIMEOUT),
        HOMEI_API__IDLE_TIMEOUT=str(IDLE_TIMEOUT),
        HOMEI_API__MAX_CONNECTIONS_PER_CLIENT=str(PER_CLIENT),
        HOMEI_UPDATE__DBUS_ADDRESS="unix:path=/nonexistent/homei-test-bus",
    )
    process.extra["token"] = process.login()
    try:
        yield process
    finally:
        process.stop()
        log = process.log()
        assert "Traceback" not in log, log
        assert " ERROR " not in log, log


def raw_exchange(daemon: HomeiProcess, data: bytes, source: str = "127.0.0.1") -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    with socket.create_connection(
        ("127.0.0.1", daemon.port), timeout=30, source_address=(source, 0)
    ) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse(answer: bytes) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-cased names) and JSON body of one raw HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


def request(
    daemon: HomeiProcess, method: str, path: str, body: bytes, headers: dict[str, str]
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: device", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return raw_exchange(daemon, ("\r\n".join(head) + "\r\n\r\n").encode() + body)


def assert_envelope(answer: bytes, status: int, code: str) -> dict[str, Any]:
    got, headers, body = parse(answer)
    assert got == status, answer
    assert headers["content-type"].startswith("application/json"), answer
    assert headers.get("x-request-id"), answer
    assert set(body) == {"error", "timestamp"} and body["error"]["code"] == code, body
    return dict(body["error"])


LOGIN = "/api/v1/auth/login"
JSON_TYPE = {"Content-Type": "application/json"}


def test_invalid_utf8_in_a_json_body_is_400(daemon: HomeiProcess) -> None:
    body = b'{"username": "\xff\xfe", "password": "x"}'
    error = assert_envelope(
        request(daemon, "POST", LOGIN, body, JSON_TYPE), 400, "VALIDATION_ERROR"
    )
    assert "UTF-8" in error["message"]


def test_json_nested_a_thousand_levels_is_400(daemon: HomeiProcess) -> None:
    body = b'{"a":' * 1000 + b"1" + b"}" * 1000
    assert_envelope(request(daemon, "POST", LOGIN, body, JSON_TYPE), 400, "VALIDATION_ERROR")


def test_non_utf8_authorization_header_is_401(daemon: HomeiProcess) -> None:
    raw = (
        "\r\n".join(
            [
                "GET /api/v1/tasks HTTP/1.1",
                "Host: device",
                "Connection: close",
                "Authorization: Bearer ",
            ]
        ).encode()
        + b"\xff\xfe\x80\r\n\r\n"
    )
    assert_envelope(raw_exchange(daemon, raw), 401, "UNAUTHORIZED")
    # A public route is not refused for it.
    raw = b"GET /health HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
    raw += b"Authorization: Bearer \xff\r\n\r\n"
    assert parse(raw_exchange(daemon, raw))[0] == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_route_refuses_a_body_that_is_not_json(
    daemon: HomeiProcess, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"username": "admin", "password": "x"}'
    error = assert_envelope(
        request(daemon, "POST", LOGIN, body, headers), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    assert error["details"]["expected"] == "application/json"


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /health HTTP/1.1\r\nHost: d\r\nBad Header Line\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # TLS to a plain port
        b"GET /health HTTP/1.1\r\nHost: d\r\nContent-Length: -5\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: d\r\n\r\n",
    ],
    ids=["bad-header", "tls-hello", "negative-length", "long-line"],
)
def test_protocol_errors_answer_in_the_envelope(daemon: HomeiProcess, raw: bytes) -> None:
    status, _, body = parse(raw_exchange(daemon, raw))
    assert 400 <= status < 500
    assert body["error"]["code"] and body["error"]["message"]


@pytest.mark.parametrize("filename", ["../evil.raucb", "a/b.raucb", "..", "x\\y.raucb"])
def test_bundle_name_with_a_folder_is_refused(daemon: HomeiProcess, filename: str) -> None:
    path = f"/api/v1/update/bundles?filename={urllib.request.quote(filename, safe='')}"
    headers = {
        "Authorization": f"Bearer {daemon.extra['token']}",
        "Content-Type": "application/octet-stream",
    }
    error = assert_envelope(
        request(daemon, "POST", path, b"bundle", headers), 400, "VALIDATION_ERROR"
    )
    assert error["details"]["fields"][0]["path"] == "query.filename"


def metric(daemon: HomeiProcess, name: str, **labels: str) -> float:
    """One sample of `/metrics`, 0 when absent."""
    req = urllib.request.Request(
        f"{daemon.url}/metrics", headers={"Authorization": f"Bearer {daemon.extra['token']}"}
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_client_leaving_an_upload_is_no_server_error(daemon: HomeiProcess) -> None:
    path = "/api/v1/update/bundles?filename=cut.raucb"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer {daemon.extra['token']}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
    ).encode()
    endpoint = {"method": "POST", "endpoint": "/api/v1/update/bundles"}
    before = metric(daemon, "api_client_disconnects_total", **endpoint)
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=30) as sock:
        sock.sendall(head + b"x" * 300_000)
    wait_for(
        lambda: metric(daemon, "api_client_disconnects_total", **endpoint) == before + 1,
        30,
        lambda: AssertionError(f"the cut upload was not counted:\n{daemon.log()}"),
    )
    assert metric(daemon, "api_requests_total", status="500", **endpoint) == 0


def test_slow_clients_cannot_hold_the_api(daemon: HomeiProcess) -> None:
    """A few hundred slow connections from one address: those over its cap are refused at
    once, the rest are cut by the header, body and idle timeouts, and another client is
    answered all along."""

    def opened(payload: bytes) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=30)
        if payload:
            sock.sendall(payload)
        return sock

    trickled = b"GET /health HTTP/1.1\r\nHost: d\r\nX-Slow: "
    half_body = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"user'
    )
    kinds = [b"", trickled, half_body]
    started = time.monotonic()
    sockets = [opened(kinds[i % 3]) for i in range(300)]
    try:
        # Another client (another loopback address) is served while they hang on.
        for _ in range(5):
            status, _, _ = parse(
                raw_exchange(
                    daemon,
                    b"GET /health HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
                    "127.0.0.2",
                )
            )
            assert status == 200
        answers: dict[int, bytes] = {}

        def drain(index: int, sock: socket.socket) -> None:
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except ConnectionResetError:
                pass  # closed with bytes unread: the kernel resets instead
            answers[index] = data

        readers = [threading.Thread(target=drain, args=(i, s)) for i, s in enumerate(sockets)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(60)
        elapsed = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    assert len(answers) == 300, "some slow connections were never closed"
    refused = [a for a in answers.values() if a.startswith(b"HTTP/1.1 429")]
    # Slots freed by the timeouts may let a few more in while the 300 are being opened.
    assert 300 - 2 * PER_CLIENT <= len(refused) <= 300 - PER_CLIENT
    assert parse(refused[0])[2]["error"]["code"] == "TOO_MANY_CONNECTIONS"
    timed_out = [a for a in answers.values() if a.startswith(b"HTTP/1.1 408")]
    assert timed_out, "no trickled headers were cut with 408"
    # Everyone was let go well before the idle timeout's second round.
    assert elapsed < IDLE_TIMEOUT * 2 + 10


def test_a_stalled_body_is_cut_and_a_moving_one_is_not(daemon: HomeiProcess) -> None:
    body = b'{"username": "admin", "password": "' + b"x" * 60 + b'"}'
    head = (
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    source = ("127.0.0.3", 0)
    with socket.create_connection(("127.0.0.1", daemon.port), 30, source) as moving:
        moving.sendall(head)
        started = time.monotonic()
        # The client's pace is what is under test: a few bytes every half stall timeout,
        # for several stall timeouts in all.
        for offset in range(0, len(body), 10):
            moving.sendall(body[offset : offset + 10])
            time.sleep(BODY_STALL_TIMEOUT / 2)
        assert time.monotonic() - started > 3 * BODY_STALL_TIMEOUT
        answer = moving.recv(65536)
    assert parse(answer)[0] == 401, answer  # heard out in full: a wrong password

    with socket.create_connection(("127.0.0.1", daemon.port), 30, source) as stalled:
        stalled.sendall(head + body[:20])
        started = time.monotonic()
        assert stalled.recv(65536) == b""  # closed, with nothing to say
        assert BODY_STALL_TIMEOUT <= time.monotonic() - started < BODY_STALL_TIMEOUT + 10
