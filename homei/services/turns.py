"""Whose turn it is on a service: an install, an update, a control action, a backup and the
reconciler never work on the same service at once.

The rules are `homei.core.work` policies shared through one `Workplace`, which the wiring
hands to every part of the model that acts on a service.
"""

from __future__ import annotations

from homei.core.errors import Conflict
from homei.core.work import OneAtATime


class ServiceBusy(Conflict):
    code = "SERVICE_BUSY"


def _busy(name: str | None) -> ServiceBusy:
    return ServiceBusy(f"Service '{name}' is busy", {"service": name})


# One piece of work per service at a time; the next one waits for its turn.
ONE_PER_SERVICE = OneAtATime("service", key="name")
# The same turns, for work that is better skipped than queued behind the current one.
ONE_PER_SERVICE_UNLESS_BUSY = OneAtATime("service", key="name", busy=_busy)
