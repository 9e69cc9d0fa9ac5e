"""KMS keys: metadata, key policy, grants and tags (DescribeKey, GetKeyPolicy, ListGrants,
ListResourceTags).

The key is keyed by its ARN (DescribeKey resolves key ids, aliases `alias/x` and alias ARNs); a
key that does not exist is an `$unreadable` marker with the not-found code under the name it was
asked by (unknown to the diagnosis, never "no key policy"); a part we were refused is an
`$unreadable` marker. The tags are the `Tags` list as KMS returns it (`TagKey`, `TagValue`):
`aws:ResourceTag/<key>` on S3's call to KMS (KMS ABAC). A key read by alias also maps that
alias's ARN to the key's ARN (`aliases`): a bare `alias/x` is of the key's account and region,
where DescribeKey resolved it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..arn import parse_arn
from ..model import Json
from .base import Absent, Fetched, Present, Read, ReadPlan, Unreadable

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class KmsKeyCollector:
    """Reads the KMS keys an SSE-KMS request uses."""

    permissions: ClassVar[tuple[str, ...]] = (
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:ListGrants",
        "kms:ListResourceTags",
    )

    def __init__(self, kms_for_region: Callable[[str | None], KMSClient], plan: ReadPlan) -> None:
        self._kms_for_region = kms_for_region
        self._plan = plan
        self._entries: dict[str, Json] = {}
        self._arns: dict[str, str] = {}
        self._missing: set[str] = set()
        self._not_found: dict[str, Json] = {}
        self._aliases: dict[str, str] = {}  # alias ARN -> key ARN

    def document(self) -> Json:
        keys = {
            self._arns.get(key_id, key_id): entry
            for key_id, entry in self._entries.items()
            if key_id not in self._missing
        }
        for key_id, marker in self._not_found.items():
            keys.setdefault(key_id, marker)
        document: Json = {"keys": dict(sorted(keys.items()))}
        if self._aliases:
            document["aliases"] = dict(sorted(self._aliases.items()))
        return document

    def add_key(self, key_id: str) -> None:
        """Read a key given as ARN, id or alias (ARN or id are the usual S3 forms)."""
        if key_id in self._entries:
            return
        entry: Json = {}
        self._entries[key_id] = entry
        arn = parse_arn(key_id)
        kms = self._kms_for_region(arn.region if arn and arn.region else None)

        def on_metadata(result: Fetched) -> None:
            match result:
                case Present(value=metadata):
                    entry["metadata"] = metadata
                    self._arns[key_id] = str(metadata.get("Arn", key_id))
                    self._add_alias(key_id, self._arns[key_id])
                    self._read_key_parts(kms, entry, self._arns[key_id], key_id)
                case Absent(code=code):
                    self._missing.add(key_id)
                    self._not_found[key_id] = Unreadable(
                        code=code, needs="kms:DescribeKey"
                    ).to_doc()
                case Unreadable() as refused:
                    entry["metadata"] = refused.to_doc()
                    self._read_key_parts(kms, entry, key_id, key_id)

        self._read(
            "kms:DescribeKey",
            key_id,
            lambda: kms.describe_key(KeyId=key_id)["KeyMetadata"],
            f"KMS key {key_id}",
            on_metadata,
        )

    def _add_alias(self, key_id: str, key_arn: str) -> None:
        """Map `key_id`, when it is an alias or an alias ARN, to the key ARN it resolved to."""
        key = parse_arn(key_arn)
        if key is None or not key.resource.startswith("key/"):
            return
        if key_id.startswith("alias/"):
            self._aliases[f"{key_arn.rsplit(':', 1)[0]}:{key_id}"] = key_arn
        elif (alias := parse_arn(key_id)) is not None and alias.resource.startswith("alias/"):
            self._aliases[key_id] = key_arn

    def _read_key_parts(self, kms: KMSClient, entry: Json, key: str, key_id: str) -> None:
        """Read once the key is known to exist (and by ARN, which DescribeKey resolved)."""

        def store(name: str) -> Callable[[Fetched], None]:
            def on_result(result: Fetched) -> None:
                match result:
                    case Present(value=value):
                        entry[name] = value
                    case Absent():
                        self._missing.add(key_id)
                    case Unreadable() as refused:
                        entry[name] = refused.to_doc()

            return on_result

        what = f"KMS key {key}"
        self._read(
            "kms:GetKeyPolicy",
            key,
            lambda: kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"],
            what,
            store("policy"),
        )
        self._read(
            "kms:ListGrants",
            key,
            lambda: (
                kms.get_paginator("list_grants").paginate(KeyId=key).build_full_result()["Grants"]
            ),
            what,
            store("grants"),
        )
        self._read(
            "kms:ListResourceTags",
            key,
            lambda: (
                kms.get_paginator("list_resource_tags")
                .paginate(KeyId=key)
                .build_full_result()
                .get("Tags", [])
            ),
            what,
            store("tags"),
        )

    def _read(
        self,
        needs: str,
        key_id: str,
        call: Callable[[], Any],
        what: str,
        then: Callable[[Fetched], None],
    ) -> None:
        self._plan.read(Read(key=(needs, key_id), call=call, needs=needs, what=what), then)
