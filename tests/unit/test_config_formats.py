"""Configurations as env files, YAML and JSON: what export writes, import reads back exactly."""

from __future__ import annotations

import pytest
import yaml

from homei.config.formats import EXPORTERS, PARSERS, ImportError_, parse_env, parse_yaml

HARD = {
    "PLAIN": "value",
    "SPACES": "two words",
    "LINES": "first\nsecond\n",
    "QUOTES": "say \"hi\" and 'bye'",
    "ESCAPES": "back\\slash $HOME\ttab",
    "EMPTY": "",
    "HASH": "#not-a-comment",
    "EQUALS": "a=b=c",
    "LEADING": "  kept  ",
    "UNICODE": "Zürich ✓",
    "REDACTED": "***REDACTED***",
}


@pytest.mark.parametrize("form", ["env", "yaml", "json"])
def test_every_format_round_trips_exactly(form: str) -> None:
    text = EXPORTERS[form]("web", "production", HARD, {"TOKEN": "multi\nline"})
    parsed = PARSERS[form](text)
    assert {**parsed.values, **parsed.secrets} == {**HARD, "TOKEN": "multi\nline"}


def test_the_yaml_export_is_yaml() -> None:
    text = EXPORTERS["yaml"]("web", "production", HARD, {"TOKEN": "t"})
    assert yaml.safe_load(text) == {
        "service": "web", "environment": "production", "variables": HARD,
        "secrets": {"TOKEN": "t"},
    }  # fmt: skip


def test_env_files_as_people_write_them() -> None:
    text = (
        "# a comment\n\nexport TZ=UTC   # the zone\nNAME='single # quoted'\n"
        'BLOCK="one\ntwo"\nBARE=x#y\n  INDENTED = spaced\n'
    )
    assert parse_env(text).values == {
        "TZ": "UTC", "NAME": "single # quoted", "BLOCK": "one\ntwo", "BARE": "x#y",
        "INDENTED": "spaced",
    }  # fmt: skip


def test_yaml_as_people_write_it() -> None:
    text = (
        "variables:\n  TZ: UTC # zone\n  NOTE: 'it''s'\n  TEXT: |\n    a\n    b\n"
        'secrets:\n  K: "s"\n'
    )
    parsed = parse_yaml(text)
    assert parsed.values == {"TZ": "UTC", "NOTE": "it's", "TEXT": "a\nb\n"}
    assert parsed.secrets == {"K": "s"}
    assert parse_yaml("TZ: UTC\nservice: web\n").values == {"TZ": "UTC"}


@pytest.mark.parametrize(
    ("form", "text"),
    [("env", "NOT A LINE\n"), ("env", 'A="open\n'), ("env", "A='x' trailing\n"),
     ("yaml", "  indented: first\n"), ("json", "[1]"), ("json", '{"A": 1}')],
)  # fmt: skip
def test_bad_documents_are_refused_with_the_line(form: str, text: str) -> None:
    with pytest.raises(ImportError_) as refused:
        PARSERS[form](text)
    assert refused.value.status == 400
