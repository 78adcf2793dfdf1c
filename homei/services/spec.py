"""A service as declared: the desired state Homei keeps Docker equal to.

Two request shapes arrive: seed 001's flat body (`image`, `restart_policy`,
`depends_on`, volume strings) and seed 000's nested one (`config.image`,
`config.restart`, `config.dependencies`, volume objects). `parse_spec` turns either
into one `ServiceSpec`; everything after that sees only the canonical form.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

import msgspec

from homei.core.errors import ValidationError
from homei.services import templates
from homei.services.config_schema import ENVIRONMENT_NAME, SecretsAs, VariableRule, rule_problems
from homei.services.instance import HASH_LABEL, MANAGED_LABEL, SERVICE_LABEL
from homei.services.values import Duration, Port, Size, decode_value, encode_value

# Words the services, configuration and system routes use where a service's name goes
# (`/services/validate`, `/config/validate`, `/config/{name}/versions`, ...): never names.
RESERVED_NAMES = (
    "validate", "import", "export", "versions", "reload", "restore", "secrets", "schedule",
    "schedules", "rotate", "device", "variables", "settings", "key", "keys", "info", "status",
)  # fmt: skip
NOT_RESERVED = rf"(?!(?:{'|'.join(RESERVED_NAMES)})$)"
NAME_PATTERN = rf"^{NOT_RESERVED}[a-z0-9][a-z0-9_.-]{{0,62}}$"
_NAME = re.compile(NAME_PATTERN)

RestartPolicy = Literal["no", "always", "unless-stopped", "on-failure"]
BackupMode = Literal["stop", "pause", "live"]
CheckType = Literal["http", "tcp", "command"]
Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
Runtime = Literal["docker", "systemd"]
ARTIFACT_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
ARTIFACT_VERSION = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$"
# What a native service's `image` is made from: its program, as `runtime_image` names it.
NATIVE_IMAGE_PREFIX = "systemd:"
# Fields of native services only: left out of a Docker spec's hash, so adding them changed
# no container's hash.
_NATIVE_FIELDS = ("runtime", "artifact", "exec", "args", "port", "domain")


class Volume(msgspec.Struct, forbid_unknown_fields=True):
    """`source` is a named volume, a path relative to the service's folder (`./x`) or an
    absolute host path inside the allowed roots."""

    source: Annotated[str, msgspec.Meta(min_length=1)]
    target: Annotated[str, msgspec.Meta(min_length=1, pattern="^/")]
    read_only: bool = False

    @property
    def is_named(self) -> bool:
        """A Docker named volume rather than a bind mount (`${VAR}` expands to a path)."""
        return not self.source.startswith(("/", "./", "../", "~", "${"))

    def as_string(self) -> str:
        """001's `src:dst[:ro]` form."""
        return f"{self.source}:{self.target}{':ro' if self.read_only else ''}"


class DockerHealthcheck(msgspec.Struct, forbid_unknown_fields=True):
    """The container's own healthcheck, run by Docker (000's `healthcheck`)."""

    test: list[str] | str
    interval: Duration = Duration("30s")
    timeout: Duration = Duration("10s")
    retries: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    start_period: Duration = Duration("0s")


class Check(msgspec.Struct, forbid_unknown_fields=True):
    """A check Homei runs itself: an HTTP GET, a TCP connect, or a command in the container."""

    type: CheckType
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    path: str = "/"
    command: list[str] | None = None
    expect_status: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None


class HealthPolicy(msgspec.Struct, forbid_unknown_fields=True):
    """How Homei watches a service: its checks, their pace, and when to restart it."""

    checks: list[Check] = msgspec.field(default_factory=list)
    interval: Duration = Duration("15s")
    timeout: Duration = Duration("5s")
    start_period: Duration = Duration("10s")
    # Restart after this many failed checks in a row (0: never); back-off doubles per restart.
    restart_after: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 3
    # More restarts than this within the window (by the runtime's restart policy): a crash loop.
    restart_budget: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 3
    restart_window: Duration = Duration("5m")


class ReloadPolicy(msgspec.Struct, forbid_unknown_fields=True):
    """How a service takes a new configuration without a restart: a signal sent to it, or a
    command run in it (exit status 0 means done)."""

    signal: Literal["SIGHUP", "SIGUSR1", "SIGUSR2"] | None = None
    command: Annotated[list[str], msgspec.Meta(min_length=1)] | None = None

    def __post_init__(self) -> None:
        if (self.signal is None) == (self.command is None):
            raise ValueError("reload: give either `signal` or `command`")


