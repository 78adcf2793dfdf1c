"""Checking a configuration against the rules its service declares (000's `valid`, `errors`,
`warnings`). Messages name the variable and the rule, never the value: a value may be a
secret, and an error travels to logs and clients."""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Mapping
from urllib.parse import urlsplit

import msgspec

from homei.config.service_config import REDACTED
from homei.core.errors import ValidationError
from homei.services.config_schema import SECRET_NAME, VariableRule
from homei.services.spec import ServiceSpec

_SECRET_NAME = re.compile(SECRET_NAME)
_TRUE_FALSE = {"true", "false", "1", "0", "yes", "no", "on", "off"}


class Verdict(msgspec.Struct, frozen=True):
    """000's answer to `POST /config/validate`."""

    valid: bool
    errors: list[str]
    warnings: list[str]


class ConfigInvalid(ValidationError):
    code = "CONFIG_ERROR"


def _number(value: str, integral: bool) -> float | None:
    try:
        number = int(value, 10) if integral else float(value)
    except ValueError:
        return None
    return None if isinstance(number, float) and not math.isfinite(number) else float(number)


def _timezone(value: str) -> bool:
    if not value or value.startswith(("/", ".")) or ".." in value:
        return False
    try:
        zoneinfo.ZoneInfo(value)  # reads the zone's file: call `check` on a thread
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https", "ws", "wss", "ftp", "smtp", "smtps", "redis",
                            "postgres", "postgresql", "mysql", "mongodb", "amqp", "mqtt") \
        and bool(parts.netloc)  # fmt: skip


def value_problem(name: str, rule: VariableRule, value: str) -> str | None:
    """Why `value` breaks `rule`, in words that do not repeat it; None when it does not."""
    kind = rule.type
    number: float | None = None
    if kind in ("integer", "port"):
        number = _number(value, integral=True)
        if number is None:
            return f"{name} must be an integer"
        if kind == "port" and not 1 <= number <= 65535:
            return f"{name} must be a port between 1 and 65535"
    elif kind == "number":
        number = _number(value, integral=False)
        if number is None:
            return f"{name} must be a number"
    elif kind == "boolean" and value.lower() not in _TRUE_FALSE:
        return f"{name} must be true or false"
    elif kind == "url" and not _url(value):
        return f"Invalid format for {name}: must be a URL with a scheme and a host"
    elif kind == "timezone" and not _timezone(value):
        return f"Invalid format for {name}: must match timezone pattern"
    if rule.enum is not None and value not in rule.enum:
        return f"{name} must be one of: {', '.join(rule.enum)}"
    if rule.pattern is not None and re.fullmatch(rule.pattern, value) is None:
        return f"Invalid format for {name}: must match {rule.pattern}"
    measure = number if number is not None else float(len(value))
    unit = "" if number is not None else " characters long"
    if rule.min is not None and measure < rule.min:
        return f"{name} must be at least {rule.min:g}{unit}"
    if rule.max is not None and measure > rule.max:
        return f"{name} must be at most {rule.max:g}{unit}"
    return None


def check(
    spec: ServiceSpec, variables: Mapping[str, str], secrets: Mapping[str, str] | None
) -> Verdict:
    """Every problem of a configuration; `secrets` None checks the variables alone.

    Blocking (time zones are read from disk): call it on a thread.
    """
    errors: list[str] = []
    warnings: list[str] = []
    schema = spec.config_schema
    for name, value in variables.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            errors.append(f"{name!r} is not a valid variable (no '=' or NUL)")
            continue
        rule = schema.get(name)
        if rule is not None and rule.secret:
            errors.append(f"{name} is a secret: give it under secrets")
        elif rule is not None and (problem := value_problem(name, rule, value)):
            errors.append(problem)
    for name, value in (secrets or {}).items():
        if not _SECRET_NAME.match(name) or "\0" in value:
            errors.append(f"{name!r} is not a valid secret name (letters, digits, _ . -)")
            continue
        rule = schema.get(name)
        if rule is not None and not rule.secret:
            errors.append(f"{name} is not a secret: give it under variables")
        elif (
            rule is not None and value != REDACTED and (problem := value_problem(name, rule, value))
        ):
            errors.append(problem)
    for name, rule in schema.items():
        if not rule.required or rule.default is not None:
            continue
        given = secrets if rule.secret else variables
        if given is None or name in given:
            continue
        (errors if rule.severity == "error" else warnings).append(f"{name} is not set")
    return Verdict(not errors, errors, warnings)


def require_valid(
    spec: ServiceSpec, variables: Mapping[str, str], secrets: Mapping[str, str]
) -> Verdict:
    """The verdict, raising `ConfigInvalid` (400 `CONFIG_ERROR`) listing each error."""
    verdict = check(spec, variables, secrets)
    if not verdict.valid:
        raise ConfigInvalid(
            f"Invalid configuration for {spec.name}: {'; '.join(verdict.errors)}",
            {"errors": verdict.errors, "warnings": verdict.warnings},
        )
    return verdict
