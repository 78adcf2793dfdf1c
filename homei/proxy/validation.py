"""Seed 003's validation: a service before it is declared, and the device before it runs any.

Every problem is reported at once as `{field, message, code}` (errors refuse, warnings
inform), with the checks that were made; nothing changes.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from homei.core.errors import HomeiError, ProxyError
from homei.proxy.manager import ReverseProxy
from homei.proxy.routes import domain_problem
from homei.services.manager import ServiceManager
from homei.services.ports import can_bind
from homei.services.spec import NAME_PATTERN, parse_spec

Problem = dict[str, str]
REQUIRED_TOOLS = ("systemctl", "journalctl", "caddy")


def problem(field: str, message: str, code: str) -> Problem:
    """One entry of `errors` or `warnings`."""
    return {"field": field, "message": message, "code": code}


class ServiceValidator:
    """`POST /validate/service`: Homei's service body or seed 003's `project_name` body."""

    def __init__(self, services: ServiceManager, proxy: ReverseProxy) -> None:
        self._services = services
        self._proxy = proxy

    async def validate(self, body: dict[str, Any]) -> dict[str, Any]:
        """The verdict on `body`: `valid`, `errors`, `warnings`, `checks`."""
        errors: list[Problem] = []
        warnings: list[Problem] = []
        checks: dict[str, bool] = {}
        template = "project_name" in body
        name_field = "project_name" if template else "name"
        spec = None
        if template:
            name = str(body.get("project_name") or "")
            ports = _template_ports(body, errors)
            checks["name_valid"] = _name_ok(name, name_field, errors)
        else:
            try:
                spec = parse_spec(body)
            except HomeiError as err:
                errors.append(problem(_field_of(err, "body"), err.message, err.code))
                checks["spec_valid"] = False
                return _verdict(errors, warnings, checks)
            checks["spec_valid"] = True
            name = spec.name
            ports = [(p.ip, p.host, p.protocol) for p in spec.ports if p.host is not None]
            if spec.port is not None:  # a native service listens on loopback
                ports.append(("", spec.port, "tcp"))
        taken = self._services.store.get(name) is not None or name in self._services.busy
        if taken:
            message = f"A service named '{name}' already exists"
            errors.append(problem(name_field, message, "DUPLICATE_PROJECT_NAME"))
        checks["name_available"] = not taken
        checks["port_available"] = await self._ports_free(name, ports, errors)
        domain = str(body.get("domain") or "")
        if domain:
            checks["domain_valid"] = await self._domain_ok(name, domain, errors, warnings)
        if spec is not None and not errors:
            # What an install would check besides: policy, dependencies, image, runtime.
            try:
                await self._services.admissible(spec)
            except HomeiError as err:
                errors.append(problem(_field_of(err, "service"), err.message, err.code))
            checks["admissible"] = not errors
        return _verdict(errors, warnings, checks)

    async def _ports_free(
        self, name: str, ports: list[tuple[str, int, str]], errors: list[Problem]
    ) -> bool:
        owners = {
            (port.host, port.protocol): other
            for other, row in self._services.store.all().items()
            if other != name
            for port in row.spec.ports
            if port.host is not None
        }
        for other, row in self._services.store.all().items():
            if other != name and row.spec.port is not None:  # a native service's port
                owners[(row.spec.port, "tcp")] = other
        free = True
        for index, (ip, host, proto) in enumerate(ports):
            field = "port" if len(ports) == 1 and not ip and proto == "tcp" else f"ports[{index}]"
            owner = owners.get((host, proto))
            if owner is not None:
                message = f"Port {host} is already used by service '{owner}'"
            elif not await asyncio.to_thread(can_bind, ip or "127.0.0.1", host, proto):
                message = f"Port {host} is already in use on the device"
            else:
                continue
            free = False
            errors.append(problem(field, message, "PORT_IN_USE"))
        return free

    async def _domain_ok(
        self, name: str, domain: str, errors: list[Problem], warnings: list[Problem]
    ) -> bool:
        reason = domain_problem(domain)
        if reason is not None:
            errors.append(problem("domain", reason, "INVALID_DOMAIN"))
            return False
        owner = self._proxy.domain_owner(domain, besides=name)
        if owner is not None:
            message = f"Domain '{domain}' is already served by service '{owner}'"
            errors.append(problem("domain", message, "DOMAIN_TAKEN"))
            return False
        if not self._proxy.enabled:
            return True
        try:
            foreign = await self._proxy.foreign_hosts()
        except ProxyError as err:
            warnings.append(problem("domain", err.message, err.code))
            return True
        if domain in foreign:
            message = f"Domain '{domain}' is already served by a route of Caddy's own"
            errors.append(problem("domain", message, "DOMAIN_TAKEN"))
            return False
        return True


class SystemChecks:
    """`GET /validate/system` and `/system/health`: what native services and routes need."""

    def __init__(
        self,
        proxy: ReverseProxy,
        base_dir: Path,
        unit_dir: Path,
        systemd_available: Callable[[], bool],
    ) -> None:
        self._proxy = proxy
        self._base_dir = base_dir
        self._unit_dir = unit_dir
        self._systemd_available = systemd_available

    async def validate(self) -> dict[str, Any]:
        """`is_valid`, `errors`, `warnings` and seed 003's `checks`."""
        errors: list[Problem] = []
        warnings: list[Problem] = []
        local = await asyncio.to_thread(self._local_checks)
        if not local["systemd_available"]:
            message = "systemd does not answer: native services are unavailable"
            warnings.append(problem("system", message, "SYSTEMD_UNAVAILABLE"))
        elif not local["systemd_writable"]:
            message = f"Cannot write to the unit folder {self._unit_dir}"
            errors.append(problem("system", message, "SYSTEMD_DIR_NOT_WRITABLE"))
        if not local["base_directory_writable"]:
            message = "Cannot write to the services' base folder"
            errors.append(problem("system", message, "BASE_DIR_NOT_WRITABLE"))
        caddy_available = caddy_writable = False
        if not self._proxy.enabled:
            warnings.append(problem("system", "The reverse proxy is turned off", "PROXY_DISABLED"))
        else:
            try:
                await self._proxy.foreign_hosts()
                caddy_available = caddy_writable = True
            except ProxyError as err:
                # Answering but refusing (no such server) is an error; not answering, a warning.
                caddy_available = "status" in err.details
                target = errors if caddy_available else warnings
                code = "CADDY_NOT_WRITABLE" if caddy_available else "MISSING_CADDY"
                target.append(problem("system", err.message, code))
        for tool, found in local["required_tools"].items():
            if not found:
                message = f"{tool} is not installed or not in PATH"
                code = "MISSING_CADDY" if tool == "caddy" else "MISSING_TOOL"
                if not any(w["code"] == code and tool in w["message"] for w in warnings):
                    warnings.append(problem("system", message, code))
        checks = {**local, "caddy_available": caddy_available, "caddy_writable": caddy_writable}
        return {"is_valid": not errors, "errors": errors, "warnings": warnings, "checks": checks}

    async def health(self) -> dict[str, Any]:
        """Seed 003's system health: `healthy`, `checks` (systemd, caddy, permissions)."""
        found = await self.validate()
        checks = found["checks"]
        return {
            "healthy": found["is_valid"],
            "checks": {
                "systemd": checks["systemd_available"] and checks["systemd_writable"],
                "caddy": checks["caddy_available"] and checks["caddy_writable"],
                "permissions": checks["base_directory_writable"],
            },
            "errors": found["errors"],
            "warnings": found["warnings"],
        }

    def _local_checks(self) -> dict[str, Any]:
        systemd = self._systemd_available()
        return {
            "systemd_available": systemd,
            "systemd_writable": systemd and _writable(self._unit_dir),
            "base_directory_writable": _writable(self._base_dir),
            "required_tools": {tool: shutil.which(tool) is not None for tool in REQUIRED_TOOLS},
        }


def _writable(folder: Path) -> bool:
    # A folder not made yet is writable when its nearest existing parent is.
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _name_ok(name: str, field: str, errors: list[Problem]) -> bool:
    if re.match(NAME_PATTERN, name):
        return True
    errors.append(problem(field, f"'{name}' is not a valid or allowed name", "VALIDATION_ERROR"))
    return False


def _template_ports(body: dict[str, Any], errors: list[Problem]) -> list[tuple[str, int, str]]:
    port = body.get("port")
    if port is None:
        return []
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        errors.append(problem("port", "a port is a number from 1 to 65535", "VALIDATION_ERROR"))
        return []
    return [("", port, "tcp")]


def _field_of(err: HomeiError, default: str) -> str:
    fields = err.details.get("fields")
    if isinstance(fields, list) and fields and isinstance(fields[0], dict):
        return str(fields[0].get("path") or default)
    return default


def _verdict(
    errors: list[Problem], warnings: list[Problem], checks: dict[str, bool]
) -> dict[str, Any]:
    return {"valid": not errors, "errors": errors, "warnings": warnings, "checks": checks}
