"""systemd units' properties kept from PropertiesChanged, and what their changes mean."""

from __future__ import annotations

from dbus_fast import Variant

from homei.dbus.systemd_units import SERVICE_INTERFACE, UNIT_INTERFACE, UnitCache, UnitProperties
from homei.units_wiring import transition

PATH = "/org/freedesktop/systemd1/unit/homei_2dsvc_2dweb_2eservice"
NAME = "homei-svc-web.service"


def held(active: str = "active") -> UnitCache:
    cache = UnitCache()
    mark = cache.watch(PATH, NAME)
    cache.keep(UnitProperties(NAME, "loaded", active, "running", main_pid=7), mark)
    return cache


def test_signals_update_the_held_unit_and_report_state_changes() -> None:
    cache = held()
    seen: list[tuple[str, str]] = []
    cache.state_listeners.append(lambda b, a: seen.append((b.active_state, a.active_state)))
    cache.changed(PATH, UNIT_INTERFACE, {"ActiveState": Variant("s", "failed")}, [])
    cache.changed(PATH, SERVICE_INTERFACE, {"ExecMainStatus": Variant("i", 1)}, [])
    unit = cache.get(NAME)
    assert unit is not None and unit.active_state == "failed" and unit.exec_main_status == 1
    assert seen == [("active", "failed")]
    # Another unit's signal, or one of a property Homei does not hold, changes nothing.
    cache.changed("/org/freedesktop/systemd1/unit/other", UNIT_INTERFACE, {"x": 1}, [])
    cache.changed(PATH, UNIT_INTERFACE, {"Description": Variant("s", "x")}, [])
    assert cache.get(NAME) == unit and seen == [("active", "failed")]


def test_a_read_overtaken_by_a_signal_is_not_kept_and_an_invalidation_drops_it() -> None:
    cache = UnitCache()
    mark = cache.watch(PATH, NAME)
    cache.changed(PATH, UNIT_INTERFACE, {"ActiveState": Variant("s", "inactive")}, [])
    cache.keep(UnitProperties(NAME, "loaded", "active"), mark)
    assert cache.get(NAME) is None  # what was read may be older than the signal
    cache = held()
    cache.changed(PATH, SERVICE_INTERFACE, {}, ["MainPID"])
    assert cache.get(NAME) is None
    cache = held()
    cache.clear()
    assert cache.get(NAME) is None and cache.path_of(NAME) == PATH


def test_state_changes_are_dockers_container_events() -> None:
    assert transition("active", "deactivating") is None
    assert transition("deactivating", "inactive") == "die"
    assert transition("active", "failed") == "die"
    assert transition("active", "activating") == "die"  # waiting to be restarted
    assert transition("inactive", "activating") is None
    assert transition("activating", "active") == "start"
    assert transition("reloading", "active") is None
