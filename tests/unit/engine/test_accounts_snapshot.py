"""The `accounts` part of a snapshot (issue 14.3): other accounts that take part in a request."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.model import InputError
from chalicelib.snapshot import NOT_COLLECTED, AccountSide, Iam, Unreadable, load_snapshot

OTHER = "111122223333"


def _doc(accounts: Any) -> dict[str, Any]:
    return {"account_id": "222233334444", "accounts": accounts}


def test_a_part_left_out_is_not_collected_never_none() -> None:
    side = load_snapshot(_doc({OTHER: {}})).side(OTHER)
    assert isinstance(side, AccountSide)
    assert isinstance(side.iam, Unreadable) and side.iam.code == NOT_COLLECTED
    assert isinstance(side.organization, Unreadable)
    assert side.organization.code == NOT_COLLECTED
    assert OTHER in (side.iam.needs or "")


def test_parts_and_markers_are_loaded_as_elsewhere() -> None:
    marker = {"$unreadable": "AccessDenied", "needs": "sts:AssumeRole"}
    snapshot = load_snapshot(
        _doc({OTHER: {"iam": {"RoleDetailList": []}, "organization": None}, "444455556666": marker})
    )
    side = snapshot.side(OTHER)
    assert isinstance(side, AccountSide) and isinstance(side.iam, Iam)
    assert side.organization is None  # written as null: in no organization
    assert snapshot.side("444455556666") == Unreadable(
        code="AccessDenied", needs="sts:AssumeRole", where="accounts.444455556666"
    )
    assert snapshot.side("555566667777") is None
    assert snapshot.side(snapshot.account_id) is None


@pytest.mark.parametrize(
    "accounts, field",
    [
        ({"1111": {}}, "snapshot.accounts"),
        ({OTHER: {"iam": {"RoleDetailList": "x"}}}, f"snapshot.accounts.{OTHER}.iam"),
    ],
)
def test_a_bad_account_part_is_refused_naming_it(accounts: Any, field: str) -> None:
    with pytest.raises(InputError) as error:
        load_snapshot(_doc(accounts))
    assert str(error.value).startswith(field)
