"""Per-service configuration on a real Docker engine: what the container sees, versions,
validation, formats, and who may read secrets."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tests.component.services.env import call, install, reconciled, sleeper, until
from tests.conftest import Homei
from tests.docker_env import DockerEngine

SCHEMA: dict[str, Any] = {
    "TZ": {"type": "timezone", "required": True},
    "PUBLIC_URL": {"type": "url", "required": True, "severity": "warning"},
    "WORKERS": {"type": "integer", "min": 1, "max": 16, "default": "2"},
    "MODE": {"enum": ["fast", "safe"]},
    "API_KEY": {"secret": True, "required": True, "rotation": {"length": 40}},
}
SECRET = "k3y-of-the-first-version"


def app(name: str = "app", **fields: Any) -> dict[str, Any]:
    return sleeper(name, config_schema=SCHEMA, **fields)


def container_env(engine: DockerEngine, name: str) -> dict[str, str]:
    env = engine.inspect(name)["Config"]["Env"]
    return dict(item.split("=", 1) for item in env)


def read_in(engine: DockerEngine, name: str, path: str) -> str:
    return engine.run("exec", name, "cat", path).stdout


async def test_the_container_sees_its_active_environment_and_follows_a_put(
    engine: DockerEngine, homei: Homei
) -> None:
    admin = await homei.auth()
    await install(homei, admin, app(environment={"FROM_SPEC": "1"}))
    put = {
        "variables": {"TZ": "Europe/Paris", "PUBLIC_URL": "https://app.example"},
        "secrets": {"API_KEY": SECRET},
    }
    written = await call(homei, "PUT", "/api/v1/config/app", admin, json=put)
    assert written["version"] == 1 and written["secrets"] == {"API_KEY": "***REDACTED***"}
    assert written["environment"] == "production" and written["lastModified"]
    # A staging configuration is kept apart and does not reach the container.
    staging = {**put, "environment": "staging", "variables": {**put["variables"], "TZ": "UTC"}}
    await call(homei, "PUT", "/api/v1/config/app", admin, json=staging)

    async def sees(tz: str, secret: str) -> bool:
        await reconciled(homei, "app")
        try:
            env = await asyncio.to_thread(container_env, engine, "app")
            seen = await asyncio.to_thread(read_in, engine, "app", "/run/secrets/API_KEY")
        except Exception:  # recreated in between
            return False
        return env.get("TZ") == tz and seen == secret

    await until(lambda: sees("Europe/Paris", SECRET), "the first configuration")
    env = await asyncio.to_thread(container_env, engine, "app")
    assert env["FROM_SPEC"] == "1" and env["WORKERS"] == "2"  # the spec's own and a default
    assert "API_KEY" not in env
    mode = await asyncio.to_thread(
        engine.run, "exec", "app", "stat", "-c", "%a", "/run/secrets/API_KEY"
    )
    assert mode.stdout.strip() == "400"
    status = await call(homei, "GET", "/api/v1/services/app/status", admin)
    assert status["config_match"] is True

    # A PUT: the reconciler recreates the container with the new values.
    first_id = (await asyncio.to_thread(engine.inspect, "app"))["Id"]
    put["variables"]["TZ"] = "Asia/Tokyo"
    put["secrets"]["API_KEY"] = "k3y-of-the-second-version"
    await call(homei, "PUT", "/api/v1/config/app", admin, json=put)
    await until(lambda: sees("Asia/Tokyo", "k3y-of-the-second-version"), "the new configuration")
    assert (await asyncio.to_thread(engine.inspect, "app"))["Id"] != first_id
    status = await call(homei, "GET", "/api/v1/services/app/status", admin)
    assert status["config_match"] is True
    # The label is a keyed hash: the value does not give it away.
    labels = (await asyncio.to_thread(engine.inspect, "app"))["Config"]["Labels"]
    assert len(labels["io.homei.config-hash"]) == 32

    # A secret file changed behind Homei's back is put right at the next pass.
    folder = homei.settings.services.secrets_dir
    path = os.path.join(folder, "app", "API_KEY")
    await asyncio.to_thread(os.chmod, path, 0o600)
    await asyncio.to_thread(_write, path, "tampered")
    await until(lambda: sees("Asia/Tokyo", "k3y-of-the-second-version"), "the file rewritten")

    # Switching the service's active environment switches what it receives.
    accepted = await call(
        homei, "PUT", "/api/v1/services/app", admin, 202, json={"config_environment": "staging"}
    )
    await until(lambda: sees("UTC", SECRET), "the staging configuration")
    assert accepted["taskId"]


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


async def test_secrets_as_environment_variables(engine: DockerEngine, homei: Homei) -> None:
    admin = await homei.auth()
    await install(homei, admin, app("envy", secrets_as="env"))
    put = {
        "variables": {"TZ": "UTC", "PUBLIC_URL": "https://x.example"},
        "secrets": {"API_KEY": SECRET},
    }
    await call(homei, "PUT", "/api/v1/config/envy", admin, json=put)

    async def seen() -> bool:
        await reconciled(homei, "envy")
        env = await asyncio.to_thread(container_env, engine, "envy")
        return env.get("API_KEY") == SECRET

    await until(seen, "the secret as a variable")
    run = await asyncio.to_thread(engine.run, "exec", "envy", "ls", "/run/secrets", check=False)
    assert run.returncode != 0 or run.stdout.strip() == ""


async def test_validation_versions_restore_and_formats(engine: DockerEngine, homei: Homei) -> None:
    admin = await homei.auth()
    await install(homei, admin, app())
    verdict = await call(
        homei,
        "POST",
        "/api/v1/config/validate",
        admin,
        json={
            "service": "app",
            "variables": {"TZ": "Invalid/Timezone", "WORKERS": "99", "MODE": "x"},
        },
    )
    assert verdict == {
        "valid": False,
        "errors": [
            "Invalid format for TZ: must match timezone pattern",
            "WORKERS must be at most 16",
            "MODE must be one of: fast, safe",
        ],
        "warnings": ["PUBLIC_URL is not set"],
    }
    good = {"variables": {"TZ": "UTC", "MODE": "fast"}, "secrets": {"API_KEY": SECRET}}
    one = await call(homei, "PUT", "/api/v1/config/app", admin, json=good)
    # A PUT that breaks a rule changes nothing, and its error never repeats a value.
    bad = {"variables": {"TZ": "UTC", "WORKERS": "0"}, "secrets": {"API_KEY": "p4ss-in-error"}}
    refused = await call(homei, "PUT", "/api/v1/config/app", admin, 400, json=bad)
    assert refused["error"]["code"] == "CONFIG_ERROR"
    assert "WORKERS must be at least 1" in refused["error"]["message"]
    assert "p4ss-in-error" not in str(refused)
    missing = await call(
        homei, "PUT", "/api/v1/config/app", admin, 400, json={"variables": {"TZ": "UTC"}}
    )
    assert "API_KEY is not set" in missing["error"]["details"]["errors"]
    current = await call(homei, "GET", "/api/v1/config/app", admin)
    assert current["version"] == one["version"] == 1

    two = await call(
        homei,
        "PUT",
        "/api/v1/config/app",
        admin,
        json={"variables": {"TZ": "Europe/Berlin"}, "secrets": {"API_KEY": "second"}},
    )
    history = await call(homei, "GET", "/api/v1/config/app/versions", admin)
    assert [v["version"] for v in history["versions"]] == [2, 1]
    assert history["versions"][0]["modifiedBy"] == "admin"
    restored = await call(homei, "POST", "/api/v1/config/app/versions/1/restore", admin)
    assert restored["version"] == two["version"] + 1
    opened = await call(homei, "GET", "/api/v1/config/app?includeSecrets=true", admin)
    assert opened["variables"] == good["variables"] and opened["secrets"] == good["secrets"]
    gone = await call(homei, "POST", "/api/v1/config/app/versions/9/restore", admin, 404)
    assert gone["error"]["code"] == "CONFIG_VERSION_NOT_FOUND"

    # Export and import round-trip exactly, in every format.
    hard = {
        "TZ": "UTC",
        "MODE": "safe",
        "NOTE": 'say "hi" # not a comment\n\tline two $HOME',
        "EMPTY": "",
        "QUOTE": "it's",
    }
    await call(
        homei,
        "PUT",
        "/api/v1/config/app",
        admin,
        json={"variables": hard, "secrets": {"API_KEY": "multi\nline secret"}},
    )
    for form in ("env", "yaml", "json"):
        response = await homei.client.get(
            f"/api/v1/config/app/export?format={form}&includeSecrets=true", headers=admin
        )
        assert response.status == 200
        text = await response.text()
        await call(
            homei,
            "POST",
            "/api/v1/config/app/import",
            admin,
            json={"environment": f"copy-{form}", "format": form, "data": text},
        )
        copy = await call(
            homei, "GET", f"/api/v1/config/app?environment=copy-{form}&includeSecrets=true", admin
        )
        assert copy["variables"] == hard, form
        assert copy["secrets"] == {"API_KEY": "multi\nline secret"}, form
    redacted = await homei.client.get("/api/v1/config/app/export?format=env", headers=admin)
    text = await redacted.text()
    assert text.startswith("# Generated by Homei\n# Service: app\n# Environment: production\n")
    assert "API_KEY=***REDACTED***" in text or 'API_KEY="***REDACTED***"' in text
    assert "multi" not in text
    # An import of a redacted export keeps the secret; a hand-written env file with comments.
    await call(
        homei, "POST", "/api/v1/config/app/import", admin, json={"format": "env", "data": text}
    )
    kept = await call(homei, "GET", "/api/v1/config/app?includeSecrets=true", admin)
    assert kept["secrets"] == {"API_KEY": "multi\nline secret"}
    by_hand = "# written by hand\nexport TZ=UTC  # the zone\nMODE='fast'\nAPI_KEY=\"a\\nb\"\n"
    await call(
        homei, "POST", "/api/v1/config/app/import", admin, json={"format": "env", "data": by_hand}
    )
    mine = await call(homei, "GET", "/api/v1/config/app?includeSecrets=true", admin)
    assert mine["variables"] == {"TZ": "UTC", "MODE": "fast"}
    assert mine["secrets"] == {"API_KEY": "a\nb"}
    before = mine["version"]
    bad_import = await call(
        homei,
        "POST",
        "/api/v1/config/app/import",
        admin,
        400,
        json={"format": "env", "data": "TZ=Nowhere/Land\nAPI_KEY=x\n"},
    )
    assert bad_import["error"]["code"] == "CONFIG_ERROR"
    assert (await call(homei, "GET", "/api/v1/config/app", admin))["version"] == before


async def test_secrets_are_for_admins_and_names_are_guarded(
    engine: DockerEngine, homei: Homei
) -> None:
    admin = await homei.auth()
    await install(homei, admin, app())
    await call(
        homei,
        "PUT",
        "/api/v1/config/app",
        admin,
        json={"variables": {"TZ": "UTC"}, "secrets": {"API_KEY": SECRET}},
    )
    operator = await homei.add_user("olga", "operator")
    seen = await call(homei, "GET", "/api/v1/config/app", operator)
    assert seen["secrets"] == {"API_KEY": "***REDACTED***"}
    refused = await call(homei, "GET", "/api/v1/config/app?includeSecrets=true", operator, 403)
    assert refused["error"]["code"] == "FORBIDDEN"
    await call(homei, "GET", "/api/v1/config/app/export?includeSecrets=true", operator, 403)
    await call(homei, "PUT", "/api/v1/config/app", operator, 403, json={"variables": {}})
    missing = await call(homei, "GET", "/api/v1/config/nothing", admin, 404)
    assert missing["error"]["code"] == "SERVICE_NOT_FOUND"
    for word in ("validate", "versions", "import", "export"):
        named = await call(homei, "POST", "/api/v1/services", admin, 400, json=sleeper(word))
        assert named["error"]["code"] == "VALIDATION_ERROR", word
    # A device variable nobody defined is a 400 naming it, before anything is declared.
    undefined = await call(
        homei,
        "POST",
        "/api/v1/services",
        admin,
        400,
        json=sleeper("media", environment={"ROOT": "${MEDIA_PATH}/x"}),
    )
    assert undefined["error"]["code"] == "UNDEFINED_VARIABLE"
    assert undefined["error"]["details"]["variables"] == ["MEDIA_PATH"]
    bad_rule = await call(
        homei,
        "POST",
        "/api/v1/services",
        admin,
        400,
        json=sleeper("rules", config_schema={"X": {"pattern": "("}}),
    )
    assert bad_rule["error"]["details"]["fields"][0]["path"] == "config_schema.X"
