"""Delivering notices: a webhook (JSON POST, urllib) and e-mail (smtplib), each with a
timeout per attempt and retries 1 s, 2 s, 4 s … apart, on the courier's own thread: a
receiver that hangs or fails delays only other notices, never the alerter or the ingest.
How each notice went is written beside its alert (`record`)."""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import ssl
import threading
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

from signage.fleet.alerter import Notice
from signage.fleet.alert_config import EmailConfig, WebhookConfig
from signage.threads import SupervisedThread

logger = logging.getLogger(__name__)

QUEUED = 1000  # notices waiting at most; beyond, dropped and counted (a storm of alerts)


class Channel(Protocol):
    name: str
    retries: int

    def send(self, notice: Notice) -> None: ...


class Webhook:
    name = "webhook"

    def __init__(self, config: WebhookConfig):
        self.url, self.timeout, self.retries = config.url, config.timeout_s, config.retries

    def send(self, notice: Notice) -> None:
        request = urllib.request.Request(self.url, data=json.dumps(notice.payload()).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "signage-fleet"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - the operator's URL
            response.read(1024)


class Email:
    name = "email"

    def __init__(self, config: EmailConfig):
        self.config, self.retries = config, config.retries

    def send(self, notice: Notice) -> None:
        c = self.config
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = notice.subject(), c.sender, ", ".join(c.to)
        message.set_content(notice.text())
        with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if c.username is not None and c.password is not None:
                smtp.login(c.username, c.password)
            smtp.send_message(message)


class Courier:
    """A queue of notices and the thread that delivers them, channel by channel."""

    def __init__(self, channels: list[Channel], record: Callable[[Notice, str], None], queued: int = QUEUED,
                 first_wait: float = 1.0):
        self.channels, self._record, self._first_wait = channels, record, first_wait
        self._queue: queue.Queue[Notice] = queue.Queue(maxsize=queued)
        self._stopping = threading.Event()
        self.dropped = 0
        self.delivered: list[str] = []  # the last outcomes, newest last (at most 100)
        self.thread = SupervisedThread("fleet-alerts-out", self._drain, interval=1.0)

    def start(self) -> Courier:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.thread.stop(timeout)

    def post(self, notice: Notice) -> None:
        """Queue a notice (never blocks)."""
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            self.dropped += 1
            logger.error("alert notice dropped, %d waiting already: %s", self._queue.qsize(), notice.subject())
            return
        self.thread.wake()

    def _drain(self) -> None:
        while not self._stopping.is_set():
            try:
                notice = self._queue.get_nowait()
            except queue.Empty:
                return
            outcome = "; ".join(f"{channel.name} {self._attempts(channel, notice)}" for channel in self.channels)
            self._record(notice, f"{notice.kind}: {outcome or 'no channel configured'}")
            self.delivered = (self.delivered + [outcome])[-100:]

    def _attempts(self, channel: Channel, notice: Notice) -> str:
        wait, error = self._first_wait, ""
        for attempt in range(channel.retries + 1):
            try:
                channel.send(notice)
                return "delivered" if attempt == 0 else f"delivered at attempt {attempt + 1}"
            except Exception as exc:  # noqa: BLE001 - any failure of a receiver: retried, then reported
                error = f"{type(exc).__name__}: {exc}"[:200]
                logger.warning("%s: %s (attempt %d of %d)", channel.name, error, attempt + 1, channel.retries + 1)
            if attempt < channel.retries and self._stopping.wait(wait):
                break
            wait *= 2
        return f"failed: {error}"
