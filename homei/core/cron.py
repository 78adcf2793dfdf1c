"""Cron-like times in UTC: `minute hour day-of-month month day-of-week` with `*`, lists,
ranges and `/steps`, for every schedule (backups today). Checked when the settings load,
so a bad one stops the daemon there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class Cron:
    def __init__(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 cron fields, got {len(fields)}: '{text}'")
        self.sets = [_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)]

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute after `moment`; ValueError if none within 4 years."""
        minutes, hours, days, months, weekdays = self.sets
        at = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = at + timedelta(days=366 * 4)
        while at < limit:
            if (
                at.month not in months
                or at.day not in days
                or (at.weekday() + 1) % 7 not in weekdays
            ):
                at = (at + timedelta(days=1)).replace(hour=0, minute=0)
            elif at.hour not in hours:
                at = (at + timedelta(hours=1)).replace(minute=0)
            elif at.minute not in minutes:
                at += timedelta(minutes=1)
            else:
                return at
        raise ValueError("the cron expression never matches")


def _field(text: str, lo: int, hi: int) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        spec, _, step = item.partition("/")
        try:
            if spec == "*":
                start, end = lo, hi
            elif "-" in spec:
                start, end = (int(x) for x in spec.split("-", 1))
            else:
                start = end = int(spec)
            every = int(step) if step else 1
        except ValueError:
            raise ValueError(f"'{item}' is not a number, a range, '*' or a /step") from None
        if not lo <= start <= end <= hi:
            raise ValueError(f"'{item}' is outside {lo}-{hi}")
        if every < 1:
            raise ValueError(f"'{item}' has a step below 1")
        values.update(range(start, end + 1, every))
    return values


def check(text: str) -> None:
    """ValueError (one line) unless `text` is a cron expression that ever matches."""
    Cron(text).next_after(datetime(2000, 1, 1, tzinfo=UTC))
