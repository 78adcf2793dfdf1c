"""A spec resolved with its configuration: device variables, variables, secret files, and a
keyed hash that changes with the values and gives none away."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from homei.config import config_records as schema
from homei.config import keys
from homei.config.injection import ConfigResolver, UndefinedVariable
from homei.config.keys import DeviceKey
from homei.config.service_config import ServiceConfigs
from homei.core.store import Store
from homei.services.instance import CONFIG_HASH_LABEL, HASH_LABEL
from homei.services.spec import parse_spec


@pytest.fixture
async def configs(tmp_path: Path) -> AsyncIterator[ServiceConfigs]:
    store = await Store.open(tmp_path / "db.sqlite", (*keys.MIGRATIONS, *schema.MIGRATIONS))
    yield ServiceConfigs(store, DeviceKey.generate())
    await store.close()


SPEC = {
    "name": "media",
    "image": "busybox",
    "environment": {"ROOT": "${MEDIA_PATH}/films", "LEVEL": "info"},
    "volumes": ["${MEDIA_PATH}:/media:ro", "data:/data"],
    "config_schema": {"WORKERS": {"type": "integer", "default": "2"}, "KEY": {"secret": True}},
}


async def test_device_variables_are_expanded_or_named(configs, tmp_path) -> None:
    variables = {"MEDIA_PATH": "/srv/media"}
    resolver = ConfigResolver(configs, configs._key, tmp_path / "run", lambda: variables)
    spec = parse_spec(SPEC)
    expanded = resolver.expand(spec)
    assert expanded.environment["ROOT"] == "/srv/media/films"
    assert expanded.volumes[0].source == "/srv/media" and not expanded.volumes[0].is_named
    variables.clear()
    with pytest.raises(UndefinedVariable) as refused:
        resolver.expand(spec)
    assert refused.value.details["variables"] == ["MEDIA_PATH", "MEDIA_PATH"]
    assert "MEDIA_PATH" in refused.value.message


async def test_resolved_spec_and_its_hash(configs, tmp_path) -> None:
    device = {"MEDIA_PATH": "/m"}
    resolver = ConfigResolver(configs, configs._key, tmp_path / "run", lambda: device)
    bare = await resolver.resolve(parse_spec({**SPEC, "config_schema": {}}))
    assert CONFIG_HASH_LABEL not in bare.labels  # no configuration: made as before
    spec = parse_spec(SPEC)
    defaults = await resolver.resolve(spec)
    assert defaults.labels[HASH_LABEL] == resolver.expand(spec).runtime_hash()
    assert defaults.environment["WORKERS"] == "2" and CONFIG_HASH_LABEL in defaults.labels

    await configs.put("media", "production", {"LEVEL": "debug"}, {"KEY": "weak"}, actor="t")
    resolved = await resolver.resolve(spec)
    assert resolved.environment["LEVEL"] == "debug" and "KEY" not in resolved.environment
    assert resolved.volumes[-1].target == "/run/secrets" and resolved.volumes[-1].read_only
    secret_file = tmp_path / "run" / "media" / "KEY"
    assert secret_file.read_text() == "weak"
    assert os.stat(secret_file).st_mode & 0o777 == 0o400
    label = resolved.labels[CONFIG_HASH_LABEL]
    # The same values under another key hash differently: the label reveals nothing.
    other = ConfigResolver(configs, DeviceKey.generate(), tmp_path / "x", lambda: {})
    assert other.config_hash({"LEVEL": "debug", "WORKERS": "2"}, {"KEY": "weak"}, "files") != label
    assert (
        resolver.config_hash({"LEVEL": "debug", "WORKERS": "2"}, {"KEY": "weak"}, "files") == label
    )

    await configs.set_secret("media", "production", "KEY", "stronger", actor="t")
    again = await resolver.resolve(spec, write=False)
    assert again.labels[CONFIG_HASH_LABEL] != label
    assert secret_file.read_text() == "weak"  # not written when only asked
    await resolver.resolve(spec)
    assert secret_file.read_text() == "stronger"
    await resolver.release("media", forget=False)
    assert not secret_file.parent.exists()
    assert (await configs.get("media")).version == 2  # kept for a reinstall
    await resolver.release("media", forget=True)
    assert (await configs.get("media")).version == 0
