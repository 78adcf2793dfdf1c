"""`/api/v1/artifacts`: the programs native services run, uploaded since devices are offline."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from homei.api.routing import endpoint
from homei.core.auth import Permission
from homei.services.spec import ARTIFACT_NAME, ARTIFACT_VERSION
from homei.units.artifacts import Artifact, ArtifactStore

_NAME_PARAM = {"type": "string", "pattern": ARTIFACT_NAME}
_VERSION_PARAM = {"type": "string", "pattern": ARTIFACT_VERSION}


class ArtifactQuery(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(pattern=ARTIFACT_NAME)]
    version: Annotated[str, msgspec.Meta(pattern=ARTIFACT_VERSION)]


class ArtifactOut(msgspec.Struct):
    name: str
    version: str
    size: int
    sha256: str
    uploaded_at: str


class ArtifactList(msgspec.Struct):
    artifacts: list[ArtifactOut]
    total: int


def _out(artifact: Artifact) -> ArtifactOut:
    return ArtifactOut(
        artifact.name, artifact.version, artifact.size, artifact.sha256, artifact.uploaded_at
    )


class ArtifactsApi:
    """Upload, list and delete artefacts."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts

    @endpoint(
        "GET",
        "/api/v1/artifacts",
        summary="Uploaded artefacts",
        tag="artifacts",
        permission=Permission.READ,
        group="services",
        response=ArtifactList,
    )
    async def list_artifacts(self, request: web.Request) -> ArtifactList:
        """Every artefact, by name and version."""
        found = [_out(a) for a in await self._artifacts.all()]
        return ArtifactList(found, len(found))

    @endpoint(
        "POST",
        "/api/v1/artifacts",
        summary="Upload an artefact",
        tag="artifacts",
        permission=Permission.ADMIN,
        group="services",
        query=ArtifactQuery,
        upload="application/octet-stream",
        response=ArtifactOut,
        status=201,
        errors=(409, 413, 507),
    )
    async def upload_artifact(self, request: web.Request, query: ArtifactQuery) -> ArtifactOut:
        """Streams the body (the program) to disk under the size limit, hashes it and keeps
        it, executable, as `name` `version`; 409 when that version exists."""
        artifact = await self._artifacts.add(
            query.name,
            query.version,
            request.content.iter_chunked(1024 * 1024),
            request.content_length,
        )
        return _out(artifact)

    @endpoint(
        "DELETE",
        "/api/v1/artifacts/{name}/{version}",
        summary="Delete an artefact",
        tag="artifacts",
        permission=Permission.ADMIN,
        group="services",
        response=ArtifactList,
        path_params={"name": _NAME_PARAM, "version": _VERSION_PARAM},
        errors=(400, 409),
    )
    async def delete_artifact(self, request: web.Request) -> ArtifactList:
        """Removes an artefact no service uses (409 `ARTIFACT_IN_USE` otherwise)."""
        await self._artifacts.delete(request.match_info["name"], request.match_info["version"])
        return await self.list_artifacts(request)
