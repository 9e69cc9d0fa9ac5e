"""S3's IAM actions as data: every action, its resource types and its condition keys.

The table (`s3_actions.json`, with `_source` provenance) is the Service Authorization
Reference for Amazon S3. It answers three questions: is `s3:X` a real action
(`is_known_action`), which real action was probably meant (`nearest_action`), and can a
statement's condition key ever be present for an action (`supports_condition_key`).
Pure: the standard library only.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Final

from ..model import InputError

TABLE_PATH: Final = Path(__file__).with_name("s3_actions.json")
PREFIX: Final = "s3:"
# aws:* keys the reference lists per action; every other aws:* key is global.
_TAG_KEYS: Final = ("aws:requesttag/", "aws:resourcetag/", "aws:tagkeys")


@cache
def _load() -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """(lower-cased name without `s3:` -> lower-cased condition keys, lower -> spelling)."""
    doc = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    keys = {
        name.lower(): frozenset(key.lower() for key in spec["condition_keys"])
        for name, spec in doc["actions"].items()
    }
    return keys, {name.lower(): name for name in doc["actions"]}


def _table() -> dict[str, frozenset[str]]:
    return _load()[0]


def _names() -> dict[str, str]:
    return _load()[1]


def action_names() -> tuple[str, ...]:
    """Every S3 action, as `s3:Name`."""
    return tuple(PREFIX + name for name in _names().values())


def _s3_name(action: str) -> str | None:
    service, sep, name = action.partition(":")
    return name.lower() if sep and service.lower() == "s3" else None


def is_known_action(action: str) -> bool:
    """True for an action of the S3 reference (case-insensitive, like IAM), e.g. s3:GetObject.

    Wildcards and other services' actions are not S3 actions: False.
    """
    name = _s3_name(action)
    return name is not None and name in _table()


def nearest_action(action: str) -> str | None:
    """The real S3 action closest in spelling to `action` (s3:GetObjekt -> s3:GetObject)."""
    name = _s3_name(action)
    if name is None:
        return None
    import difflib  # here: the batch's start need not load it (issue 15)

    close = difflib.get_close_matches(name, list(_table()), n=1, cutoff=0.6)
    return PREFIX + _names()[close[0]] if close else None


def check_action(action: str, *, field: str = "action") -> None:
    """Raise `InputError` naming `field` when `action` is an S3 action the reference lacks."""
    if _s3_name(action) is None or is_known_action(action) or "*" in action or "?" in action:
        return
    guess = nearest_action(action)
    hint = f": did you mean {guess}?" if guess else ""
    raise InputError(field, f"{action} is not an S3 action (Service Authorization Reference){hint}")


def supports_condition_key(action: str, key: str) -> bool | None:
    """Whether a request for `action` can ever carry condition `key`.

    True / False from the reference for S3 keys and tag keys; True for the global aws:* keys
    (the request may carry them whatever the action); None when it cannot be told (an
    unknown action, another service's key).
    """
    name = _s3_name(action)
    keys = _table().get(name) if name is not None else None
    if keys is None:
        return None
    lowered = key.lower()
    service = lowered.partition(":")[0]
    if service == "aws" and not lowered.startswith(_TAG_KEYS):
        return True
    if service not in ("aws", "s3"):
        return None
    if lowered in keys:
        return True
    head, slash, _ = lowered.partition("/")
    return bool(slash) and head + "/" in keys
