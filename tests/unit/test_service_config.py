"""The versioned configuration store: whole versions, sealed secrets, restore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from homei.config import config_records as schema
from homei.config import keys
from homei.config.config_records import ConfigVersionNotFound
from homei.config.keys import DeviceKey
from homei.config.service_config import REDACTED, ServiceConfigs
from homei.core.errors import ValidationError
from homei.core.store import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "db.sqlite", (*keys.MIGRATIONS, *schema.MIGRATIONS))
    yield opened
    await opened.close()


async def test_versions_secrets_and_restore(store: Store, tmp_path: Path) -> None:
    configs = ServiceConfigs(store, DeviceKey.generate())
    empty = await configs.get("web")
    assert (empty.version, empty.variables, empty.secrets) == (0, {}, {})

    first = await configs.put("web", "production", {"TZ": "UTC"}, {"API_KEY": "s3cr3t-one"},
                              actor="admin")  # fmt: skip
    assert first.version == 1 and first.secrets == {"API_KEY": REDACTED}
    opened = await configs.get("web", include_secrets=True)
    assert opened.secrets == {"API_KEY": "s3cr3t-one"}
    assert await configs.secret_equals("web", "production", "API_KEY", "s3cr3t-one")
    assert not await configs.secret_equals("web", "production", "API_KEY", "s3cr3t-two")

    # A redacted secret written back keeps its value; one never set cannot be kept.
    second = await configs.put("web", "production", {"TZ": "Europe/Paris"},
                               {"API_KEY": REDACTED}, actor="admin")  # fmt: skip
    assert second.version == 2
    assert (await configs.get("web", include_secrets=True)).secrets == {"API_KEY": "s3cr3t-one"}
    with pytest.raises(ValidationError):
        await configs.put("web", "production", {}, {"OTHER": REDACTED}, actor="admin")

    third = await configs.set_secret("web", "production", "API_KEY", "s3cr3t-two", actor="x")
    assert third.version == 3 and third.variables == {"TZ": "Europe/Paris"}
    restored = await configs.restore("web", "production", 1, actor="admin")
    assert restored.version == 4
    again = await configs.get("web", include_secrets=True)
    assert again.variables == {"TZ": "UTC"} and again.secrets == {"API_KEY": "s3cr3t-one"}
    assert [v.version for v in await configs.versions("web", "production")] == [4, 3, 2, 1]
    with pytest.raises(ConfigVersionNotFound):
        await configs.restore("web", "production", 9, actor="admin")

    # Environments are separate, and nothing is in the database in clear.
    assert (await configs.get("web", "staging")).version == 0
    await store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"s3cr3t" not in (tmp_path / "db.sqlite").read_bytes()

    # A fresh reader (a restart) sees the same newest version.
    fresh = ServiceConfigs(store, configs._key)
    assert (await fresh.get("web", include_secrets=True)).secrets == {"API_KEY": "s3cr3t-one"}
