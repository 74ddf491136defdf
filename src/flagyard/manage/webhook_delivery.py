"""Sending the outbox: the process holding the `webhooks` lease sends each due delivery, signed,
records the attempt, and schedules the next one after a growing delay (at least once: a
receiver may see a message twice, and dedupes by its `webhook-id`)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from flagyard.clock import Clock, utc_now
from flagyard.manage.model.webhooks import Attempt, after_attempt, signature
from flagyard.manage.ports import UnitOfWorkFactory, WebhookSender

LEASE = "webhooks"
LEASE_MS = 30_000
# Standard Webhooks' schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
# (about 28 hours in all), then the delivery is failed.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
BATCH = 50


class WebhookDelivery:
    def __init__(self, uow_factory: UnitOfWorkFactory, sender: WebhookSender, owner: str,
                 retry_delays: Sequence[float] = RETRY_DELAYS, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._sender = sender
        self._owner = owner
        self._delays = tuple(retry_delays)
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    def _hold_lease(self) -> bool:
        with self._uow(write=True) as uow:
            held = uow.leases.acquire(LEASE, self._owner, self._now_ms(), LEASE_MS)
            uow.commit()
        return held

    def deliver_due(self) -> int:
        """Send what is due, if this process holds the lease; how many attempts were made."""
        if not self._hold_lease():
            return 0
        with self._uow() as uow:
            due = uow.deliveries.due(self._now_ms(), BATCH)
        made = 0
        for delivery, hook in due:
            if made and not self._hold_lease():  # a slow receiver outlasted the lease
                break
            body = delivery.body.encode()
            stamp = int(time.time())
            headers = {"content-type": "application/json", "user-agent": "flagyard-webhooks",
                       "webhook-id": delivery.message_id, "webhook-timestamp": str(stamp),
                       "webhook-signature": signature(hook.secret, delivery.message_id, stamp, body)}
            sent = self._sender.send(hook.url, headers, body)
            attempt = Attempt(delivery.id, self._now_ms(), sent.status, sent.duration_ms, sent.error)
            after_attempt(delivery, attempt, self._delays)
            with self._uow(write=True) as uow:
                uow.deliveries.record(delivery, attempt)
                uow.commit()
            made += 1
        return made
