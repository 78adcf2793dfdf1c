"""A webhook channel: one JSON POST per alert change, signed when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import aiohttp

from homei.monitor.alert_records import AlertRecord
from homei.monitor.alert_settings import Webhook

SIGNATURE_HEADER = "X-Homei-Signature"


def body_of(alert: AlertRecord, change: str, delivery_id: int) -> dict[str, Any]:
    """What a channel says about one change of one alert."""
    return {"type": "alert", "change": change, "delivery": delivery_id, "alert": alert.as_wire()}


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """Posts to the configured URL; any answer but 2xx is a failure to retry."""

    def __init__(self, config: Webhook) -> None:
        self._config = config

    async def send(self, alert: AlertRecord, change: str, delivery_id: int) -> None:
        body = json.dumps(body_of(alert, change, delivery_id)).encode()
        headers = {
            "Content-Type": "application/json",
            # The same id on a retry: a receiver can drop what it already has.
            "X-Homei-Delivery": str(delivery_id),
            "X-Homei-Event": f"alert:{change}",
        }
        if self._config.secret:
            headers[SIGNATURE_HEADER] = signature(self._config.secret, body)
        timeout = aiohttp.ClientTimeout(total=self._config.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self._config.url, data=body, headers=headers) as response,
        ):
            if not 200 <= response.status < 300:
                raise RuntimeError(f"webhook answered HTTP {response.status}")
