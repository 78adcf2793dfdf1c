"""003's request body as a template: `{project_name, port, pocketbase_version, domain,
created_by}` is a PocketBase service run as a systemd unit from the uploaded artefact
`pocketbase` of that version, serving on 127.0.0.1:PORT with its data in the unit's state
folder (its working directory), so a new version keeps the data."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from homei.core.errors import ValidationError

POCKETBASE_ARTIFACT = "pocketbase"
TEMPLATE_LABEL = "template"  # a service made from 003's body says so in its labels
CREATED_BY_LABEL = "created_by"
_FIELDS = frozenset({"project_name", "pocketbase_version"})


class PocketBaseTemplate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """003's body; on an update any of it may be left out."""

    project_name: str | None = None
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    pocketbase_version: (
        Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$")] | None
    ) = None
    domain: Annotated[str, msgspec.Meta(min_length=1, max_length=253)] | None = None
    created_by: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    superuser_email: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    name: str | None = None  # the path's name, set on an update


def is_template(body: dict[str, Any]) -> bool:
    """Whether a request body is 003's rather than a service spec."""
    return not _FIELDS.isdisjoint(body)


def pocketbase_args(port: int) -> list[str]:
    """PocketBase's command line: its HTTP on loopback only (the proxy faces the network),
    its data in the working directory, which is the unit's state folder."""
    return ["serve", f"--http=127.0.0.1:{port}", "--dir=pb_data"]


def from_template(body: dict[str, Any]) -> dict[str, Any]:
    """003's body as the fields of a service spec; 400 naming a field otherwise."""
    try:
        template = msgspec.convert(body, PocketBaseTemplate)
    except msgspec.ValidationError as err:
        message, _, path = str(err).rpartition(" - at `$")
        field = path.rstrip("`").lstrip(".") or "body"
        raise ValidationError(
            f"Invalid {field}: {message or err}", {"fields": [{"path": field, "message": message}]}
        ) from None
    if template.project_name is not None and (
        template.port is None or template.pocketbase_version is None
    ):
        missing = "port" if template.port is None else "pocketbase_version"
        raise ValidationError(
            f"Invalid {missing}: a PocketBase service needs it", {"fields": [{"path": missing}]}
        )
    spec: dict[str, Any] = {"runtime": "systemd"}
    name = template.project_name or template.name
    if name is not None:
        spec["name"] = name
    if template.pocketbase_version is not None:
        spec["artifact"] = {"name": POCKETBASE_ARTIFACT, "version": template.pocketbase_version}
        spec["version"] = template.pocketbase_version
        # Made again from the artefact when the spec is parsed (an update's old one is stale).
        spec["image"] = None
    if template.port is not None:
        spec["port"] = template.port
        spec["args"] = pocketbase_args(template.port)
        spec["health"] = {
            "checks": [{"type": "http", "port": template.port, "path": "/api/health"}]
        }
    if template.domain is not None:
        spec["domain"] = template.domain
    if template.description is not None:
        spec["description"] = template.description
    if template.project_name is not None:
        labels = {TEMPLATE_LABEL: "pocketbase"}
        if template.created_by:
            labels[CREATED_BY_LABEL] = template.created_by
        spec["labels"] = labels
        spec["restart_policy"] = "always"
    return spec
