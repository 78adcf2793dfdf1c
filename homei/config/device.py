"""The device's configuration while it runs: the settings that may change without a restart,
checked as a whole, written to the settings file so they outlive the process, handed to the
components that own them, and announced as `system:config:changed`."""

from __future__ import annotations

import asyncio
import inspect
import logging
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from homei.config.toml_file import dumps
from homei.core.atomic import write_file_atomic
from homei.core.errors import ConfigError
from homei.core.events import EventBus
from homei.settings import Settings
from homei.settings_layers import describe_error, environment_layer

_LOGGER = logging.getLogger(__name__)

# What may change while the daemon runs (a key, or a section whose keys all may). Everything
# else is read once at start: the listen address, the folders, the clients' endpoints.
LIVE = frozenset(
    {
        "log_level",
        "rate_limits",
        "update.reboot_on_failure",
        # The boot health gate reads these at the next boot.
        "update.gate_window",
        "update.gate_interval",
        "update.gate_passes",
        "backup.schedules",
        "device",
        "fleet",
    }
)
# Shown by GET, never set: what the daemon is, and where it listens (from `api.listen`).
READ_ONLY = frozenset({"name", "version", "api.host", "api.port", "settings_file"})
# Whole values even when they are tables: a PUT gives the complete new map.
WHOLE = frozenset({"device.variables"})

# Called with the settings after a change; may return an awaitable, which is awaited.
Hook = Callable[[Settings], object]


def _is_under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(f"{prefix}.")


def _section_type(path: list[str]) -> Any:
    """The declared type of the setting at `path`, or None when there is no such setting."""
    kind: Any = Settings
    for part in path:
        fields = {f.name: f.type for f in msgspec.structs.fields(kind)}
        if part not in fields:
            return None
        kind = fields[part]
    return kind


def _is_section(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _nest(key: str, value: Any) -> dict[str, Any]:
    *parents, leaf = key.split(".")
    nested: dict[str, Any] = {leaf: value}
    for part in reversed(parents):
        nested = {part: nested}
    return nested


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping) and key != "variables":
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


