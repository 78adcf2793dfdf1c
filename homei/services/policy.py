"""What a service spec may ask of the device.

The Docker socket is root on the device: privileged mode, the host's network or PID
namespace, added capabilities, devices and bind mounts outside the configured roots
would each hand a service the whole machine. They are refused with a 400 naming
the field, unless the settings trust that service by name.
"""

from __future__ import annotations

import os.path
from pathlib import Path

import msgspec

from homei.core.errors import ValidationError
from homei.services.spec import ServiceSpec


class PolicyRefused(ValidationError):
    code = "INVALID_CONFIG"


class Policy(msgspec.Struct, frozen=True):
    """The device's rules; `trusted` services may ask for anything."""

    service_root: Path
    bind_roots: tuple[Path, ...] = ()
    trusted: frozenset[str] = frozenset()

    def service_dir(self, name: str) -> Path:
        """The service's own folder (its configuration and `./relative` bind mounts)."""
        return self.service_root / name

    def bind_source(self, spec: ServiceSpec, source: str) -> Path:
        """A bind mount's host path, resolved against the service's folder."""
        base = self.service_dir(spec.name)
        return Path(source) if source.startswith("/") else (base / source)

    def binds(self, spec: ServiceSpec) -> list[str]:
        """The spec's volumes as `source:target[:ro]`, bind sources resolved."""
        return [
            f"{v.source if v.is_named else self.bind_source(spec, v.source)}:{v.target}"
            + (":ro" if v.read_only else "")
            for v in spec.volumes
        ]

    def enforce(self, spec: ServiceSpec) -> None:
        """Refuse what only a trusted service may have. Resolves symbolic links, so run it
        on a thread."""
        if spec.name in self.trusted:
            return
        refusals = [
            ("privileged", spec.privileged, "privileged mode"),
            ("network_mode", spec.network_mode == "host", "the host's network"),
            ("pid_mode", spec.pid_mode == "host", "the host's PID namespace"),
            ("cap_add", bool(spec.cap_add), "added capabilities"),
            ("devices", bool(spec.devices), "host devices"),
        ]
        for field, asked, what in refusals:
            if asked:
                raise _refuse(field, f"'{spec.name}' may not use {what}")
        if spec.network_mode not in (None, "bridge", "none", "host"):
            raise _refuse("network_mode", "only 'bridge' or 'none' may be asked for")
        if spec.pid_mode not in (None, "host"):
            raise _refuse("pid_mode", "only the service's own PID namespace is allowed")
        roots = [Path(os.path.realpath(r)) for r in (self.service_dir(spec.name), *self.bind_roots)]
        for index, volume in enumerate(spec.volumes):
            if volume.is_named:
                continue
            if volume.source.startswith("~"):
                raise _refuse(f"volumes[{index}].source", "'~' is not expanded; give a path")
            resolved = Path(os.path.realpath(self.bind_source(spec, volume.source)))
            if not any(resolved == root or root in resolved.parents for root in roots):
                allowed = ", ".join(str(r) for r in roots)
                raise _refuse(
                    f"volumes[{index}].source",
                    f"'{volume.source}' is outside the allowed roots ({allowed})",
                )


def _refuse(path: str, message: str) -> PolicyRefused:
    return PolicyRefused(
        f"Refused {path}: {message}", {"fields": [{"path": path, "message": message}]}
    )
