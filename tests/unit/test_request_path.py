"""What the request pipeline does per request without asking the system: ids, log times, GC."""

from __future__ import annotations

import gc
import io
import re
import time

from homei.api.accesslog import AccessLog
from homei.api.middleware import request_ids
from homei.core.memory import pause_collection, settle_collection


def test_request_ids_are_distinct_and_safe_to_echo():
    first, second = request_ids(), request_ids()
    ids = [first() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    # Another process (another pipeline) counts from another random prefix.
    assert second()[:8] != ids[0][:8]


async def test_access_log_lines_carry_the_time_to_the_millisecond():
    stream = io.StringIO()
    log = AccessLog(stream, enabled=True)
    before = time.time()
    log.record("10.0.0.1", "GET", "/api/v1/tasks", 200, 0.0012, "abc")
    log.record("10.0.0.1", "GET", "/health", 200, 0.0003, "abd")
    await log.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    for line in lines:
        stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) INFO homei.access: ", line)
        assert stamp, line
        logged = time.mktime(time.strptime(stamp[1], "%Y-%m-%d %H:%M:%S")) + int(stamp[2]) / 1000
        assert before - 0.001 <= logged <= time.time() + 0.001
    assert '"GET /api/v1/tasks" 200 1.2ms [abc]' in lines[0]


async def test_a_disabled_access_log_says_so_and_keeps_nothing():
    stream = io.StringIO()
    log = AccessLog(stream, enabled=False)
    assert not log.enabled
    log.record("10.0.0.1", "GET", "/", 200, 0.001, "x")
    await log.flush()
    assert stream.getvalue() == ""


def test_collection_pauses_for_start_up_then_resumes_with_start_up_frozen():
    try:
        pause_collection()
        assert not gc.isenabled()
        survivor = [object() for _ in range(100)]
        settle_collection()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(survivor)
    finally:
        gc.unfreeze()
        gc.enable()
