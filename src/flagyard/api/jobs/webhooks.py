"""Sends webhook deliveries from the outbox, in every process; the lease in the manage wing's
delivery use case lets one process send at a time."""

from __future__ import annotations

from flagyard.api.jobs.periodic import PeriodicJob
from flagyard.manage.webhook_delivery import WebhookDelivery


class WebhookJob(PeriodicJob):
    name = "flagyard-webhooks"
    failure = "webhook delivery failed"
    join_seconds = 15.0  # a send in flight may take the sender's whole timeout
    keeps_going = True  # while there is a backlog, go straight on

    def __init__(self, delivery: WebhookDelivery, every_seconds: float) -> None:
        super().__init__(every_seconds)
        self._delivery = delivery

    def run_once(self) -> int:
        return self._delivery.deliver_due()