class DeviceConfig:
    """Reads and changes the running device's settings; one change at a time."""

    def __init__(
        self,
        settings: Settings,
        settings_file: Path,
        events: EventBus,
        environ: Mapping[str, str],
    ) -> None:
        self._settings = settings
        self._file = settings_file
        self._events = events
        self._from_environment = set(self._leaves(environment_layer(environ)))
        self._hooks: list[tuple[str, Hook]] = []
        self._lock = asyncio.Lock()

    @property
    def settings_file(self) -> Path:
        """Where changes are written."""
        return self._file

    @property
    def listen(self) -> tuple[str, int]:
        """The address the API serves on."""
        return self._settings.host, self._settings.port

    def on_change(self, key: str, hook: Hook) -> None:
        """Call `hook` with the settings after a change to `key` (or anything under it)."""
        self._hooks.append((key, hook))

    def snapshot(self) -> dict[str, Any]:
        """Every setting as plain values, sections as tables."""
        return msgspec.to_builtins(self._settings, enc_hook=str)  # type: ignore[no-any-return]

    def _leaves(self, change: Mapping[str, Any]) -> dict[str, Any]:
        """`change` as dotted keys down to the settings it sets."""
        leaves: dict[str, Any] = {}

        def walk(prefix: list[str], data: Mapping[str, Any]) -> None:
            for name, value in data.items():
                path = [*prefix, str(name)]
                key = ".".join(path)
                kind = _section_type(path)
                if _is_section(kind) and isinstance(value, Mapping) and key not in WHOLE:
                    walk(path, value)
                else:
                    leaves[key] = value

        walk([], change)
        return leaves

    def check(self, change: Mapping[str, Any]) -> dict[str, Any]:
        """The settings `change` sets, each checked; ConfigError naming every bad key."""
        leaves = self._leaves(change)
        problems: dict[str, str] = {}
        for key, value in leaves.items():
            problem = self._problem(key, value)
            if problem:
                problems[key] = problem
        if not problems:
            # Keys that are fine alone may still not fit together (a section's own rules).
            for section in {key.split(".")[0] for key in leaves}:
                kind = _section_type([section])
                if not _is_section(kind):
                    continue
                merged = _merge(self.snapshot()[section], self._sub(leaves, section))
                try:
                    msgspec.convert(merged, kind, strict=False)
                except msgspec.ValidationError as err:
                    problems[section] = describe_error(err)
        if problems:
            listed = "; ".join(f"{key}: {problem}" for key, problem in problems.items())
            raise ConfigError(
                f"Invalid configuration: {listed}",
                {"fields": [{"path": k, "message": m} for k, m in problems.items()]},
            )
        return leaves

    @staticmethod
    def _sub(leaves: Mapping[str, Any], section: str) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for key, value in leaves.items():
            if key.startswith(f"{section}."):
                nested = _merge(nested, _nest(key.partition(".")[2], value))
        return nested

    def _problem(self, key: str, value: Any) -> str | None:
        if key in READ_ONLY:
            return "read-only"
        path = key.split(".")
        kind = _section_type(path)
        if kind is None:
            return "unknown setting"
        if not any(_is_under(key, live) for live in LIVE):
            return (
                "applies only at start: change it in the settings file "
                f"({self._file}) and restart the daemon"
            )
        if any(_is_under(key, env) or _is_under(env, key) for env in self._from_environment):
            return (
                f"set by HOMEI_{key.replace('.', '__').upper()} in the daemon's environment, "
                "which overrides the settings file"
            )
        try:
            msgspec.convert(_nest(path[-1], value), _section_type(path[:-1]), strict=True)
        except msgspec.ValidationError as err:
            # `leaf: problem` or `leaf[0].cron: problem`: the key is named by the caller.
            return describe_error(err).removeprefix(path[-1]).removeprefix(": ")
        return None

    async def update(self, change: Mapping[str, Any], *, actor: str) -> list[str]:
        """Check, write and apply `change`; the keys it changed. Nothing changes when one is
        bad: ConfigError names them all."""
        async with self._lock:
            leaves = self.check(change)
            before = self.snapshot()
            changed = sorted(
                key for key, value in leaves.items() if _dig(before, key) != _plain(value)
            )
            if not changed:
                return []
            await asyncio.to_thread(self._write, {key: leaves[key] for key in changed})
            self._apply(changed, leaves)
            for prefix, hook in self._hooks:
                if any(_is_under(key, prefix) or _is_under(prefix, key) for key in changed):
                    try:
                        outcome = hook(self._settings)
                        if inspect.isawaitable(outcome):
                            await outcome
                    except Exception:  # the change is made; one owner failing stops no other
                        _LOGGER.exception("Applying the change of %s failed", prefix)
        _LOGGER.info("Configuration changed by %s: %s", actor, ", ".join(changed))
        self._events.publish("system:config:changed", {"keys": changed, "actor": actor})
        return changed

    def _write(self, leaves: Mapping[str, Any]) -> None:
        """Merge `leaves` into the settings file, atomically; blocking."""
        try:
            current = tomllib.loads(self._file.read_text())
            mode = self._file.stat().st_mode & 0o777
        except FileNotFoundError:
            current, mode = {}, 0o644
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"The settings file cannot be read: {err}") from None
        for key, value in leaves.items():
            current = _merge(current, _nest(key, _plain(value)))
        if current.get("fleet", {}).get("token"):
            mode &= 0o600  # the fleet server's token: for the daemon's eyes only
        write_file_atomic(self._file, dumps(current).encode(), mode)

    def _apply(self, changed: list[str], leaves: Mapping[str, Any]) -> None:
        """Set the new values on the live settings, in place: whoever holds a section sees
        them on its next read."""
        for key in changed:
            *parents, leaf = key.split(".")
            owner: Any = self._settings
            for part in parents:
                owner = getattr(owner, part)
            kind = _section_type(key.split("."))
            setattr(owner, leaf, msgspec.convert(leaves[key], kind, strict=False))


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _dig(data: Mapping[str, Any], key: str) -> Any:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value
