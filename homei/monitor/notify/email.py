"""An email channel: one message per alert change, over SMTP with STARTTLS and login."""

from __future__ import annotations

import asyncio
import json
import ssl
from email.message import EmailMessage

from homei.core.lazy import import_module
from homei.monitor.alert_records import AlertRecord
from homei.monitor.alert_settings import Smtp


def message_of(alert: AlertRecord, change: str, delivery_id: int, config: Smtp) -> EmailMessage:
    """The mail for one change of one alert."""
    message = EmailMessage()
    message["Subject"] = f"[homei] {change}: {alert.level} {alert.message}"[:200]
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["X-Homei-Delivery"] = str(delivery_id)
    lines = [
        f"Alert {alert.id} is {change}.",
        "",
        f"Level:   {alert.level}",
        f"Source:  {alert.source}",
        f"Message: {alert.message}",
        "",
        json.dumps(alert.as_wire(), indent=2),
    ]
    message.set_content("\n".join(lines))
    return message


class EmailChannel:
    """Sends through the configured SMTP server (aiosmtplib, imported on first use)."""

    def __init__(self, config: Smtp) -> None:
        self._config = config

    async def send(self, alert: AlertRecord, change: str, delivery_id: int) -> None:
        config = self._config
        aiosmtplib = await import_module("aiosmtplib")
        context = None
        if config.starttls:
            # Loading the trust store reads files: not on the event loop.
            context = await asyncio.to_thread(
                ssl.create_default_context, cafile=config.ca_file or None
            )
        await aiosmtplib.send(
            message_of(alert, change, delivery_id, config),
            hostname=config.host,
            port=config.port,
            username=config.username or None,
            password=config.password or None,
            start_tls=config.starttls,
            tls_context=context,
            timeout=config.timeout,
        )
