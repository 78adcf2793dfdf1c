"""Threshold rules on a fake clock: a figure must stay over its line `for` seconds to fire,
and once firing clears only `hysteresis` below it; a flapping figure fires once or never."""

from __future__ import annotations

import math

from homei.monitor.alert_records import Level
from homei.monitor.alert_settings import AlertSettings, LevelPair, Rules, Thresholds, Timing
from homei.monitor.event_rules import event_verdicts
from homei.monitor.rules import Conditions, DiskTrend, RestartCounter, threshold_verdicts


def _settings(hold: float = 30.0, band: float = 5.0) -> AlertSettings:
    return AlertSettings(
        thresholds=Thresholds(cpu=LevelPair(warning=80, critical=95)),
        rules=Rules(thresholds={"cpu": Timing(for_=hold, hysteresis=band)}),
    )


class Rig:
    """The engine's use of the rules, step by step, with a clock the test moves."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        self.conditions = Conditions()
        self.fired: list[str] = []
        self.resolved: list[str] = []

    def feed(self, value: float, at: float) -> None:
        for verdict in threshold_verdicts({"cpu": value}, self.settings):
            if verdict.finding is not None:
                self.conditions.hold(verdict.finding, at)
            elif self.conditions.clear(verdict.rule, verdict.subject):
                self.conditions.firing.discard((verdict.rule, verdict.subject))
                self.resolved.append(verdict.rule)
        for finding in self.conditions.due(at, lambda rule: self.settings.rules.timing("cpu").for_):
            self.conditions.firing.add((finding.rule, finding.subject))
            self.fired.append(finding.rule)


def test_a_figure_fires_only_after_holding_for_its_duration() -> None:
    rig = Rig(_settings(hold=30))
    for second in range(0, 30, 5):
        rig.feed(85, second)
    assert rig.fired == []  # 25 s over the line
    rig.feed(85, 30)
    assert rig.fired == ["cpu.warning"]
    rig.feed(99, 31)
    rig.feed(99, 61)
    assert rig.fired == ["cpu.warning", "cpu.critical"]


def test_flapping_across_the_line_never_fires() -> None:
    rig = Rig(_settings(hold=30))
    for second in range(0, 600, 10):  # 85 for 10 s, 70 (under the band) for 10 s, ...
        rig.feed(85 if (second // 10) % 2 == 0 else 70, second)
    assert rig.fired == [] and rig.resolved == []


def test_a_firing_alert_wobbling_at_the_line_does_not_resolve_until_below_the_band() -> None:
    rig = Rig(_settings(hold=0, band=5))
    rig.feed(81, 0)
    assert rig.fired == ["cpu.warning"]
    for second in range(1, 300):
        rig.feed(79 if second % 2 else 81, second)  # inside the 75..80 band, and over
    assert rig.fired == ["cpu.warning"] and rig.resolved == []
    rig.feed(74.9, 300)
    assert rig.resolved == ["cpu.warning"]
    rig.feed(81, 301)
    assert rig.fired == ["cpu.warning", "cpu.warning"]


def test_within_the_band_a_pending_figure_keeps_pending() -> None:
    rig = Rig(_settings(hold=20, band=5))
    rig.feed(82, 0)
    rig.feed(77, 10)  # in the band: neither over nor cleared
    rig.feed(82, 20)
    assert rig.fired == ["cpu.warning"]


def test_findings_name_the_subject_and_level() -> None:
    settings = AlertSettings()
    verdicts = list(threshold_verdicts({"disk:/data": 99.0, "load1": 50.0}, settings))
    assert {(v.rule, v.subject) for v in verdicts} == {
        ("disk.warning", "/data"),
        ("disk.critical", "/data"),
    }
    critical = next(v.finding for v in verdicts if v.rule == "disk.critical")
    assert critical is not None and critical.level is Level.CRITICAL
    assert critical.message == "Disk use on /data is 99.0% (threshold 95%)"


def test_disk_trend_predicts_the_day_it_fills() -> None:
    trend = DiskTrend()
    for minute in range(61):  # 1 GB free, losing 1 MB a minute: full in about 1000 minutes
        trend.add("/data", 1e9 - minute * 1e6, minute * 60.0, 3600)
    left = trend.seconds_to_full("/data", 3600)
    assert left is not None and abs(left - 940 * 60) < 60
    steady = DiskTrend()
    for minute in range(61):
        steady.add("/data", 1e9, minute * 60.0, 3600)
    assert steady.seconds_to_full("/data", 3600) == math.inf
    assert DiskTrend().seconds_to_full("/data", 3600) is None  # nothing known yet


def test_restarts_are_counted_in_their_window() -> None:
    counter = RestartCounter()
    for at in (0, 100, 200):
        counter.died("web", at)
    assert counter.count("web", 200, 600) == 3
    assert counter.count("web", 750, 600) == 1


def _event(kind: str, at: float, counter: RestartCounter, running: bool = True, **data: object):
    data = {"managed": True, "service": "web", "exit_code": "1", **data}
    return event_verdicts(kind, data, Rules(), at, lambda _: running, counter)


def test_events_hold_and_clear_their_rules() -> None:
    counter = RestartCounter()
    died = _event("container.die", 0, counter)
    assert [(v.rule, v.subject) for v in died] == [("service_down", "web")]
    assert died[0].finding is not None and died[0].finding.details["exitCode"] == "1"
    assert _event("container.die", 1, counter, running=False) == []  # stopped on purpose
    assert _event("container.die", 2, counter, managed=False) == []
    _event("container.die", 3, counter)
    third = _event("container.die", 4, counter)
    assert [v.rule for v in third] == ["service_down", "service_restarts"]
    back = _event("container.start", 5, counter)
    assert [(v.rule, v.finding) for v in back] == [("service_down", None), ("service_oom", None)]
    rejected = _event("update:rejected", 6, counter, reason="health gate failed")
    assert rejected[0].finding is not None
    assert rejected[0].finding.message == "Update rejected: health gate failed"
    assert [v.finding for v in _event("update:verified", 7, counter)] == [None]
    failed = _event("backup:failed", 8, counter, backup="nightly", error="disk full")
    assert failed[0].rule == "backup_failed" and failed[0].finding is not None
    assert [v.rule for v in _event("backup:completed", 9, counter)] == ["backup_failed"]
