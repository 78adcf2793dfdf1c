"""A test double of the services runtime for the backup engine: services are folders on
disk (a config folder and named "volumes"), their spec a JSON file, their state a word.
It implements `homei.backup.sources.ServiceData` for real, on real files, and records the
stop/pause/start calls, so tests can see what a backup or restore did to the services.
Used where Docker is not the point (format, encryption, crash safety, full disk)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

from homei.core.errors import NotFound


class DirectoryServices:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state: dict[str, str] = {}
        self.modes: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_on_stop: set[str] = set()

    def add(self, name: str, volumes: tuple[str, ...] = ("data",), mode: str = "stop") -> None:
        spec = {"name": name, "image": "busybox", "volumes": [f"{v}:/{v}" for v in volumes]}
        self._spec_path(name).parent.mkdir(parents=True, exist_ok=True)
        self._spec_path(name).write_text(json.dumps(spec))
        for volume in volumes:
            (self.root / "volumes" / name / volume).mkdir(parents=True, exist_ok=True)
        (self.root / "config" / name).mkdir(parents=True, exist_ok=True)
        self.state[name] = "running"
        self.modes[name] = mode

    def config_dir(self, name: str) -> Path:
        return self.root / "config" / name

    def volume_dir(self, name: str, volume: str = "data") -> Path:
        return self.root / "volumes" / name / volume

    def _spec_path(self, name: str) -> Path:
        return self.root / "specs" / f"{name}.json"

    async def service_names(self) -> list[str]:
        return sorted(self.state)

    async def export_spec(self, name: str) -> bytes:
        try:
            return await asyncio.to_thread(self._spec_path(name).read_bytes)
        except FileNotFoundError:
            raise NotFound(f"Service '{name}' not found") from None

    async def data_dirs(self, name: str, include_data: bool) -> dict[str, Path]:
        spec = json.loads(await self.export_spec(name))
        dirs = {"config": self.config_dir(name)}
        if include_data:
            for mount in spec["volumes"]:
                volume = mount.split(":")[0]
                dirs[f"volumes/{volume}"] = self.volume_dir(name, volume)
        return dirs

    async def backup_mode(self, name: str) -> str:
        return self.modes.get(name, "stop")

    @contextlib.asynccontextmanager
    async def quiesced(self, name: str, mode: str) -> AsyncIterator[None]:
        before = self.state[name]
        if mode != "live" and before == "running":
            self.state[name] = "stopped" if mode == "stop" else "paused"
            self.calls.append((mode, name))
        try:
            yield
        finally:
            if self.state[name] != before:
                self.state[name] = before
                self.calls.append(("resume", name))

    @contextlib.asynccontextmanager
    async def stopped(self, names: list[str]) -> AsyncIterator[None]:
        running = [n for n in names if self.state.get(n) == "running"]
        stopped: list[str] = []
        try:
            for name in running:
                if name in self.fail_on_stop:
                    raise RuntimeError(f"{name} would not stop")
                self.state[name] = "stopped"
                self.calls.append(("stop", name))
                stopped.append(name)
            yield
        finally:
            for name in stopped:
                self.state[name] = "running"
                self.calls.append(("start", name))

    async def import_spec(self, name: str, spec_json: bytes) -> None:
        path = self._spec_path(name)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, spec_json)
        self.state.setdefault(name, "stopped")
