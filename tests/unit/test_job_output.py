"""What one execution's output keeps and publishes, and what a late watcher is sent."""

from __future__ import annotations

from homei.api.jobs import _unseen
from homei.core.event_payloads import OutputChunk
from homei.jobs.output import Capture


def test_capture_keeps_whole_characters_up_to_the_limit() -> None:
    capture = Capture("job", "run", "sys", limit=5)
    capture.add("stdout", "ab")
    capture.add("stdout", "cé€")  # 1 + 2 + 3 bytes: only "cé" fits the 3 left
    capture.add("stdout", "more")
    capture.add("stderr", "err")
    assert capture.text("stdout") == "abcé" and capture.text("stderr") == "err"
    assert capture.is_truncated and capture.is_dirty


def test_capture_publishes_each_character_once_in_bounded_pieces() -> None:
    capture = Capture("job", "run", "sys", limit=1000)
    capture.add("stdout", "0123456789")
    first = capture.pending("stdout", 4)
    assert first == OutputChunk("run", "sys", "stdout", 0, "0123")
    assert capture.has_pending
    capture.add("stdout", "ab")
    rest = capture.pending("stdout", 100)
    assert rest == OutputChunk("run", "sys", "stdout", 4, "456789ab")
    assert not capture.has_pending and capture.pending("stdout", 100) is None


def test_a_late_watcher_gets_only_what_it_has_not_seen() -> None:
    sent = {("run", "stdout"): OutputChunk("run", "sys", "stdout", 0, "hello ")}
    chunk = {"execution_id": "run", "system_id": "sys", "stream": "stdout"}
    old = {**chunk, "offset": 0, "text": "hel"}
    overlapping = {**chunk, "offset": 3, "text": "lo world"}
    assert _unseen([old], sent) == []
    assert _unseen([overlapping], sent) == [{**chunk, "offset": 6, "text": "world"}]
    assert _unseen([overlapping], sent) == []
    other = {**chunk, "stream": "stderr", "offset": 0, "text": "oops"}
    assert _unseen([other], sent) == [other]
