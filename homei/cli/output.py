"""Printing results for people (aligned tables) or for scripts (`--json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def emit(
    value: Any, *, as_json: bool, columns: Sequence[str] | None = None, rows_key: str | None = None
) -> None:
    """Print `value` as JSON, or as a table of `columns` (or `key: value` lines)."""
    if as_json:
        print(json.dumps(value, indent=2, sort_keys=False, default=str))
        return
    rows = value.get(rows_key, []) if rows_key and isinstance(value, dict) else value
    if columns and isinstance(rows, list):
        table(rows, columns)
    elif isinstance(value, dict):
        for key, item in value.items():
            print(f"{key}: {json.dumps(item) if isinstance(item, dict | list) else item}")
    else:
        print(value)


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """An aligned text table."""
    cells = [
        [str(row.get(c, "") if row.get(c) is not None else "") for c in columns] for row in rows
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def fail(message: str, code: int = 1) -> int:
    """Print an error line to stderr and return the exit code."""
    print(f"homei: {message}", file=sys.stderr)
    return code
