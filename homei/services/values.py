"""The typed values of a service spec: ports, durations and sizes, parsed once at the edge.

Each keeps the text it was written as, so a spec reads back (and hashes) exactly as it was
declared, while everything downstream uses the parsed numbers. `decode_value` and
`encode_value` are msgspec's hooks for them: a value that does not parse is a
`ValueError`, which msgspec reports with the field's path.
"""

from __future__ import annotations

import re
from typing import Any

_PORT = re.compile(
    r"^(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}):)?(?:(?P<host>\d{1,5}):)?(?P<container>\d{1,5})"
    r"(?:/(?P<proto>tcp|udp))?$"
)
_DURATION = re.compile(r"^(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)?$")
_SIZE = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>[bkmg]?)i?b?$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MIN_MEMORY = 4 * 1024**2


class _Parsed:
    """A value parsed from `text`; equal to another when their texts are equal."""

    __slots__ = ("text",)
    text: Any

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.text == self.text

    def __hash__(self) -> int:
        return hash((type(self), self.text))

    def __str__(self) -> str:
        return str(self.text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class Port(_Parsed):
    """A published port, `[ip:][host:]container[/tcp|udp]`."""

    __slots__ = ("container", "host", "ip", "protocol")

    def __init__(self, text: str) -> None:
        match = _PORT.match(text)
        if match is None:
            raise ValueError(f"expected '[ip:][host:]container[/tcp|udp]', got '{text}'")
        host = int(match["host"]) if match["host"] else None
        container = int(match["container"])
        if not 0 < container < 65536 or (host is not None and not 0 < host < 65536):
            raise ValueError(f"port out of range in '{text}'")
        self.text = text
        self.ip: str = match["ip"] or ""
        self.host: int | None = host
        self.container: int = container
        self.protocol: str = match["proto"] or "tcp"


class Duration(_Parsed):
    """`30s`, `1.5m`, `500ms` or plain seconds."""

    __slots__ = ("seconds",)

    def __init__(self, text: str) -> None:
        match = _DURATION.match(text.strip())
        if match is None:
            raise ValueError(f"expected a duration such as '30s' or '2m', got '{text}'")
        self.text = text
        self.seconds: float = float(match["value"]) * _UNITS[match["unit"]]

    @property
    def nanoseconds(self) -> int:
        """The duration in nanoseconds, as container engines count them."""
        return int(self.seconds * 1e9)


class Size(_Parsed):
    """A memory size: bytes as a number, or `512m`, `1g`; at least 4 MiB."""

    __slots__ = ("bytes",)

    def __init__(self, text: int | str) -> None:
        if isinstance(text, int):
            value = text
        else:
            match = _SIZE.match(text.strip())
            if match is None:
                raise ValueError(f"expected a size such as '512m' or '1g', got '{text}'")
            value = int(float(match["value"]) * _SIZE_UNITS[match["unit"].lower()])
        if value < MIN_MEMORY:
            raise ValueError("the memory limit must be at least 4 MiB")
        self.text = text
        self.bytes: int = value


_TYPES: dict[type, tuple[type, ...]] = {Port: (str,), Duration: (str,), Size: (int, str)}


def decode_value(kind: type, value: Any) -> Any:
    """msgspec's `dec_hook`: a spec value from its text."""
    accepted = _TYPES.get(kind)
    if accepted is None:
        raise NotImplementedError(kind)
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise TypeError(f"Expected `{' | '.join(t.__name__ for t in accepted)}`")
    return kind(value)


def encode_value(value: Any) -> Any:
    """msgspec's `enc_hook`: a spec value as the text it was written as."""
    if isinstance(value, _Parsed):
        return value.text
    raise NotImplementedError(type(value))
