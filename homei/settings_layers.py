"""Where settings come from: embedded defaults, then `/etc/homei/homei.toml`, then `HOMEI_*`
environment variables, then command-line flags, each layer checked on its own.

Bad settings stop the daemon with one line naming where the value came from, the
key and the problem; never a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

import homei
from homei.settings import Settings, parse_listen
from homei.settings_sections import Mode

DEVICE_CONFIG = Path("/etc/homei/homei.toml")
DEVICE_DATA_DIR = Path("/var/lib/homei")
ENV_PREFIX = "HOMEI_"


class SettingsError(Exception):
    """Settings that cannot be used; the message is the one line shown to the user."""


def checkout_dir() -> Path | None:
    """The source checkout Homei runs from, or None when installed as a package."""
    root = Path(homei.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def detect_mode(environ: Mapping[str, str]) -> Mode:
    """`development` when running from a checkout, `device` when installed."""
    explicit = environ.get(f"{ENV_PREFIX}MODE")
    if explicit in ("device", "development"):
        return explicit  # type: ignore[return-value]
    if explicit:
        raise SettingsError(
            f"{ENV_PREFIX}MODE: expected 'device' or 'development', got '{explicit}'"
        )
    return "development" if checkout_dir() is not None else "device"


def _defaults(mode: Mode) -> dict[str, Any]:
    if mode == "device":
        if os.geteuid() == 0:
            data_dir = DEVICE_DATA_DIR
        else:
            data_dir = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "homei"
        listen = "0.0.0.0:8080"
    else:
        data_dir = (checkout_dir() or Path.cwd()) / "var"
        listen = "127.0.0.1:8080"
    return {"mode": mode, "data_dir": str(data_dir), "api": {"listen": listen}}


def default_config_path(mode: Mode) -> Path:
    """The settings file read when none is named."""
    if mode == "device":
        return DEVICE_CONFIG
    return (checkout_dir() or Path.cwd()) / "var" / "homei.toml"


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def describe_error(err: msgspec.ValidationError) -> str:
    """msgspec's `Expected int, got str - at $.api.port` as `api.port: expected int, got str`."""
    text = str(err)
    message, _, path = text.rpartition(" - at `$")
    if not message:
        message, path = text, ""
    key = path.rstrip("`").lstrip(".")
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        return f"{key + '.' if key else ''}{unknown.group(1)}: unknown setting"
    return f"{key}: {message[0].lower()}{message[1:]}" if key else message


def environment_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings `HOMEI_*` variables set, as nested sections."""
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in (f"{ENV_PREFIX}CONFIG", f"{ENV_PREFIX}MODE"):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key == "listen":
            layer = _merge(layer, {"api": {"listen": value}})
        elif "__" in key:
            section, _, field = key.partition("__")
            layer = _merge(layer, {section: {field: value}})
        else:
            layer[key] = value
    return layer


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(f"cannot decode {kind}")


def _check(layer: dict[str, Any], source: str, *, strict: bool) -> None:
    try:
        msgspec.convert(layer, Settings, strict=strict, dec_hook=_decode_path)
    except msgspec.ValidationError as err:
        raise SettingsError(f"{source}: {describe_error(err)}") from None


def load_settings(
    *,
    config: Path | None = None,
    data_dir: Path | None = None,
    listen: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from every layer; `SettingsError` with a one-line message when unusable."""
    env = os.environ if environ is None else environ
    mode = detect_mode(env)
    layers: list[tuple[str, dict[str, Any], bool]] = []

    explicit = config or (
        Path(env[f"{ENV_PREFIX}CONFIG"]) if env.get(f"{ENV_PREFIX}CONFIG") else None
    )
    path = explicit or default_config_path(mode)
    try:
        with path.open("rb") as handle:
            layers.append((str(path), tomllib.load(handle), True))
    except FileNotFoundError:
        if explicit is not None:
            raise SettingsError(f"{path}: settings file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: {err}") from None
    except OSError as err:
        raise SettingsError(f"{path}: {err.strerror}") from None

    env_layer = environment_layer(env)
    if env_layer:
        layers.append(("environment (HOMEI_*)", env_layer, False))
    flags: dict[str, Any] = {}
    if data_dir is not None:
        flags["data_dir"] = str(data_dir)
    if listen is not None:
        flags["api"] = {"listen": listen}
    if flags:
        layers.append(("command line", flags, False))

    merged = _defaults(mode)
    for source, layer, strict in layers:
        if "mode" in layer:
            raise SettingsError(f"{source}: mode: set it with {ENV_PREFIX}MODE only")
        if "settings_file" in layer:
            raise SettingsError(f"{source}: settings_file: name it with --config or HOMEI_CONFIG")
        _check(layer, source, strict=strict)
        merged = _merge(merged, layer)
        try:
            if "api" in layer and "listen" in layer["api"]:
                parse_listen(str(layer["api"]["listen"]))
        except ValueError as err:
            raise SettingsError(f"{source}: api.listen: {err}") from None
    settings = msgspec.convert(merged, Settings, strict=False, dec_hook=_decode_path)
    settings.data_dir = settings.data_dir.expanduser().absolute()
    settings.settings_file = str(path.expanduser().absolute())
    return settings
