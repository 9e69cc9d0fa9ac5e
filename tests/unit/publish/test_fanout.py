"""FanOutPublisher: the main topic first and raising, the other sinks best effort."""

from __future__ import annotations

import pytest

from chalicelib.model import Finding
from chalicelib.publish.budget import BudgetedPublisher, InMemoryAlertBudget, spent_notice
from chalicelib.publish.fanout import FanOutPublisher
from chalicelib.publish.memory import ListPublisher
from chalicelib.publish.message import Notice

from .builders import build_finding


class Broken:
    def publish(self, finding: Finding) -> str:
        raise RuntimeError("down")

    def publish_notice(self, notice: Notice) -> str:
        raise RuntimeError("down")


class Tracking(ListPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.repeats: list[int] = []

    def repeated(self, finding_id, lookup) -> None:
        found = lookup(finding_id)
        self.repeats.append(found.occurrences if found else -1)


def test_every_sink_gets_the_alert_and_the_notice() -> None:
    main, chat = ListPublisher(), ListPublisher()
    fan = FanOutPublisher(main, [chat])
    assert fan.publish(build_finding()) == "message-1"
    fan.publish_notice(spent_notice("reports", limit=1, end="x"))
    assert len(main.sent) == len(chat.sent) == 1
    assert len(main.notices) == len(chat.notices) == 1


def test_a_failing_secondary_sink_neither_raises_nor_stops_the_others(caplog) -> None:
    main, chat = ListPublisher(), ListPublisher()
    fan = FanOutPublisher(main, [Broken(), chat])
    fan.publish(build_finding())
    assert len(main.sent) == len(chat.sent) == 1
    assert fan.failures == 1
    assert "secondary publish failed" in caplog.text


def test_a_failing_main_topic_raises_before_anything_else_is_sent() -> None:
    chat = ListPublisher()
    with pytest.raises(RuntimeError):
        FanOutPublisher(Broken(), [chat]).publish(build_finding())
    assert chat.sent == []


def test_the_budget_holds_back_every_sink_and_passes_repeats_through() -> None:
    main, chat = ListPublisher(), Tracking()
    budgeted = BudgetedPublisher(
        FanOutPublisher(main, [chat]),
        InMemoryAlertBudget(),
        limit=1,
        window=__import__("datetime").timedelta(minutes=15),
        clock=lambda: __import__("datetime").datetime(
            2025, 3, 1, tzinfo=__import__("datetime").UTC
        ),
    )
    budgeted.publish(build_finding("a"))
    assert budgeted.publish(build_finding("b")) == ""
    assert [f.finding_id for f, _ in chat.sent] == ["a"]
    assert len(chat.notices) == 1  # the budget is spent: chat hears it too
    budgeted.repeated("a", lambda _id: build_finding("a", occurrences=2))
    assert chat.repeats == [2]
