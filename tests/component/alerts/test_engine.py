"""The alert engine on a real SQLite store with a clock the test moves: figures held for
their `for` fire once, a restart keeps what fires, a filling disk is seen a day ahead."""

from __future__ import annotations

from pathlib import Path

import msgspec

from homei.config.keys import DeviceKey
from homei.core.events import Event, EventBus
from homei.core.health import DependencyReport, HealthState
from homei.core.store import Store
from homei.monitor.alert_records import MIGRATIONS, AlertQuery, AlertState, AlertStore
from homei.monitor.alert_settings import AlertSettings, LevelPair, Timing
from homei.monitor.alerts import AlertEngine


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def _engine(store: Store, clock: Clock, key: DeviceKey) -> AlertEngine:
    engine = AlertEngine(AlertStore(store), EventBus(), key, clock=clock)
    await engine.load()
    return engine


async def test_for_hysteresis_restart_and_disk_trend(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "alerts.db", MIGRATIONS)
    clock, key = Clock(), DeviceKey.generate()
    try:
        engine = await _engine(store, clock, key)
        settings = AlertSettings()
        settings = msgspec.structs.replace(
            settings,
            thresholds=msgspec.structs.replace(
                settings.thresholds, cpu=LevelPair(warning=80, critical=99)
            ),
            rules=msgspec.structs.replace(
                settings.rules, thresholds={"cpu": Timing(for_=30, hysteresis=5)}
            ),
        )
        await engine.apply(settings)

        async def feed(figures: dict[str, float], seconds: float = 10) -> None:
            clock.now += seconds
            engine.observe(figures, clock.now)
            await engine.step()

        for value in (85, 70, 85, 70, 85, 70):  # flapping: never 30 s over the line
            await feed({"cpu": value})
        assert engine.firing_counts()["warning"] == 0
        for value in (85, 79, 85, 79):  # over, then inside the band: pending holds
            await feed({"cpu": value})
        assert engine.firing_counts()["warning"] == 1
        for value in (79, 81) * 5:  # wobbling at the line: stays firing, not again
            await feed({"cpu": value})
        alerts, total = await engine.query(AlertQuery())
        assert total == 1 and alerts[0].rule == "cpu.warning"

        # A disk losing 1 MB a minute with 100 MB left fills within the day.
        for minute in range(40):
            await feed({"disk_free_bytes:/data": 100e6 - minute * 1e6}, 60)
        fired = {a.rule for a in (await engine.query(AlertQuery()))[0]}
        assert fired == {"cpu.warning", "disk_full"}

        # Restarted: both still fire, nothing fires twice, and the disk's alert waits for
        # figures before it clears.
        restarted = await _engine(store, clock, key)
        assert restarted.settings == settings
        clock.now += 1
        restarted.observe({"cpu": 81, "disk_free_bytes:/data": 60e6}, clock.now)
        await restarted.step()
        assert sum(restarted.firing_counts().values()) == 2
        restarted.observe({"cpu": 74}, clock.now)
        await restarted.step()
        states = {a.rule: a.state for a in (await restarted.query(AlertQuery()))[0]}
        assert states == {"cpu.warning": "resolved", "disk_full": "firing"}
        assert (await restarted.query(AlertQuery()))[1] == 2
    finally:
        await store.close()


async def test_a_service_dying_again_and_again(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "alerts.db", MIGRATIONS)
    clock = Clock()
    try:
        engine = await _engine(store, clock, DeviceKey.generate())
        for n in range(3):
            clock.now += 5
            engine.on_event(Event("container.die", {"managed": True, "service": "web",
                                                    "exit_code": "1"}, "", n))  # fmt: skip
            await engine.step()
        # Down since the first death, 10 s ago (serviceDown's `for`), and dead 3 times.
        assert engine.firing_counts() == {"info": 0, "warning": 0, "error": 1, "critical": 1}
        engine.on_event(Event("container.start", {"managed": True, "service": "web"}, "", 9))
        clock.now += 600  # the deaths leave the window
        await engine.step()
        alerts, _ = await engine.query(AlertQuery())
        assert {(a.rule, a.state) for a in alerts} == {
            ("service_restarts", "resolved"),
            ("service_down", "resolved"),
        }
    finally:
        await store.close()


async def test_a_dependency_down_for_its_duration(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "alerts.db", MIGRATIONS)
    clock = Clock()
    reports = [DependencyReport("docker", HealthState.UNHEALTHY, "no answer")]

    async def dependencies() -> list[DependencyReport]:
        return reports

    try:
        engine = AlertEngine(AlertStore(store), EventBus(), DeviceKey.generate(), clock=clock,
                             dependencies=dependencies, dependency_interval=10)  # fmt: skip
        await engine.load()
        for _ in range(3):  # 20 s down: under dependencyDown's 30 s
            await engine.step()
            clock.now += 10
        assert engine.firing_counts()["critical"] == 0
        await engine.step()
        alerts, _ = await engine.query(AlertQuery(state=AlertState.FIRING))
        assert [(a.rule, a.subject, a.level) for a in alerts] == [
            ("dependency_down", "docker", "critical")
        ]
        reports = [DependencyReport("docker", HealthState.HEALTHY, "ok")]
        clock.now += 10
        await engine.step()
        assert (await engine.query(AlertQuery(state=AlertState.FIRING)))[1] == 0
    finally:
        await store.close()
