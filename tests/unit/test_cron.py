"""Cron expressions as every schedule reads them (cronsim underneath)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from homei.core.cron import Cron, check


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_next_after_is_strictly_later_and_whole_minutes():
    cron = Cron("30 3 * * *")
    assert cron.next_after(at(2026, 1, 1, 3, 29, 59)) == at(2026, 1, 1, 3, 30)
    assert cron.next_after(at(2026, 1, 1, 3, 30)) == at(2026, 1, 2, 3, 30)
    assert Cron("*/15 * * * *").next_after(at(2026, 1, 1, 0, 7, 5)) == at(2026, 1, 1, 0, 15)


def test_cron_names_last_day_and_either_day_field():
    assert Cron("0 0 * * mon").next_after(at(2026, 1, 1)) == at(2026, 1, 5)  # a Monday
    assert Cron("0 0 L feb *").next_after(at(2026, 1, 1)) == at(2026, 2, 28)
    # Both day fields restricted: either one matching is enough, as in cron.
    assert Cron("0 0 13 * fri").next_after(at(2026, 1, 1)) == at(2026, 1, 2)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("* * * *", "expected 5 cron fields, got 4"),
        ("61 * * * *", "'61' is outside 0-59"),
        ("5-2 * * * *", "'5-2' is a range that ends before it starts"),
        ("x * * * *", "'x' is not a number"),
        ("*/0 * * * *", "'*/0' has a step below 1"),
        ("0 0 30 2 *", "never matches"),
        ("0 0 * foo *", "'foo' is not a valid month field"),
    ],
)
def test_a_bad_expression_says_what_is_wrong(text, reason):
    with pytest.raises(ValueError, match=reason):
        check(text)
