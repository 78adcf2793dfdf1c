"""Cron times in UTC: `minute hour day-of-month month day-of-week`, for every schedule
(backups, jobs), evaluated by cronsim so that all of them read an expression the same way
(names such as `mon` or `jan`, `L`, `#`, and day-of-month OR day-of-week as in cron).
Checked when a schedule is declared, so a bad one is refused there with a reason that names
the field."""

from __future__ import annotations

from datetime import UTC, datetime

from cronsim import CronSim, CronSimError

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)


class Cron:
    """One five-field cron expression."""

    def __init__(self, text: str) -> None:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 cron fields, got {len(fields)}: '{text}'")
        self.text = " ".join(fields)
        try:
            CronSim(self.text, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as err:
            raise ValueError(_explain(fields, str(err))) from None

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute after `moment` (UTC); ValueError if there is none."""
        try:
            return next(CronSim(self.text, moment.astimezone(UTC).replace(second=0, microsecond=0)))
        except StopIteration:
            raise ValueError("the cron expression never matches") from None


def _explain(fields: list[str], reason: str) -> str:
    """cronsim's reason ('Bad hour'), made to say which part of the field is wrong."""
    for text, (name, lo, hi) in zip(fields, _FIELDS, strict=True):
        if name not in reason.lower():
            continue
        for item in text.split(","):
            problem = _item_problem(item, lo, hi, names=name in ("month", "day-of-week"))
            if problem:
                return problem
        if name == "day-of-month":
            return "the cron expression never matches (no such day in those months)"
        return f"'{text}' is not a valid {name} field"
    return reason


def _item_problem(item: str, lo: int, hi: int, *, names: bool) -> str | None:
    """Why one comma-separated item of a numeric field is wrong, if it plainly is."""
    spec, _, step = item.partition("/")
    bounds = spec.split("-", 1) if spec != "*" else []
    numbers = [part for part in [*bounds, step] if part]
    if not all(part.isdigit() for part in numbers):
        if names and any(part.isalpha() for part in numbers):
            return None  # a name (mon, jan): cronsim's own reason stands
        return f"'{item}' is not a number, a range, '*' or a /step"
    if step and int(step) < 1:
        return f"'{item}' has a step below 1"
    if any(not lo <= int(part) <= hi for part in bounds):
        return f"'{item}' is outside {lo}-{hi}"
    if len(bounds) == 2 and int(bounds[0]) > int(bounds[1]):
        return f"'{item}' is a range that ends before it starts"
    return None


def check(text: str) -> None:
    """ValueError (one line) unless `text` is a cron expression that ever matches."""
    Cron(text).next_after(datetime(2000, 1, 1, tzinfo=UTC))
