"""A native service's unit file: rendered from its spec, read back for drift.

The file carries, as comments, what it was made with (`Applied`, as the Docker runtime reads
it from a container) and a hash of its own text: a file edited by hand no longer matches its
hash, and the instance then reports another program, which the reconciler sees as drift and
puts right.
"""

from __future__ import annotations

import hashlib

import msgspec

from homei.services.instance import Applied
from homei.services.spec import ServiceSpec

UNIT_PREFIX = "homei-svc-"
_HASH = "# homei-hash: "
_APPLIED = "# homei-applied: "
# The hardening every native service gets: its own dynamic user, a private state folder,
# a read-only system, no home folders, a private /tmp, no privilege gain, IP and UNIX only.
HARDENING = (
    "DynamicUser=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
)
# The same, as properties of a transient unit (a command run beside the service).
HARDENING_PROPERTIES: dict[str, bool | int | str | list[str]] = {
    "DynamicUser": True,
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": True,
    "NoNewPrivileges": True,
}
_RESTART = {"no": "no", "always": "always", "unless-stopped": "always", "on-failure": "on-failure"}


class UnitFile(msgspec.Struct, frozen=True):
    """A unit file as found on disk."""

    applied: Applied
    intact: bool  # its text matches the hash it was written with
    written_hash: str = ""  # the hash it was written with (003's `systemd_config_hash`)


def unit_name(instance: str) -> str:
    """The unit of an instance, e.g. `homei-svc-web.service`."""
    return f"{UNIT_PREFIX}{instance}.service"


def instance_of(unit: str) -> str | None:
    """The instance a unit file name belongs to, or None when it is not Homei's."""
    if unit.startswith(UNIT_PREFIX) and unit.endswith(".service"):
        return unit[len(UNIT_PREFIX) : -len(".service")] or None
    return None


def state_directory(service: str) -> str:
    """The service's state folder under /var/lib (systemd's StateDirectory=)."""
    return f"homei/{service}"


def quote(word: str) -> str:
    """One word of a command line or assignment, quoted as systemd reads it."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def render(spec: ServiceSpec, program: str, applied: Applied) -> str:
    """The unit file of `spec`, running `program` with the spec's arguments."""
    command = " ".join(quote(word) for word in (program, *spec.args))
    lines = [
        "[Unit]",
        f"Description=Homei service {spec.name}",
        "After=network.target",
        "",
        "[Service]",
        "Type=exec",  # a program that cannot be run fails the start job itself
        f"ExecStart={command}",
        f"StateDirectory={state_directory(spec.name)}",
        "WorkingDirectory=%S/" + state_directory(spec.name),
        *HARDENING,
        f"Restart={_RESTART[spec.restart_policy]}",
        "RestartSec=1",
        # Counted even where the system's defaults do not (cgroup v1): metrics read them.
        "MemoryAccounting=yes",
        "CPUAccounting=yes",
        f"TimeoutStopSec={spec.stop_timeout}",
    ]
    lines += [f"Environment={quote(f'{k}={v}')}" for k, v in sorted(spec.environment.items())]
    if spec.port is not None:
        lines.append(f"Environment={quote(f'PORT={spec.port}')}")
    if spec.memory_bytes:
        lines.append(f"MemoryMax={spec.memory_bytes}")
    if spec.cpu_limit:
        lines.append(f"CPUQuota={round(spec.cpu_limit * 100)}%")
    lines += ["", "[Install]", "WantedBy=multi-user.target", ""]
    body = "\n".join(lines)
    header = _APPLIED + msgspec.json.encode(applied).decode() + "\n"
    text = header + body
    return f"{_HASH}{_digest(text)}\n{text}"


def parse(text: str) -> UnitFile | None:
    """What a unit file was made with, and whether it is as written; None if not Homei's."""
    first, _, rest = text.partition("\n")
    if not first.startswith(_HASH) or not rest.startswith(_APPLIED):
        return None
    line = rest.partition("\n")[0]
    try:
        applied = msgspec.json.decode(line[len(_APPLIED) :], type=Applied)
    except msgspec.DecodeError:
        return None
    written = first[len(_HASH) :].strip()
    return UnitFile(applied, written == _digest(rest), written)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