class ArtifactRef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An uploaded program (see `/api/v1/artifacts`) a native service runs."""

    name: Annotated[str, msgspec.Meta(pattern=ARTIFACT_NAME)]
    version: Annotated[str, msgspec.Meta(pattern=ARTIFACT_VERSION)]


class ServiceSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    """The canonical declared service."""

    name: Name
    image: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    category: str | None = None
    version: str | None = None
    description: str | None = None
    enabled: bool = True
    critical: bool = False
    restart_policy: RestartPolicy = "unless-stopped"
    command: list[str] | None = None
    environment: dict[str, str] = msgspec.field(default_factory=dict)
    ports: list[Port] = msgspec.field(default_factory=list)
    volumes: list[Volume] = msgspec.field(default_factory=list)
    networks: list[Name] = msgspec.field(default_factory=list)
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    depends_on: list[Name] = msgspec.field(default_factory=list)
    healthcheck: DockerHealthcheck | None = None
    health: HealthPolicy = msgspec.field(default_factory=HealthPolicy)
    reload: ReloadPolicy | None = None
    cpu_limit: Annotated[float, msgspec.Meta(gt=0, le=1024)] | None = None
    memory_limit: Size | None = None
    stop_timeout: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 10
    backup_mode: BackupMode = "stop"
    # Asking for these is refused unless the service is trusted (see homei.services.policy).
    privileged: bool = False
    network_mode: str | None = None
    pid_mode: str | None = None
    cap_add: list[str] = msgspec.field(default_factory=list)
    devices: list[str] = msgspec.field(default_factory=list)
    # Configuration: the environment whose values the service runs with, the rules its
    # variables and secrets follow, and whether secrets arrive as files or variables.
    config_environment: Annotated[str, msgspec.Meta(pattern=ENVIRONMENT_NAME)] = "production"
    config_schema: dict[str, VariableRule] = msgspec.field(default_factory=dict)
    secrets_as: SecretsAs = "files"
    # Native services (`runtime: "systemd"`): the program (an artefact or a path under a
    # configured root), its arguments, the port it listens on and the domain routed to it.
    runtime: Runtime = "docker"
    artifact: ArtifactRef | None = None
    exec: Annotated[str, msgspec.Meta(min_length=1, max_length=4096, pattern="^/")] | None = None
    args: list[str] = msgspec.field(default_factory=list)
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=253)] | None = None

    @property
    def memory_bytes(self) -> int | None:
        """The memory limit in bytes."""
        return None if self.memory_limit is None else self.memory_limit.bytes

    def instance_labels(self) -> dict[str, str]:
        """The instance's labels: the spec's own, Homei's marks and the hash of the spec.

        A spec resolved with its configuration already carries the hash of the spec as
        declared: hashing the resolved one would put its secrets in an unkeyed hash.
        """
        return {
            **self.labels,
            MANAGED_LABEL: "true",
            SERVICE_LABEL: self.name,
            HASH_LABEL: self.labels.get(HASH_LABEL) or self.runtime_hash(),
        }

    def runtime_hash(self) -> str:
        """What the container is made from: a change here means a new container."""
        fields = msgspec.structs.asdict(self)
        for name in (
            "category", "version", "description", "enabled", "critical", "health",
            # The configuration's values are hashed apart, keyed (the config-hash label).
            "config_schema", "config_environment", "secrets_as",
        ):  # fmt: skip
            fields.pop(name)
        fields.pop("backup_mode")
        fields.pop("reload")  # how a configuration is taken, not what the container is
        fields.pop("domain")  # routed by the proxy, not part of the instance
        if self.runtime == "docker":
            for name in _NATIVE_FIELDS[:-1]:
                fields.pop(name)
        encoded = msgspec.json.encode(fields, order="sorted", enc_hook=encode_value)
        return hashlib.sha256(encoded).hexdigest()[:16]


# Seed 000 nests the container's settings under `config` and names two of them differently.
_NESTED_RENAMES: dict[str, str] = {"restart": "restart_policy", "dependencies": "depends_on"}
_TOP_RENAMES: dict[str, str] = {"dependencies": "depends_on", "restart": "restart_policy"}


def normalise(body: Any) -> dict[str, Any]:
    """Either request shape as one flat mapping of canonical field names."""
    if not isinstance(body, dict):
        raise ValidationError("The service must be a JSON object", {"fields": [{"path": "body"}]})
    if templates.is_template(body):
        return templates.from_template(body)
    flat: dict[str, Any] = {
        _TOP_RENAMES.get(str(k), str(k)): v for k, v in body.items() if k not in ("config", "id")
    }
    nested = body.get("config")
    if nested is not None:
        if not isinstance(nested, dict):
            raise ValidationError("`config` must be an object", {"fields": [{"path": "config"}]})
        for key, value in nested.items():
            flat.setdefault(_NESTED_RENAMES.get(str(key), str(key)), value)
    if isinstance(flat.get("volumes"), list):
        flat["volumes"] = [_volume(v, i) for i, v in enumerate(flat["volumes"])]
    return flat


def _volume(value: Any, index: int) -> Any:
    if not isinstance(value, str):
        return value
    parts = value.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise _invalid(f"volumes[{index}]", f"expected 'source:target[:ro]', got '{value}'")
    return {
        "source": parts[0],
        "target": parts[1],
        "read_only": len(parts) == 3 and parts[2] == "ro",
    }


def parse_spec(body: Any, *, name: str | None = None) -> ServiceSpec:
    """A validated `ServiceSpec` from a request body; 400 naming the field otherwise."""
    flat = normalise(body)
    if flat.get("runtime") == "systemd" and not flat.get("image"):
        flat["image"] = runtime_image(flat)
    if name is not None and flat.setdefault("name", name) != name:
        raise _invalid("name", f"the body names '{flat['name']}' but the path '{name}'")
    try:
        spec = msgspec.convert(flat, ServiceSpec, dec_hook=decode_value)
    except msgspec.ValidationError as err:
        message, _, path = str(err).rpartition(" - at `$")
        location = path.rstrip("`").lstrip(".") if message else "body"
        raise _invalid(location or "body", message or str(err)) from None
    check(spec)
    return spec


def runtime_image(flat: dict[str, Any]) -> str:
    """A native service's `image`: its program, `systemd:artifact/NAME/VERSION` or
    `systemd:exec/PATH` (what drift compares, like a container's image)."""
    artifact, path = flat.get("artifact"), flat.get("exec")
    if isinstance(artifact, dict) and path is None:
        return f"{NATIVE_IMAGE_PREFIX}artifact/{artifact.get('name')}/{artifact.get('version')}"
    if isinstance(path, str) and artifact is None:
        return f"{NATIVE_IMAGE_PREFIX}exec{path}"
    raise _invalid("artifact", "a systemd service names either `artifact` or `exec`")


def check(spec: ServiceSpec) -> None:
    """Rules a schema cannot say: environment names, targets, checks, self-dependency."""
    _check_runtime(spec)
    for key in spec.environment:
        if not key or "=" in key or "\0" in key:
            raise _invalid(f"environment.{key}", "an environment name cannot be empty or hold '='")
    for key in spec.labels:
        if key.startswith("io.homei."):
            raise _invalid(f"labels.{key}", "labels under 'io.homei.' are Homei's own")
    for key, rule in spec.config_schema.items():
        if not key or "=" in key or "\0" in key:
            raise _invalid(f"config_schema.{key}", "a variable name cannot be empty or hold '='")
        for problem in rule_problems(key, rule):
            raise _invalid(f"config_schema.{key}", problem)
    targets: set[str] = set()
    for index, volume in enumerate(spec.volumes):
        if ".." in volume.target.split("/") or volume.target in targets:
            raise _invalid(f"volumes[{index}].target", f"'{volume.target}' is not a valid target")
        targets.add(volume.target)
        if volume.is_named and not _NAME.match(volume.source) and "${" not in volume.source:
            raise _invalid(f"volumes[{index}].source", f"'{volume.source}' is not a volume name")
    if spec.name in spec.depends_on:
        raise _invalid("depends_on", f"'{spec.name}' cannot depend on itself")
    for index, item in enumerate(spec.health.checks):
        if item.type in ("http", "tcp") and item.port is None:
            raise _invalid(f"health.checks[{index}].port", f"a {item.type} check needs a port")
        if item.type == "command" and not item.command:
            raise _invalid(f"health.checks[{index}].command", "a command check needs a command")


def _check_runtime(spec: ServiceSpec) -> None:
    native = spec.runtime == "systemd"
    if native:
        artifact = msgspec.to_builtins(spec.artifact) if spec.artifact else None
        if spec.image != runtime_image({"artifact": artifact, "exec": spec.exec}):
            raise _invalid("image", "a systemd service's program is its `artifact` or `exec`")
        for field in ("volumes", "networks", "ports", "cap_add", "devices"):
            if getattr(spec, field):
                raise _invalid(field, f"`{field}` is for Docker services; not for systemd ones")
        if spec.privileged or spec.network_mode or spec.pid_mode or spec.healthcheck:
            raise _invalid("runtime", "a systemd service runs hardened, as a unit")
    elif spec.artifact or spec.exec or spec.args or spec.port:
        raise _invalid("runtime", "`artifact`, `exec`, `args` and `port` need runtime 'systemd'")
    elif spec.image.startswith(NATIVE_IMAGE_PREFIX):
        raise _invalid("image", f"'{spec.image}' is not an image")


def encode_spec(spec: ServiceSpec) -> bytes:
    """The spec as JSON, each value as it was written."""
    return msgspec.json.encode(spec, enc_hook=encode_value)


def decode_spec(data: bytes | str) -> ServiceSpec:
    """A spec stored by `encode_spec`."""
    return msgspec.json.decode(data, type=ServiceSpec, dec_hook=decode_value)


def spec_fields(spec: ServiceSpec) -> dict[str, Any]:
    """The spec as plain JSON values, ready to be changed and parsed again."""
    return msgspec.to_builtins(spec, enc_hook=encode_value)  # type: ignore[no-any-return]


def _invalid(path: str, message: str) -> ValidationError:
    return ValidationError(
        f"Invalid {path}: {message}", {"fields": [{"path": path, "message": message}]}
    )
