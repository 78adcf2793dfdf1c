"""The CLI's side of the API: stored credentials and an HTTP client that refreshes them."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from homei.core.atomic import write_file_atomic

DEFAULT_URL = "http://127.0.0.1:8080"


def credentials_path() -> Path:
    """`$XDG_CONFIG_HOME/homei/credentials.json` (or `~/.config/...`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "homei" / "credentials.json"


@dataclass
class Credentials:
    url: str
    username: str
    access_token: str
    refresh_token: str

    @classmethod
    def load(cls) -> Credentials | None:
        """The saved login, if any."""
        try:
            data = json.loads(credentials_path().read_text())
            return cls(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def save(self) -> Path:
        """Write the login, readable by its owner only (0600)."""
        path = credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_file_atomic(path, json.dumps(asdict(self), indent=2).encode(), 0o600)
        return path


class ApiError(Exception):
    """An error answer of the API, with its envelope's code and message."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ApiClient:
    """Calls the API with the saved token, refreshing it once when it has expired."""

    def __init__(
        self,
        url: str | None = None,
        credentials: Credentials | None = None,
        token: str | None = None,
        timeout: float | None = 60.0,
    ) -> None:
        self.credentials = credentials if credentials is not None else Credentials.load()
        self.url = (
            url
            or (self.credentials.url if self.credentials else None)
            or os.environ.get("HOMEI_URL")
            or DEFAULT_URL
        ).rstrip("/")
        self._token = token or os.environ.get("HOMEI_TOKEN")
        self._session: aiohttp.ClientSession | None = None
        self._timeout = timeout

    async def __aenter__(self) -> ApiClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout, sock_connect=10)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header, for a connection made outside `request` (WebSockets)."""
        return self._headers()

    def _headers(self) -> dict[str, str]:
        token = self._token or (self.credentials.access_token if self.credentials else None)
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON from the API; raises `ApiError` with the envelope of an error answer."""
        status, body = await self._send(method, path, **kwargs)
        # A streamed body cannot be sent twice: callers check the token before uploading.
        replayable = not hasattr(kwargs.get("data"), "__aiter__")
        can_refresh = self._token is None and self.credentials is not None and replayable
        if status == 401 and can_refresh and await self._refresh():
            status, body = await self._send(method, path, **kwargs)
        if status >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(
                status,
                error.get("code", f"HTTP_{status}"),
                error.get("message", str(body)),
                error.get("details", {}),
            )
        return body

    def stream(self, method: str, path: str, **kwargs: Any) -> Any:
        """A response whose body the caller reads as it arrives (downloads); use it with
        `async with` and check its status."""
        assert self._session is not None
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self._session.request(method, f"{self.url}{path}", headers=headers, **kwargs)

    async def _send(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self._session is not None
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        async with self._session.request(
            method, f"{self.url}{path}", headers=headers, **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def _refresh(self) -> bool:
        assert self.credentials is not None
        status, body = await self._send(
            "POST", "/api/v1/auth/refresh", json={"refresh_token": self.credentials.refresh_token}
        )
        if status != 200:
            return False
        self.credentials.access_token = body["access_token"]
        self.credentials.refresh_token = body["refresh_token"]
        self.credentials.save()
        return True
