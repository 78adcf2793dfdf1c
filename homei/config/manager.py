"""The per-service configuration API's one entry point: checks, writes, history, formats.

A write is checked against the service's rules first and refused whole (400 `CONFIG_ERROR`)
when anything is wrong. What is written is a new version, announced as `config:updated`
(names only, never values); when it is the environment the service runs with, the
reconciler is asked to look at the service, and the config drift it finds recreates the
container with the new values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from homei.config import validation
from homei.config.config_records import ConfigVersion, VersionInfo
from homei.config.formats import EXPORTERS, PARSERS, Format
from homei.config.service_config import REDACTED, ServiceConfigs
from homei.config.validation import Verdict
from homei.core.events import EventBus
from homei.services.spec import ServiceSpec
from homei.services.store import ServiceStore


class ConfigManager:
    """Reads and writes services' configurations under their declared rules."""

    def __init__(
        self,
        configs: ServiceConfigs,
        services: ServiceStore,
        reconcile: Callable[[str], object],
        events: EventBus,
    ) -> None:
        self.configs = configs
        self._services = services
        self._reconcile = reconcile
        self._events = events

    def spec(self, service: str) -> ServiceSpec:
        """The declared service; 404 `SERVICE_NOT_FOUND` when there is none."""
        return self._services.declared(service).spec

    async def get(
        self, service: str, environment: str | None, *, include_secrets: bool
    ) -> ConfigVersion:
        """The newest version in `environment` (the service's active one when None)."""
        spec = self.spec(service)
        return await self.configs.get(
            service, environment or spec.config_environment, include_secrets=include_secrets
        )

    async def validate(
        self,
        service: str,
        environment: str | None,
        variables: Mapping[str, str],
        secrets: Mapping[str, str] | None,
    ) -> Verdict:
        """000's verdict on a configuration, nothing written."""
        spec = self.spec(service)
        return await asyncio.to_thread(validation.check, spec, variables, secrets)

    async def put(
        self,
        service: str,
        environment: str | None,
        variables: Mapping[str, str],
        secrets: Mapping[str, str],
        *,
        actor: str,
    ) -> ConfigVersion:
        """A new version, whole, once it passes the service's rules."""
        spec = self.spec(service)
        environment = environment or spec.config_environment
        await asyncio.to_thread(validation.require_valid, spec, variables, secrets)
        written = await self.configs.put(service, environment, variables, secrets, actor=actor)
        self._written(spec, written)
        return written

    async def versions(self, service: str, environment: str | None) -> list[VersionInfo]:
        spec = self.spec(service)
        return await self.configs.versions(service, environment or spec.config_environment)

    async def restore(
        self, service: str, environment: str | None, version: int, *, actor: str
    ) -> ConfigVersion:
        """A new version equal to an older one."""
        spec = self.spec(service)
        environment = environment or spec.config_environment
        restored = await self.configs.restore(service, environment, version, actor=actor)
        self._written(spec, restored)
        return restored

    async def export(
        self, service: str, environment: str | None, form: Format, *, include_secrets: bool
    ) -> str:
        """The configuration as an env file, YAML or JSON."""
        config = await self.get(service, environment, include_secrets=include_secrets)
        return EXPORTERS[form](service, config.environment, config.variables, config.secrets)

    async def import_(
        self, service: str, environment: str | None, form: Format, data: str, *, actor: str
    ) -> ConfigVersion:
        """A new version from a document; names the rules call secrets go to secrets.

        A secret given as `***REDACTED***` (an export without secrets) keeps its value.
        """
        spec = self.spec(service)
        parsed = PARSERS[form](data)
        variables: dict[str, str] = {}
        secrets = dict(parsed.secrets)
        for name, value in parsed.values.items():
            rule = spec.config_schema.get(name)
            if (rule is not None and rule.secret) or value == REDACTED:
                secrets[name] = value
            else:
                variables[name] = value
        return await self.put(service, environment, variables, secrets, actor=actor)

    def _written(self, spec: ServiceSpec, written: ConfigVersion) -> None:
        self._events.publish(
            "config:updated",
            {
                "service": spec.name,
                "environment": written.environment,
                "version": written.version,
                "variables": sorted(written.variables),
                "secrets": sorted(written.secrets),
            },
        )
        if written.environment == spec.config_environment:
            self._reconcile(spec.name)
