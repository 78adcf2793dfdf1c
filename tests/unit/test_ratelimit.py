"""Quotas and login back-off, on a clock the test controls."""

from __future__ import annotations

from homei.core.ratelimit import (
    MAX_COUNTERS,
    MAX_LOGIN_ADDRESSES,
    LoginThrottle,
    Quota,
    RateLimiter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fixed_window_counts_and_resets():
    clock = Clock()
    limiter = RateLimiter(window=60, clock=clock)
    quota = [Quota("ip:a", 3)]
    verdicts = [limiter.hit(quota) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]
    denied = verdicts[3]
    assert denied.retry_after == 60 and denied.headers()["Retry-After"] == "60"
    assert denied.reset == 1060
    clock.now += 60
    assert limiter.hit(quota).allowed


def test_the_tighter_quota_answers_and_denials_do_not_count():
    limiter = RateLimiter(window=60, clock=Clock())
    quotas = [Quota("group:updates:u1", 2), Quota("authenticated:u1", 100)]
    first = limiter.hit(quotas)
    assert (first.limit, first.remaining) == (2, 1)
    limiter.hit(quotas)
    assert not limiter.hit(quotas).allowed
    # The authenticated counter saw only the two allowed requests.
    other = limiter.hit([Quota("authenticated:u1", 100)])
    assert other.remaining == 97


def test_clients_are_counted_apart():
    limiter = RateLimiter(window=60, clock=Clock())
    for _ in range(2):
        limiter.hit([Quota("ip:a", 2)])
    assert not limiter.hit([Quota("ip:a", 2)]).allowed
    assert limiter.hit([Quota("ip:b", 2)]).allowed


def test_login_backoff_doubles_and_forgets():
    clock = Clock()
    throttle = LoginThrottle(free_attempts=2, max_delay=300, forget_after=900, clock=clock)
    throttle.failed("a")
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    assert throttle.retry_after("a") == 1
    throttle.failed("a")
    assert throttle.retry_after("a") == 2
    for _ in range(20):
        throttle.failed("a")
    assert throttle.retry_after("a") == 300
    assert throttle.retry_after("b") == 0
    clock.now += 901
    assert throttle.retry_after("a") == 0
    throttle.failed("c")
    throttle.failed("c")
    throttle.succeeded("c")
    assert throttle.retry_after("c") == 0


def test_counters_stay_bounded_under_a_flood_of_clients():
    limiter = RateLimiter(window=60, clock=Clock())  # nothing expires in this test
    for index in range(3 * MAX_COUNTERS):
        limiter.hit([Quota(f"ip:{index}", 5)])
    assert len(limiter) <= MAX_COUNTERS
    newest = [Quota("ip:newest", 2)]
    assert [limiter.hit(newest).allowed for _ in range(3)] == [True, True, False]


def test_login_failures_stay_bounded_and_the_newest_are_kept():
    throttle = LoginThrottle(free_attempts=2, clock=Clock())
    for index in range(3 * MAX_LOGIN_ADDRESSES):
        throttle.failed(f"10.0.{index // 256}.{index % 256}")
    assert len(throttle) <= MAX_LOGIN_ADDRESSES
    for _ in range(3):
        throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") > 0
