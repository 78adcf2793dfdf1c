"""What the bus's events mean to the event rules: a service that died, was OOM-killed or
keeps dying, an update rejected or rolled back, a failed backup, and what clears each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homei.monitor.alert_records import Finding, Level
from homei.monitor.alert_settings import EventRule, Rules
from homei.monitor.rules import RestartCounter, Verdict

WATCHED_EVENTS = ("container.*", "service:*", "update:*", "backup:*")
SERVICE_RULES = ("service_down", "service_oom", "service_restarts")


def _holds(
    rule: EventRule, name: str, subject: str, level: Level, message: str, details: dict[str, Any]
) -> list[Verdict]:
    if not rule.enabled:
        return []
    source = "docker" if name.startswith("service_") else name.partition("_")[0]
    return [Verdict(name, subject, Finding(name, subject, level, source, message, details))]


def event_verdicts(
    kind: str,
    data: dict[str, Any],
    rules: Rules,
    at: float,
    should_run: Callable[[str], bool],
    restarts: RestartCounter,
) -> list[Verdict]:
    """The rules one event makes hold (with a finding) or clear."""
    service = str(data.get("service") or "")
    if kind.startswith("container.") and not (data.get("managed") and service):
        return []
    if kind == "container.die" and should_run(service):
        restarts.died(service, at)
        code = data.get("exit_code")
        found = _holds(rules.service_down, "service_down", service, Level.ERROR,
                       f"Service {service} stopped unexpectedly (exit code {code})",
                       {"service": service, "exitCode": code})  # fmt: skip
        rule = rules.service_restarts
        count = restarts.count(service, at, rule.window)
        if rule.enabled and count >= rule.count:
            found.append(Verdict("service_restarts", service, Finding(
                "service_restarts", service, Level.CRITICAL, "docker",
                f"Service {service} died {count} times in {rule.window:g}s",
                {"service": service, "count": count, "window": rule.window})))  # fmt: skip
        return found
    if kind == "container.oom":
        return _holds(rules.service_oom, "service_oom", service, Level.ERROR,
                      f"Service {service} ran out of memory and was killed",
                      {"service": service})  # fmt: skip
    if kind == "container.start" or (
        kind == "service:health:changed" and data.get("status") == "healthy"
    ):
        return [Verdict(rule, service, None) for rule in ("service_down", "service_oom")]
    if kind == "service:uninstalled":
        return [Verdict(rule, service, None) for rule in SERVICE_RULES]
    if kind in ("update:rejected", "update:rolled_back"):
        reason = data.get("reason") or data.get("message") or kind
        what = kind.partition(":")[2].replace("_", " ")
        facts = {k: v for k, v in data.items() if isinstance(v, str | None)}
        return _holds(rules.update_failed, "update_failed", "update", Level.ERROR,
                      f"Update {what}: {reason}", facts)  # fmt: skip
    if kind in ("update:verified", "update:completed"):
        return [Verdict("update_failed", "update", None)]
    if kind in ("backup:failed", "backup:restore_failed"):
        return _holds(rules.backup_failed, "backup_failed", "backup", Level.ERROR,
                      f"Backup {data.get('backup')} failed: {data.get('error')}",
                      {"backup": data.get("backup"), "error": data.get("error")})  # fmt: skip
    if kind in ("backup:completed", "backup:restored"):
        return [Verdict("backup_failed", "backup", None)]
    return []
