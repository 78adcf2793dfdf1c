"""Process-wide memory settings of the daemon."""

from __future__ import annotations

import ctypes
import gc
import logging

_LOGGER = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 4 * 1024 * 1024


def return_large_blocks() -> bool:
    """Make glibc give blocks of 4 MiB and more back to the system as soon as they are freed.

    Each scrypt hash (a login, a password change) takes 16 MiB. By default glibc raises its
    mmap threshold to the size of the first such block freed, and from then on keeps these
    blocks in the arena of the thread that used them: with the executor's threads, about
    100 MiB that stay resident after a burst of logins. A fixed threshold stops that.
    Returns False where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        _LOGGER.debug("mallopt(M_MMAP_THRESHOLD) was refused")
        return False
    return True


def pause_collection() -> None:
    """Stop the cyclic garbage collector while the daemon starts.

    Start-up creates some 50 000 objects that live as long as the process (modules,
    classes, routes, components) and almost no garbage; the collector would walk them
    again and again, about a sixth of the instructions start-up runs beyond aiohttp's.
    """
    gc.disable()


def settle_collection() -> None:
    """Once the daemon serves: collect start-up's little garbage, move what survives out of
    the collector's sight for good (a full collection under load no longer walks it), and
    collect as usual from then on."""
    gc.collect()
    gc.freeze()
    gc.enable()
