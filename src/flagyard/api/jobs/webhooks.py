"""Sends webhook deliveries from the outbox, in every process; the lease in the manage wing's
delivery use case lets one process send at a time."""

from __future__ import annotations

import logging
import threading

from flagyard.manage.webhook_delivery import WebhookDelivery

log = logging.getLogger("flagyard.webhooks")


class WebhookJob:
    def __init__(self, delivery: WebhookDelivery, every_seconds: float) -> None:
        self._delivery = delivery
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._every <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="flagyard-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self._delivery.deliver_due()
            except Exception:  # the database may be away; the next round tries again
                log.exception("webhook delivery failed")
                sent = 0
            if not sent:  # while there is a backlog, go straight on
                self._stop.wait(self._every)
