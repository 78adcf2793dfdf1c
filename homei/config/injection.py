"""What a service's instance is made with: its spec resolved with its configuration.

The active environment's variables become environment variables; its secrets become files
`/run/secrets/NAME` (mode 0400, from a folder on a tmpfs bind-mounted read-only), or
environment variables where the spec asks for that. Device variables `${NAME}` in volume
sources and environment values are expanded at the same step. The resolved spec carries a
keyed hash of the configuration, so a container started with other values is found (and
made again) without the label telling anyone what the values are.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

from homei.config.keys import DeviceKey
from homei.config.service_config import ServiceConfigs
from homei.core.atomic import write_file_atomic
from homei.core.errors import ValidationError
from homei.services import spec as specs
from homei.services.instance import CONFIG_HASH_LABEL, HASH_LABEL
from homei.services.spec import ServiceSpec, Volume

_LOGGER = logging.getLogger(__name__)

SECRETS_TARGET = "/run/secrets"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HASH_LABEL = b"homei configuration hash v1"


class UndefinedVariable(ValidationError):
    code = "UNDEFINED_VARIABLE"


def default_secrets_root(data_dir: Path) -> Path:
    """Where secret files go when the settings do not say: on a tmpfs either way."""
    if os.geteuid() == 0:
        return Path("/run/homei/secrets")
    # /dev/shm is a tmpfs every user may write on Debian; the data folder keeps two
    # daemons of one user apart.
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]
    return Path(f"/dev/shm/homei-{os.geteuid()}-{tag}/secrets")  # noqa: S108


def _expand(text: str, values: Mapping[str, str], where: str, missing: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name not in values:
            missing.append(f"{name} (in {where})")
            return match[0]
        return values[name]

    return _VARIABLE.sub(replace, text)


def _sync_files(folder: Path, secrets: Mapping[str, str]) -> None:
    """The folder holding exactly one 0400 file per secret, each rewritten only if it differs."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for path in folder.iterdir():
        if path.name not in secrets:
            path.unlink(missing_ok=True)
    for name, value in secrets.items():
        path = folder / name
        data = value.encode()
        try:
            same = hmac.compare_digest(path.read_bytes(), data)
        except FileNotFoundError:
            same = False
        if not same:
            write_file_atomic(path, data, 0o400)


class ConfigResolver:
    """Expands device variables and resolves a spec with its service's configuration."""

    def __init__(
        self,
        configs: ServiceConfigs,
        key: DeviceKey,
        secrets_root: Path,
        device_variables: Callable[[], Mapping[str, str]],
    ) -> None:
        self._configs = configs
        self._key = key
        self._root = secrets_root
        self._device_variables = device_variables
        self._hash_key = (b"", b"")  # (fingerprint, key), made again if a restore brings a key

    def _label_key(self) -> bytes:
        # A key of its own for the labels' hash: the device key itself seals secrets only.
        fingerprint = self._key.fingerprint.encode()
        if self._hash_key[0] != fingerprint:
            derived = hmac.new(self._key.material, _HASH_LABEL, hashlib.sha256).digest()
            self._hash_key = (fingerprint, derived)
        return self._hash_key[1]

    def secrets_folder(self, service: str) -> Path:
        """The host folder of a service's secret files."""
        return self._root / service

    def expand(self, spec: ServiceSpec) -> ServiceSpec:
        """The spec with `${NAME}` device variables expanded; 400 naming any undefined one."""
        values = self._device_variables()
        missing: list[str] = []
        environment = {
            k: _expand(v, values, f"environment.{k}", missing) for k, v in spec.environment.items()
        }
        volumes = [
            msgspec.structs.replace(
                v, source=_expand(v.source, values, f"volumes[{i}].source", missing)
            )
            for i, v in enumerate(spec.volumes)
        ]
        if missing:
            raise UndefinedVariable(
                f"Undefined device variables: {', '.join(missing)}",
                {"variables": [m.split(" ", 1)[0] for m in missing]},
            )
        if environment == spec.environment and volumes == spec.volumes:
            return spec
        expanded = msgspec.structs.replace(spec, environment=environment, volumes=volumes)
        specs.check(expanded)
        return expanded

    async def resolve(self, spec: ServiceSpec, *, write: bool = True) -> ServiceSpec:
        """The spec an instance is made from; with `write`, the secret files made to match."""
        expanded = self.expand(spec)
        config = await self._configs.get(spec.name, spec.config_environment, include_secrets=True)
        defaults = {
            k: r.default
            for k, r in spec.config_schema.items()
            if r.default is not None and not r.secret
        }
        variables = {**defaults, **config.variables}
        environment = {**expanded.environment, **variables}
        volumes = list(expanded.volumes)
        folder = self.secrets_folder(spec.name)
        if spec.secrets_as == "env":
            environment.update(config.secrets)
            files: dict[str, str] = {}
        else:
            files = config.secrets
            if files:
                volumes.append(Volume(str(folder), SECRETS_TARGET, read_only=True))
        if write:
            if files:
                await asyncio.to_thread(_sync_files, folder, files)
            else:
                await asyncio.to_thread(shutil.rmtree, folder, True)
        labels = {**expanded.labels, HASH_LABEL: expanded.runtime_hash()}
        if variables or config.secrets:  # none: made as before configurations existed
            labels[CONFIG_HASH_LABEL] = self.config_hash(variables, config.secrets, spec.secrets_as)
        return msgspec.structs.replace(
            expanded, environment=environment, volumes=volumes, labels=labels
        )

    def config_hash(
        self, variables: Mapping[str, str], secrets: Mapping[str, str], way: str
    ) -> str:
        """A keyed hash of a configuration: equal values, equal hash; it reveals nothing."""
        body = msgspec.json.encode([variables, secrets, way], order="sorted")
        return hmac.new(self._label_key(), body, hashlib.sha256).hexdigest()[:32]

    async def release(self, service: str, *, forget: bool) -> None:
        """Remove the service's secret files (it was uninstalled); with `forget` (its data
        removed too), every version of its configuration."""
        await asyncio.to_thread(shutil.rmtree, self.secrets_folder(service), True)
        if forget:
            await self._configs.forget(service)
