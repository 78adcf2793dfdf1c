"""Secret rotation that cannot leave a service broken: a new value (from the secret's policy,
or given), written as a new version, applied to the running service, and kept only if the
service is healthy again within its health window. Otherwise the previous version is put
back and applied again, and the rotation fails with the reason (`secret:rotation_failed`)."""

from __future__ import annotations

import asyncio
import logging
import secrets

import msgspec

from homei.config.config_records import ConfigVersion
from homei.config.manager import ConfigManager
from homei.config.rotation_schedule import RotationSchedule, RotationSchedules
from homei.core.errors import HomeiError, NotFound
from homei.core.events import EventBus
from homei.core.work import OneAtATime, Workplace, work
from homei.services.config_schema import RotationPolicy
from homei.services.reload import ConfigReload, health_window

_LOGGER = logging.getLogger(__name__)

# One rotation per service at a time: each one's health window is judged on its own.
ONE_ROTATION_PER_SERVICE = OneAtATime("secret-rotation", key="service")


class SecretNotFound(NotFound):
    code = "SECRET_NOT_FOUND"


class RotationFailed(HomeiError):
    """The service did not take the new value; the previous one is back."""

    code = "ROTATION_FAILED"
    status = 409


class Rotated(msgspec.Struct, frozen=True):
    service: str
    secret: str
    environment: str
    version: int
    next_rotation: float | None


def new_value(policy: RotationPolicy) -> str:
    """A random value of the policy's length from its alphabet."""
    alphabet = policy.characters
    return "".join(secrets.choice(alphabet) for _ in range(policy.length))


class SecretRotation:
    """Rotates services' secrets, by request and on schedule."""

    def __init__(
        self,
        configs: ConfigManager,
        services: ConfigReload,
        schedules: RotationSchedules,
        events: EventBus,
    ) -> None:
        self._configs = configs
        self._services = services
        self.schedules = schedules
        self._events = events

    @property
    def workplace(self) -> Workplace:
        """The services' work policies' state, shared with the rest of the model."""
        return self._services.workplace

    async def schedule(
        self, service: str, secret: str, interval_days: float, *, environment: str | None
    ) -> RotationSchedule:
        """Rotate `secret` every `interval_days` from now on."""
        environment = environment or self._configs.spec(service).config_environment
        await self._existing(service, secret, environment)
        return await self.schedules.put(service, secret, environment, interval_days)

    async def _existing(self, service: str, secret: str, environment: str) -> ConfigVersion:
        """The configuration holding `secret`, values open; SecretNotFound without it."""
        current = await self._configs.configs.get(service, environment, include_secrets=True)
        if secret not in current.secrets:
            raise SecretNotFound(
                f"Service '{service}' has no secret '{secret}' in '{environment}'",
                {"service": service, "secret": secret, "environment": environment},
            )
        return current

    async def scheduled(self, service: str, secret: str, environment: str) -> None:
        """One rotation that a schedule asks for."""
        await self.rotate(service, secret, environment=environment, actor="schedule")

    @work(ONE_ROTATION_PER_SERVICE)
    async def rotate(
        self,
        service: str,
        secret: str,
        *,
        environment: str | None = None,
        value: str | None = None,
        actor: str,
    ) -> Rotated:
        """Rotate `secret` of `service` (in its active environment unless told); RotationFailed
        with the reason when the service does not take it."""
        spec = self._configs.spec(service)
        environment = environment or spec.config_environment
        current = await self._existing(service, secret, environment)
        rule = spec.config_schema.get(secret)
        policy = rule.rotation if rule is not None and rule.rotation is not None else None
        fresh = value if value is not None else new_value(policy or RotationPolicy())
        previous = current.version
        # Noted first: a rotation cut short (the daemon killed) is judged again at start.
        await self.schedules.begin(service, secret, environment, previous)
        try:
            written = await self._configs.put(
                service,
                environment,
                current.variables,
                {**current.secrets, secret: fresh},
                actor=actor,
            )
            reason = await self._verdict(service, environment)
            if reason is not None:
                await self._roll_back(service, secret, environment, previous, reason)
        except asyncio.CancelledError:
            raise  # the daemon stops: still noted, judged at the next start
        except BaseException:
            await self.schedules.end(service, secret, environment)
            raise
        await self.schedules.end(service, secret, environment)
        next_rotation = await self.schedules.ran(
            service, secret, environment, "rotated", succeeded=True
        )
        _LOGGER.info("Rotated %s's secret %s (version %d)", service, secret, written.version)
        self._events.publish(
            "secret:rotated",
            {"service": service, "secret": secret, "environment": environment,
             "version": written.version},
        )  # fmt: skip
        return Rotated(service, secret, environment, written.version, next_rotation)

    async def _verdict(self, service: str, environment: str) -> str | None:
        """Apply the new version to the running service: None once it is healthy again,
        else why not. An environment it does not run with is only written."""
        spec = self._configs.spec(service)
        if environment != spec.config_environment or not self._services.should_run(service):
            return None
        try:
            await self._services.apply(service)
        except HomeiError as err:
            return f"not made from the new value: {err.message}"
        return await self._services.unhealthy_within(service, health_window(spec))

    def start(self) -> None:
        """Judge the rotations a stop cut short, then run the schedules."""
        self.schedules.start(self.scheduled, before=self._recover)

    async def stop(self) -> None:
        await self.schedules.stop()

    async def _recover(self) -> None:
        for service, secret, environment, previous in await self.schedules.in_flight():
            try:
                await self._judge(service, secret, environment, previous)
            except RotationFailed:
                pass  # rolled back and announced
            except HomeiError as err:  # the service is gone: nothing to judge
                _LOGGER.warning("Rotation of %s's %s not judged: %s", service, secret, err)
            finally:
                await self.schedules.end(service, secret, environment)

    @work(ONE_ROTATION_PER_SERVICE)
    async def _judge(self, service: str, secret: str, environment: str, previous: int) -> None:
        """Keep a rotation cut short if the service is healthy with it, else roll it back."""
        reason = await self._verdict(service, environment)
        if reason is not None:
            await self._roll_back(service, secret, environment, previous, reason)
        _LOGGER.info("A rotation of %s's %s cut short is kept", service, secret)

    async def _roll_back(
        self, service: str, secret: str, environment: str, previous: int, reason: str
    ) -> None:
        """Put version `previous` back, apply it, and fail the rotation with `reason`."""
        restored = await self._configs.restore(
            service, environment, previous, actor="rotation rollback"
        )
        await self._services.apply(service)
        spec = self._configs.spec(service)
        again = await self._services.unhealthy_within(service, health_window(spec))
        if again is not None:
            _LOGGER.error("%s is not healthy after the rollback either: %s", service, again)
        _LOGGER.warning("Rotation of %s's secret %s rolled back: %s", service, secret, reason)
        self._events.publish(
            "secret:rotation_failed",
            {"service": service, "secret": secret, "environment": environment,
             "reason": reason, "version": restored.version},
        )  # fmt: skip
        raise RotationFailed(
            f"Rotation of '{secret}' failed: {service} {reason}; the previous value is back "
            f"(version {restored.version})",
            {"service": service, "secret": secret, "environment": environment,
             "reason": reason, "version": restored.version},
        )  # fmt: skip
