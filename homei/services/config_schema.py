"""What a service declares about its configuration: a rule per variable, and how its secrets
reach it. The values themselves live in the configuration store, per environment."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

VariableType = Literal["string", "integer", "number", "boolean", "url", "port", "timezone"]
Severity = Literal["error", "warning"]
SecretsAs = Literal["files", "env"]

# A secret's name is a file name under /run/secrets as well as an environment name.
SECRET_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"  # noqa: S105
ENVIRONMENT_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
# Named alphabets a rotation may draw from; anything else is taken as the characters.
ALPHABETS = {
    "alphanumeric": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "hex": "0123456789abcdef",
    "base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    "printable": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%+,-.:=@^_~",
}


class RotationPolicy(msgspec.Struct, forbid_unknown_fields=True):
    """How a new value of a secret is made: `length` characters drawn from `alphabet`."""

    length: Annotated[int, msgspec.Meta(ge=8, le=4096)] = 32
    alphabet: Annotated[str, msgspec.Meta(min_length=2)] = "alphanumeric"

    @property
    def characters(self) -> str:
        """The characters a new value is drawn from."""
        return ALPHABETS.get(self.alphabet, self.alphabet)


class VariableRule(msgspec.Struct, forbid_unknown_fields=True):
    """The rule one variable (or, with `secret`, one secret) of a service follows."""

    type: VariableType = "string"
    required: bool = False
    # An unset required variable is an error (a PUT is refused) or only a warning.
    severity: Severity = "error"
    enum: list[str] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    default: str | None = None
    secret: bool = False
    description: str | None = None
    rotation: RotationPolicy | None = None


def rule_problems(name: str, rule: VariableRule) -> list[str]:
    """What is wrong with a rule itself (not with a value)."""
    problems = []
    if rule.pattern is not None:
        try:
            re.compile(rule.pattern)
        except re.error as err:
            problems.append(f"pattern is not a regular expression: {err}")
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        problems.append("min is above max")
    if rule.secret and not re.match(SECRET_NAME, name):
        problems.append("a secret's name must be a file name (letters, digits, _ . -)")
    if rule.secret and rule.default is not None:
        problems.append("a secret has no default")
    if rule.rotation is not None and not rule.secret:
        problems.append("only a secret has a rotation policy")
    if rule.rotation is not None and len(set(rule.rotation.characters)) < 2:
        problems.append("a rotation alphabet needs at least two different characters")
    return problems
