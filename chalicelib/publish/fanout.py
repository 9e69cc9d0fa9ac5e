"""`FanOutPublisher`: one alert to the main topic, then to the other sinks (chat, Security Hub).

Built by `wiring.finding_publisher()` inside the alert budget (`BudgetedPublisher`), so every
sink sends under the same publish lease (service._alert) and within the same per-bucket budget:
a held-back alert reaches no sink; a budget notice goes to the main topic and to chat.

The main topic is the contract (DESIGN 3.5): it is sent first, and its failure raises, so the
lease is released and Lambda retries with nothing sent. The other sinks are sent after it,
each on its own: a failure there is logged (`secondary publish failed`, with the sink) and
not raised, because a retry would send the main alert a second time; one sink's outage never
holds back the others or the main alert.

`repeated` (called by service._count after a counted repeat) reaches the sinks that keep a
finding up to date (Security Hub), never the alert topics, and never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from ..model import Finding
from .message import Notice

logger = logging.getLogger(__name__)

Lookup = Callable[[str], Finding | None]


class Sink(Protocol):
    """A publisher of findings and notices (SNS topics, chat, Security Hub)."""

    def publish(self, finding: Finding) -> str: ...

    def publish_notice(self, notice: Notice) -> str: ...


class FanOutPublisher:
    """Sends to `primary` (raising), then to each of `secondaries` (logging failures)."""

    def __init__(self, primary: Sink, secondaries: Sequence[Sink] = ()) -> None:
        self.primary = primary
        self.secondaries = tuple(secondaries)
        self.failures = 0  # secondary sends that failed in this container

    def publish(self, finding: Finding) -> str:
        message_id = self.primary.publish(finding)
        for sink in self.secondaries:
            self._attempt(sink, "publish", partial(sink.publish, finding), finding.finding_id)
        return message_id

    def publish_notice(self, notice: Notice) -> str:
        message_id = self.primary.publish_notice(notice)
        for sink in self.secondaries:
            self._attempt(sink, "notice", partial(sink.publish_notice, notice), None)
        return message_id

    def repeated(self, finding_id: str, lookup: Lookup) -> None:
        for sink in (self.primary, *self.secondaries):
            update = getattr(sink, "repeated", None)
            if update is not None:
                self._attempt(sink, "repeat", partial(update, finding_id, lookup), finding_id)

    def _attempt(
        self, sink: Sink, what: str, send: Callable[[], object], finding_id: str | None
    ) -> None:
        try:
            send()
        except Exception:
            self.failures += 1
            logger.exception(
                "secondary publish failed",
                extra={"sink": type(sink).__name__, "what": what, "finding_id": finding_id},
            )
