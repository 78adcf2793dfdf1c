"""When a rule fires and when it clears: pending for its `for` duration, held by hysteresis.

Nothing here reads a clock or the database: each call is given the time, so a fake clock
drives the same code the daemon runs.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping

import msgspec

from homei.monitor.alert_records import Finding, Level
from homei.monitor.alert_settings import THRESHOLD_NAMES, AlertSettings, LevelPair

Key = tuple[str, str]  # (rule, subject)
_UNITS = {"temperature": "°C"}
_LABELS = {
    "cpu": "CPU use",
    "memory": "Memory use",
    "swap": "Swap use",
    "disk": "Disk use",
    "inodes": "Inode use",
    "temperature": "Temperature",
}


class _Pending(msgspec.Struct):
    since: float
    finding: Finding


class Conditions:
    """Which rule+subject pairs hold now: pending (since when) or firing."""

    def __init__(self) -> None:
        self._pending: dict[Key, _Pending] = {}
        self.firing: set[Key] = set()

    def hold(self, finding: Finding, at: float) -> None:
        """The condition holds at `at` (its finding refreshed with the latest figures)."""
        key = (finding.rule, finding.subject)
        if key in self.firing:
            return
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = _Pending(at, finding)
        else:
            pending.finding = finding

    def clear(self, rule: str, subject: str) -> bool:
        """The condition is gone; True when an open alert must be resolved."""
        key = (rule, subject)
        self._pending.pop(key, None)
        return key in self.firing

    def is_pending(self, rule: str, subject: str) -> bool:
        return (rule, subject) in self._pending

    def due(self, at: float, hold_for: Callable[[str], float]) -> list[Finding]:
        """The pending conditions that have held long enough: now to be fired."""
        ready = [
            key for key, p in self._pending.items() if at - p.since >= hold_for(p.finding.rule)
        ]
        return [self._pending.pop(key).finding for key in ready]

    def keys(self, rule_prefix: str) -> list[Key]:
        """Pending or firing keys whose rule starts with `rule_prefix`."""
        return [k for k in (*self._pending, *self.firing) if k[0].startswith(rule_prefix)]


class Verdict(msgspec.Struct, frozen=True):
    """What one figure says about one threshold rule: holds (with a finding) or clears."""

    rule: str
    subject: str
    finding: Finding | None  # None: clears


def family_of(rule: str) -> str:
    """The figure family of a threshold rule (`disk.critical` -> `disk`)."""
    return rule.partition(".")[0]


def threshold_verdicts(gauges: Mapping[str, float], settings: AlertSettings) -> Iterator[Verdict]:
    """Each threshold rule's verdict from one snapshot; a figure inside the hysteresis band
    gives none (whatever holds, holds on)."""
    for name, value in gauges.items():
        family, _, subject = name.partition(":")
        if family not in THRESHOLD_NAMES:
            continue
        pair: LevelPair = getattr(settings.thresholds, family)
        band = settings.rules.timing(family).hysteresis
        for level in (Level.WARNING, Level.CRITICAL):
            line = pair.warning if level is Level.WARNING else pair.critical
            rule, target = f"{family}.{level}", subject or family
            if value >= line:
                unit = _UNITS.get(family, "%")
                where = f" on {subject}" if subject else ""
                yield Verdict(
                    rule,
                    target,
                    Finding(
                        rule, target, level, "system",
                        f"{_LABELS[family]}{where} is {value:.1f}{unit} (threshold {line:g}{unit})",
                        {"metric": name, "value": round(value, 2), "threshold": line},
                    ),
                )  # fmt: skip
            elif value < line - band:
                yield Verdict(rule, target, None)


class DiskTrend:
    """Free bytes per filesystem over a window; when each will be full at its rate."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[float, float]]] = {}

    def add(self, mount: str, free: float, at: float, window: float) -> None:
        samples = self._samples.setdefault(mount, deque())
        samples.append((at, free))
        while samples and samples[0][0] < at - window:
            samples.popleft()

    def seconds_to_full(self, mount: str, window: float) -> float | None:
        """Seconds until no bytes are free at the least-squares rate of the window (infinity
        for a disk that is not filling), or None while the window is not half covered."""
        samples = self._samples.get(mount)
        if not samples or len(samples) < 3 or samples[-1][0] - samples[0][0] < window / 2:
            return None
        count = len(samples)
        mean_t = sum(t for t, _ in samples) / count
        mean_f = sum(f for _, f in samples) / count
        spread = sum((t - mean_t) ** 2 for t, _ in samples)
        if spread == 0:
            return None
        slope = sum((t - mean_t) * (f - mean_f) for t, f in samples) / spread
        if slope >= 0:
            return math.inf
        return samples[-1][1] / -slope


class RestartCounter:
    """When each service last died, over a window."""

    def __init__(self) -> None:
        self._deaths: dict[str, deque[float]] = {}

    def died(self, service: str, at: float) -> None:
        self._deaths.setdefault(service, deque()).append(at)

    def count(self, service: str, at: float, window: float) -> int:
        deaths = self._deaths.get(service)
        while deaths and deaths[0] < at - window:
            deaths.popleft()
        return len(deaths) if deaths else 0

    def services(self) -> list[str]:
        return list(self._deaths)
