"""`/api/v1/systems`: the systems jobs run on, their connection test and host keys, and the
device's own SSH public key."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.jobs.admin import SystemAdmin
from homei.jobs.keypair import DeviceKeyPair
from homei.jobs.ssh import TestResult
from homei.jobs.system_records import (
    HOSTNAME_PATTERN,
    NAME_PATTERN,
    USERNAME_PATTERN,
    AuthMethod,
    System,
    SystemType,
)
from homei.jobs.systems import SystemChanges, Systems

# A UUID or `local`: never a word such as `key`, so `/systems/key` stays its own route.
SYSTEM = "{system_id:local|[0-9a-f-]+}"
SYSTEM_PARAM = {"type": "string", "pattern": "^(local|[0-9a-f-]+)$", "maxLength": 64}
Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
Hostname = Annotated[str, msgspec.Meta(pattern=HOSTNAME_PATTERN)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Description = Annotated[str, msgspec.Meta(max_length=1024)]
LoginMethod = Literal["key", "password"]


class SystemList(msgspec.Struct):
    systems: list[System]
    total: int
    limit: int
    offset: int


class ListQuery(msgspec.Struct, forbid_unknown_fields=True):
    active: bool | None = None
    system_type: SystemType | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0, le=2**31)] = 0


class CreateSystem(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    hostname: Hostname
    username: Username
    port: Port = 22
    system_type: SystemType = "linux"
    password: Password | None = None
    auth_method: LoginMethod | None = None
    description: Description = ""
    is_active: bool = True
    operators_allowed: bool = False


class UpdateSystem(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    hostname: Hostname | None = None
    username: Username | None = None
    port: Port | None = None
    system_type: SystemType | None = None
    password: Password | None = None
    auth_method: LoginMethod | None = None
    description: Description | None = None
    is_active: bool | None = None
    operators_allowed: bool | None = None


class AcceptHostKey(msgspec.Struct, forbid_unknown_fields=True):
    fingerprint: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class PublicKey(msgspec.Struct):
    public_key: str
    fingerprint: str
    algorithm: str


class SystemDeleted(msgspec.Struct):
    message: str


def _changes(body: CreateSystem | UpdateSystem, auth: AuthMethod | None) -> SystemChanges:
    return SystemChanges(
        name=body.name,
        hostname=body.hostname,
        port=body.port,
        system_type=body.system_type,
        username=body.username,
        auth_method=auth,
        description=body.description,
        is_active=body.is_active,
        operators_allowed=body.operators_allowed,
    )


class SystemsApi:
    """Systems reached over SSH, and the built-in `local` one."""

    def __init__(self, systems: Systems, admin: SystemAdmin, keypair: DeviceKeyPair) -> None:
        self._systems = systems
        self._admin = admin
        self._keypair = keypair

    @endpoint("GET", "/api/v1/systems", summary="List systems", tag="systems",
              permission=Permission.READ, query=ListQuery, response=SystemList)  # fmt: skip
    async def list(self, request: web.Request, query: ListQuery) -> SystemList:
        """Systems by name (`local` first), filtered by `active` and `system_type`."""
        systems, total = await self._systems.list(
            active=query.active, system_type=query.system_type, limit=query.limit,
            offset=query.offset,
        )  # fmt: skip
        return SystemList(systems, total, query.limit, query.offset)

    @endpoint("POST", "/api/v1/systems", summary="Register a system", tag="systems",
              permission=Permission.ADMIN, body=CreateSystem, response=System, status=201,
              errors=(409,))  # fmt: skip
    async def create(self, request: web.Request, body: CreateSystem) -> System:
        """Registers a system. With `password` it logs in with it; without, with the device's
        own key (`GET /api/v1/systems/key`). The password is kept sealed and never returned.
        409 when the name is taken."""
        return await self._admin.create(_changes(body, body.auth_method), body.password)

    @endpoint("GET", "/api/v1/systems/key", summary="The device's SSH public key",
              tag="systems", permission=Permission.READ, response=PublicKey)  # fmt: skip
    async def key(self, request: web.Request) -> PublicKey:
        """The public half of the device's ed25519 key pair, made on first use, in OpenSSH
        format: add it to a system's `authorized_keys` for key login."""
        return PublicKey(
            await self._keypair.public_key(), await self._keypair.fingerprint(), "ssh-ed25519"
        )

    @endpoint("GET", f"/api/v1/systems/{SYSTEM}", summary="Get a system", tag="systems",
              permission=Permission.READ, response=System,
              path_params={"system_id": SYSTEM_PARAM})  # fmt: skip
    async def get(self, request: web.Request) -> System:
        """One system, without its secrets."""
        return await self._systems.get(request.match_info["system_id"])

    @endpoint("PUT", f"/api/v1/systems/{SYSTEM}", summary="Change a system", tag="systems",
              permission=Permission.ADMIN, body=UpdateSystem, response=System,
              path_params={"system_id": SYSTEM_PARAM}, errors=(409,))  # fmt: skip
    async def update(self, request: web.Request, body: UpdateSystem) -> System:
        """Changes the fields given. A new `hostname` or `port` forgets the pinned host key;
        a `password` switches the system to password login, `auth_method: key` back to the
        device's key. 409 for the built-in `local` system or a name taken."""
        return await self._admin.update(
            request.match_info["system_id"], _changes(body, body.auth_method), body.password
        )

    @endpoint("DELETE", f"/api/v1/systems/{SYSTEM}", summary="Delete a system",
              tag="systems", permission=Permission.ADMIN, response=SystemDeleted,
              path_params={"system_id": SYSTEM_PARAM}, errors=(409,))  # fmt: skip
    async def delete(self, request: web.Request) -> SystemDeleted:
        """Forgets a system with its password and its jobs' executions on it. 409 for
        `local`."""
        await self._admin.delete(request.match_info["system_id"])
        return SystemDeleted("System deleted successfully")

    @endpoint("POST", f"/api/v1/systems/{SYSTEM}/test", summary="Test a system's connection",
              tag="systems", permission=Permission.ADMIN, response=TestResult,
              path_params={"system_id": SYSTEM_PARAM}, errors=(409,))  # fmt: skip
    async def test(self, request: web.Request) -> TestResult:
        """Logs in and runs `whoami`, `hostname` and `uname -a` (`ver` on Windows). The first
        test pins the host key's fingerprint (`host_key_fingerprint`); a later change fails
        with `error.code` `HOST_KEY_MISMATCH`. A failure answers 200 with `success: false`."""
        return await self._admin.test(request.match_info["system_id"])

    @endpoint("POST", f"/api/v1/systems/{SYSTEM}/accept-host-key",
              summary="Accept a system's new host key", tag="systems",
              permission=Permission.ADMIN, body=AcceptHostKey, response=System,
              path_params={"system_id": SYSTEM_PARAM}, errors=(409,))  # fmt: skip
    async def accept_host_key(self, request: web.Request, body: AcceptHostKey) -> System:
        """Pins the host key the system last offered in place of the old one. `fingerprint`
        must be the offered one (`SHA256:...`, shown in the refused connection's error): 409
        otherwise."""
        return await self._admin.accept_host_key(request.match_info["system_id"], body.fingerprint)
