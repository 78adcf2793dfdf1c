"""`homei serve`: the daemon, started with as little imported as it needs."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from homei.core.memory import pause_collection
from homei.settings import Settings


def parser() -> argparse.ArgumentParser:
    """`homei serve`'s own options (the full parser has the same under its `serve`)."""
    serve = argparse.ArgumentParser(prog="homei serve", description="Run the daemon.")
    local_options(serve)
    add_options(serve)
    return serve


def add_options(serve: argparse.ArgumentParser) -> None:
    """`--listen` (the local options `--config` and `--data-dir` come from the parents)."""
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to serve the API on")


def serve(settings: Settings) -> int:
    """Run the daemon until it is told to stop."""
    pause_collection()  # until the daemon serves (see `settle_collection`)
    from homei.daemon import configure_logging
    from homei.daemon import serve as serve_forever

    listener = configure_logging(settings.log_level)
    try:
        asyncio.run(serve_forever(settings))
    finally:
        listener.stop()
    return 0


def local_options(parent: argparse.ArgumentParser) -> None:
    """Where the daemon's settings and state are: shared by `serve` and `user`."""
    parent.add_argument("--config", type=Path, help="settings file (default /etc/homei/homei.toml)")
    parent.add_argument("--data-dir", type=Path, help="where the daemon keeps its state")
