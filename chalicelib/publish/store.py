"""`DynamoFindingStore`: findings, event records, aggregate pointers and errors in one table.

Table layout (`TABLE_DEFINITION`, also the CloudFormation `Properties` of the table):

- key `pk` only: `finding#<id>`, `event#<event key>`, `aggregate#<key>`, `error#<event key>`;
- finding items carry `bucket`, `principal_arn`, `account` (the bucket's account,
  `ports.finding_account`), `listing` (the constant `finding`) and the sort key
  `seen_key` = `<first_seen>#<finding id>`, which four GSIs index: `by-bucket`,
  `by-principal`, `by-account` and `recent` (newest first, `since` as a key condition). The
  sort key is immutable, so a page token stays valid while repeats update `occurrences` and
  `last_seen`, and ties between findings of the same second have a stable order;
- `recent` uses one constant partition rather than one per day: aggregation keeps distinct
  findings to a few per minute even under bursts, far below one partition's 1,000 writes/s,
  and a single partition pages newest-first with one plain DynamoDB token (per-day partitions
  would need a fan-out over days and a compound token for no gain at this volume);
- `expires_at` (epoch seconds) is the TTL attribute: findings and errors after
  `retention_days`, event records after `event_retention_days` (longer than EventBridge's
  24-hour retry horizon), aggregate pointers a day after their window ends. TTL deletion lags,
  so freshness is always checked against `window_end`, never inferred from presence.

The finding itself is stored as compact JSON in `body` (DynamoDB maps would reject floats and
deep nesting in policy patches); `occurrences` and `last_seen` live beside it and win on read.
A finding whose item would pass `sizing.ITEM_BUDGET` (350 KB of DynamoDB's 400 KB) is stored as
zlib-compressed JSON in the binary `body_z`, and if that is still too big, trimmed (statements,
patches, near misses, ...) with a `truncated` marker naming what was removed (publish/sizing.py).

Publish lease: `published` (false until the alert is sent) and, while an invocation is sending
it, `lease_owner` and `lease_until` on the finding item. `claim_publish` is one conditional
update (not published, no unexpired lease), so only one invocation at a time sends the alert.

Transactions cancelled by a conflict with a concurrent transaction on the same item (a hot
aggregate under a burst) or by throttling are retried here, up to `WRITE_ATTEMPTS` times with
exponential backoff and full jitter, as are single-item writes refused for the same reasons.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from ..aggregation import MAX_TALLY_ENTRIES, OTHER, OUTSIDE_ATTEMPTS, merge_tally
from ..model import Finding
from .paging import check_query, decode_token, encode_token, read_budget
from .ports import (
    CLOSED,
    INDEX_BY_ACCOUNT,
    INDEX_BY_BUCKET,
    INDEX_BY_PRINCIPAL,
    INDEX_RECENT,
    Aggregate,
    ErrorRecord,
    EventRecord,
    FindingPage,
    FindingQuery,
    StoreError,
    WriteOutcome,
    finding_account,
    index_for,
)
from .sizing import item_body, read_body
from .timestamps import epoch_seconds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

TTL_ATTRIBUTE = "expires_at"
TALLY_PREFIX = "tally_"  # tally_action, tally_source: an outsider finding's counts (maps)
TALLY_FIELDS = ("action", "source")
LISTING = "finding"
DAY = 86_400
WRITE_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
# Cancellation reasons and error codes worth another attempt (nothing was written).
_RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_RETRYABLE_CODES = {
    "TransactionConflictException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
}
# What replace_diagnosis rewrites on a finding item (the rest, counts and order, stays).
_REPLACED = ("body", "body_z", "principal_arn", "decision", "action", "bucket", "account")
_LEASE_ATTRIBUTES = 64  # room for lease_owner and lease_until, added after the item is written
T = TypeVar("T")


def _gsi(name: str, partition: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": "seen_key", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


TABLE_DEFINITION: dict[str, Any] = {
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [
        {"AttributeName": name, "AttributeType": "S"}
        for name in ("pk", "bucket", "principal_arn", "listing", "seen_key", "account")
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        _gsi(INDEX_BY_BUCKET, "bucket"),
        _gsi(INDEX_BY_PRINCIPAL, "principal_arn"),
        _gsi(INDEX_RECENT, "listing"),
        _gsi(INDEX_BY_ACCOUNT, "account"),
    ],
    "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
}


def create_table(client: DynamoDBClient, table_name: str) -> None:
    """Create the findings table as `TABLE_DEFINITION` describes, TTL included (tests, demo)."""
    definition = {k: v for k, v in TABLE_DEFINITION.items() if k != "TimeToLiveSpecification"}
    client.create_table(TableName=table_name, **definition)
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification=TABLE_DEFINITION["TimeToLiveSpecification"]
    )


class DynamoFindingStore:
    """The `FindingStore` on one DynamoDB table, through an injected boto3 client."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        retention_days: int = 90,
        event_retention_days: int = 7,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table_name
        self._client = client
        self._retention = retention_days * DAY
        self._event_retention = event_retention_days * DAY
        self._sleep = sleep

    # ------------------------------------------------------------------ reads

    def get(self, finding_id: str) -> Finding | None:
        item = self._get(f"finding#{finding_id}")
        return _finding(item) if item else None

    def unpublished(self, finding_id: str) -> Finding | None:
        item = self._get(f"finding#{finding_id}")
        if item is None or item.get("published", {}).get("BOOL", True):
            return None
        return _finding(item)

    def aggregate(self, key: str) -> Aggregate | None:
        item = self._get(f"aggregate#{key}")
        if item is None:
            return None
        return Aggregate(
            key=key, finding_id=item["finding_id"]["S"], window_end=item["window_end"]["S"]
        )

    def event_record(self, event_key: str) -> EventRecord | None:
        item = self._get(f"event#{event_key}")
        if item is None:
            return None
        return EventRecord(
            event_key=event_key,
            finding_id=item["finding_id"]["S"],
            created=item["created"]["BOOL"],
        )

    def get_error(self, event_key: str) -> ErrorRecord | None:
        item = self._get(f"error#{event_key}")
        if item is None:
            return None
        return ErrorRecord(
            event_key=event_key,
            error=item["error"]["S"],
            received_at=item["received_at"]["S"],
            field=item["field"]["S"] if "field" in item else None,
            event_excerpt=item["event_excerpt"]["S"] if "event_excerpt" in item else None,
        )

    def list(self, query: FindingQuery) -> FindingPage:
        """Newest first; with filters, at most `read_budget(limit)` stored findings are read."""
        since = check_query(query)
        index, partition, value = _index_for(query)
        after = decode_token(query.next_token, index) if query.next_token else None
        if since is not None and after is not None and after < since:
            return FindingPage(findings=())
        names = {"#p": partition}
        values: dict[str, Any] = {":p": {"S": value}}
        condition = "#p = :p"
        if since is not None or after is not None:
            names["#s"] = "seen_key"
        if since is not None and after is not None:
            # One range condition per query: BETWEEN includes `after`, skipped below.
            condition += " AND #s BETWEEN :since AND :after"
            values |= {":since": {"S": since}, ":after": {"S": after}}
        elif since is not None:
            condition += " AND #s >= :since"
            values[":since"] = {"S": since}
        elif after is not None:
            condition += " AND #s < :after"
            values[":after"] = {"S": after}
        filters = []
        if query.decision is not None:
            filters.append("#d = :d")
            names["#d"] = "decision"
            values[":d"] = {"S": query.decision}
        if query.principal_arn is not None and partition != "principal_arn":
            filters.append("#pr = :pr")
            names["#pr"] = "principal_arn"
            values[":pr"] = {"S": query.principal_arn}
        if query.account is not None and partition != "account":
            filters.append("#ac = :ac")
            names["#ac"] = "account"
            values[":ac"] = {"S": query.account}
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            params["FilterExpression"] = " AND ".join(filters)
        budget = read_budget(query.limit)
        found: list[tuple[str, Finding]] = []
        read = 0
        while True:
            # Limit counts items read before the filter: unfiltered, only what is still missing.
            params["Limit"] = budget - read if filters else query.limit - len(found)
            response = self._client.query(**params)
            read += response.get("ScannedCount", 0)
            items = [i for i in response.get("Items", []) if i["seen_key"]["S"] != after]
            last_key = response.get("LastEvaluatedKey")
            for n, item in enumerate(items, start=1):
                found.append((item["seen_key"]["S"], _finding(item)))
                if len(found) == query.limit:
                    more = n < len(items) or last_key is not None
                    return _page(index, found, found[-1][0] if more else None)
            if last_key is None:
                return _page(index, found, None)
            if read >= budget:
                return _page(index, found, last_key["seen_key"]["S"])
            params["ExclusiveStartKey"] = last_key

    # ------------------------------------------------------------------ writes

    def create(
        self,
        finding: Finding,
        *,
        event_key: str,
        aggregate_keys: Sequence[str],
        window_end: str,
        received: str | None = None,
    ) -> WriteOutcome:
        seen = _first_seen(finding)
        pointer_expiry = epoch_seconds(window_end) + DAY
        items: list[dict[str, Any]] = [
            self._event_put(event_key, finding.finding_id, created=True, at=received or seen),
            {"Put": {"TableName": self._table, "Item": self._finding_item(finding)}},
        ]
        for key in aggregate_keys:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": {"S": f"aggregate#{key}"},
                            "kind": {"S": "aggregate"},
                            "finding_id": {"S": finding.finding_id},
                            "window_end": {"S": window_end},
                            TTL_ATTRIBUTE: {"N": str(pointer_expiry)},
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR window_end <= :at",
                        "ExpressionAttributeValues": {":at": {"S": seen}},
                    }
                }
            )
        failed = self._transact(items)
        if failed is None:
            return WriteOutcome.WRITTEN
        return WriteOutcome.DUPLICATE_EVENT if 0 in failed else WriteOutcome.AGGREGATE_TAKEN

    def add_occurrence(
        self,
        finding_id: str,
        *,
        event_key: str,
        seen: str,
        aggregate_key: str | None = None,
        window_end: str | None = None,
        received: str | None = None,
    ) -> WriteOutcome:
        for later in (True, False):
            items = [
                self._event_put(event_key, finding_id, created=False, at=received or seen),
                self._count_update(finding_id, seen, set_last_seen=later),
            ]
            if aggregate_key is not None and window_end is not None:
                items.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": f"aggregate#{aggregate_key}"},
                                "kind": {"S": "aggregate"},
                                "finding_id": {"S": finding_id},
                                "window_end": {"S": window_end},
                                TTL_ATTRIBUTE: {"N": str(epoch_seconds(window_end) + DAY)},
                            },
                        }
                    }
                )
            failed = self._transact(items)
            if failed is None:
                return WriteOutcome.WRITTEN
            if 0 in failed:
                return WriteOutcome.DUPLICATE_EVENT
            # Only the finding's condition failed: either this repeat is older than last_seen
            # (delivered out of order: count it, keep last_seen) or the finding is gone.
        raise StoreError(f"finding {finding_id} no longer exists; cannot count event {event_key}")

    def replace_diagnosis(
        self,
        finding: Finding,
        *,
        was_principal: str,
        realert: bool,
        retire: Sequence[str] = (),
        point: Sequence[str] = (),
        window_end: str | None = None,
    ) -> bool:
        """One conditional update of the finding item: its body and listed attributes, only
        while `principal_arn` is still `was_principal` (`first_seen` and `seen_key` kept); then
        one conditional write per pointer to close or to set (a crash in between leaves the old
        pointers until their window ends)."""
        stored = self._get(f"finding#{finding.finding_id}")
        if stored is None:
            return False
        item = self._finding_item(replace(finding, first_seen=stored["first_seen"]["S"]))
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for n, field in enumerate(_REPLACED):
            if field in item:
                names[f"#r{n}"] = field
                values[f":r{n}"] = item[field]
                sets.append(f"#r{n} = :r{n}")
        removed = [f for f in ("body", "body_z", "principal_arn", "bucket") if f not in item]
        if realert:
            sets.append("published = :false")
            values[":false"] = {"BOOL": False}
            removed += ["lease_owner", "lease_until"]
        condition = "attribute_exists(pk) AND "
        if was_principal:
            condition += "principal_arn = :was"
            values[":was"] = {"S": was_principal}
        else:
            condition += "attribute_not_exists(principal_arn)"
        update = "SET " + ", ".join(sets)
        if removed:
            update += " REMOVE " + ", ".join(f"#x{n}" for n in range(len(removed)))
            names |= {f"#x{n}": field for n, field in enumerate(removed)}
        try:
            self._retrying(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": f"finding#{finding.finding_id}"}},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        for key in retire:
            self._close_pointer(key, finding.finding_id)
        if window_end is not None:
            for key in point:
                self._point(key, finding.finding_id, window_end, at=stored["last_seen"]["S"])
        return True

    def _point(self, key: str, finding_id: str, window_end: str, *, at: str) -> None:
        """`key` -> `finding_id` until `window_end`, unless a pointer fresh `at` holds it."""
        try:
            self._retrying(
                lambda: self._client.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": f"aggregate#{key}"},
                        "kind": {"S": "aggregate"},
                        "finding_id": {"S": finding_id},
                        "window_end": {"S": window_end},
                        TTL_ATTRIBUTE: {"N": str(epoch_seconds(window_end) + DAY)},
                    },
                    ConditionExpression="attribute_not_exists(pk) OR window_end <= :at",
                    ExpressionAttributeValues={":at": {"S": at}},
                )
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def _close_pointer(self, key: str, finding_id: str) -> None:
        try:
            self._retrying(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": f"aggregate#{key}"}},
                    UpdateExpression="SET window_end = :closed",
                    ConditionExpression="finding_id = :id",
                    ExpressionAttributeValues={
                        ":closed": {"S": CLOSED},
                        ":id": {"S": finding_id},
                    },
                )
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def claim_publish(self, finding_id: str, *, owner: str, now: str, until: str) -> Finding | None:
        try:
            response = self._retrying(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": f"finding#{finding_id}"}},
                    UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                    ConditionExpression=(
                        "attribute_exists(pk) AND published = :false"
                        " AND (attribute_not_exists(lease_until) OR lease_until <= :now)"
                    ),
                    ExpressionAttributeValues={
                        ":owner": {"S": owner},
                        ":until": {"S": until},
                        ":now": {"S": now},
                        ":false": {"BOOL": False},
                    },
                    ReturnValues="ALL_NEW",
                )
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            return None
        return _finding(response["Attributes"])

    def release_publish(self, finding_id: str, *, owner: str) -> None:
        self._update_if(
            finding_id,
            UpdateExpression="REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :owner",
            ExpressionAttributeValues={":owner": {"S": owner}},
        )

    def mark_published(self, finding_id: str) -> None:
        self._update_if(
            finding_id,
            UpdateExpression="SET published = :t REMOVE lease_owner, lease_until",
            ConditionExpression="attribute_exists(pk)",  # never create a stub item
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    def add_tally(self, finding_id: str, counts: Mapping[str, str]) -> None:
        for field, name in counts.items():
            attribute = f"{TALLY_PREFIX}{field}"
            for entry, condition in (
                (name, "attribute_exists(#t) AND (attribute_exists(#t.#n) OR size(#t) < :cap)"),
                (OTHER, "attribute_exists(#t)"),
            ):
                if self._tally_one(finding_id, attribute, entry, condition):
                    break

    def _tally_one(self, finding_id: str, attribute: str, entry: str, condition: str) -> bool:
        """Add one to `attribute[entry]`; False when `condition` failed."""
        try:
            self._retrying(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": f"finding#{finding_id}"}},
                    UpdateExpression="SET #t.#n = if_not_exists(#t.#n, :zero) + :one",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#t": attribute, "#n": entry},
                    ExpressionAttributeValues={
                        ":zero": {"N": "0"},
                        ":one": {"N": "1"},
                        **({":cap": {"N": str(MAX_TALLY_ENTRIES)}} if ":cap" in condition else {}),
                    },
                )
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def put_error(self, record: ErrorRecord) -> None:
        item: dict[str, Any] = {
            "pk": {"S": f"error#{record.event_key}"},
            "kind": {"S": "error"},
            "error": {"S": record.error},
            "received_at": {"S": record.received_at},
            TTL_ATTRIBUTE: {"N": str(epoch_seconds(record.received_at) + self._retention)},
        }
        if record.field:
            item["field"] = {"S": record.field}
        if record.event_excerpt:
            item["event_excerpt"] = {"S": record.event_excerpt}
        self._client.put_item(TableName=self._table, Item=item)

    # ------------------------------------------------------------------ helpers

    def _get(self, pk: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True
        )
        return response.get("Item")

    def _update_if(self, finding_id: str, **update: Any) -> None:
        """One conditional update of a finding item; a failed condition is not an error."""
        try:
            self._retrying(
                lambda: self._client.update_item(
                    TableName=self._table, Key={"pk": {"S": f"finding#{finding_id}"}}, **update
                )
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise

    def _transact(self, items: Sequence[dict[str, Any]]) -> set[int] | None:
        """Run one transaction; None when written, else the indexes whose condition failed.

        A transaction cancelled only by conflicts or throttling is retried (`_retrying`).
        """
        try:
            self._retrying(
                lambda: self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            failed = {
                i for i, r in enumerate(_reasons(exc)) if r.get("Code") == "ConditionalCheckFailed"
            }
            if not failed:  # retries exhausted, or a validation error: the invocation fails
                raise
            return failed
        return None

    def _retrying(self, call: Callable[[], T]) -> T:
        """`call()`, again after a conflict or throttling: at most `WRITE_ATTEMPTS` attempts,
        exponential backoff with full jitter (a random pause up to base * 2^attempt)."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return call()
            except ClientError as exc:
                if attempt == WRITE_ATTEMPTS or not _retryable(exc):
                    raise
                logger.info("write retried", extra={"attempt": attempt, "error": _code(exc)})
                ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
                self._sleep(random.uniform(0, ceiling))
        raise AssertionError("unreachable")  # pragma: no cover

    def _event_put(
        self, event_key: str, finding_id: str, *, created: bool, at: str
    ) -> dict[str, Any]:
        """The event record, expiring `event_retention` after `at` (the processing time)."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "pk": {"S": f"event#{event_key}"},
                    "kind": {"S": "event"},
                    "finding_id": {"S": finding_id},
                    "created": {"BOOL": created},
                    TTL_ATTRIBUTE: {"N": str(epoch_seconds(at) + self._event_retention)},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _count_update(self, finding_id: str, seen: str, *, set_last_seen: bool) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": f"finding#{finding_id}"}},
            "UpdateExpression": "ADD occurrences :one",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if set_last_seen:
            update["UpdateExpression"] += " SET last_seen = :seen"
            update["ConditionExpression"] += " AND last_seen <= :seen"
            update["ExpressionAttributeValues"][":seen"] = {"S": seen}
        return {"Update": update}

    def _finding_item(self, finding: Finding) -> dict[str, Any]:
        seen = _first_seen(finding)
        item: dict[str, Any] = {
            "pk": {"S": f"finding#{finding.finding_id}"},
            "kind": {"S": "finding"},
            "finding_id": {"S": finding.finding_id},
            "action": {"S": finding.request.action},
            "decision": {"S": finding.decision.value},
            "first_seen": {"S": seen},
            "last_seen": {"S": finding.last_seen or seen},
            "occurrences": {"N": str(finding.occurrences)},
            "seen_key": {"S": f"{seen}#{finding.finding_id}"},
            "listing": {"S": LISTING},
            "published": {"BOOL": False},
            TTL_ATTRIBUTE: {"N": str(epoch_seconds(seen) + self._retention)},
        }
        if finding.request.bucket:
            item["bucket"] = {"S": finding.request.bucket}
        if finding.request.principal.principal_arn:
            item["principal_arn"] = {"S": finding.request.principal.principal_arn}
        account = finding_account(finding)
        if account:
            item["account"] = {"S": account}
        attempts = finding.extra.get(OUTSIDE_ATTEMPTS)
        if isinstance(attempts, Mapping):
            for field in TALLY_FIELDS:
                counts = attempts.get(f"by_{field}") or {}
                item[f"{TALLY_PREFIX}{field}"] = {
                    "M": {name: {"N": str(int(n))} for name, n in counts.items()}
                }
        overhead = _item_size(item) + len("body_z") + _LEASE_ATTRIBUTES
        body, document = item_body(finding.to_dict(), overhead=overhead)
        if isinstance(body, str):
            item["body"] = {"S": body}
        else:
            item["body_z"] = {"B": body}
            if "truncated" in document:
                logger.warning(
                    "finding trimmed to fit a DynamoDB item",
                    extra={"finding_id": finding.finding_id, "truncated": document["truncated"]},
                )
        return item


def _first_seen(finding: Finding) -> str:
    if not finding.first_seen:
        raise StoreError(f"finding {finding.finding_id} has no first_seen")
    return finding.first_seen


def _page(index: str, found: Sequence[tuple[str, Finding]], position: str | None) -> FindingPage:
    """A page of (seen_key, finding) pairs that resumes after `position` (None: the end)."""
    return FindingPage(
        findings=tuple(finding for _, finding in found),
        next_token=encode_token(index, position) if position is not None else None,
        tokens_after=tuple(encode_token(index, key) for key, _ in found),
    )


def _finding(item: Mapping[str, Any]) -> Finding:
    data = read_body(item["body_z"]["B"] if "body_z" in item else item["body"]["S"])
    data["occurrences"] = int(item["occurrences"]["N"])
    data["last_seen"] = item["last_seen"]["S"]
    if f"{TALLY_PREFIX}action" in item:
        action, source = (
            {name: int(n["N"]) for name, n in item[f"{TALLY_PREFIX}{field}"]["M"].items()}
            for field in TALLY_FIELDS
        )
        data[OUTSIDE_ATTEMPTS] = merge_tally(data.get(OUTSIDE_ATTEMPTS) or {}, action, source)
    return Finding.from_dict(data)


def _index_for(query: FindingQuery) -> tuple[str, str, str]:
    index = index_for(query)
    if index == INDEX_BY_BUCKET and query.bucket is not None:
        return index, "bucket", query.bucket
    if index == INDEX_BY_PRINCIPAL and query.principal_arn is not None:
        return index, "principal_arn", query.principal_arn
    if index == INDEX_BY_ACCOUNT and query.account is not None:
        return index, "account", query.account
    return INDEX_RECENT, "listing", LISTING


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _reasons(exc: ClientError) -> Sequence[Mapping[str, Any]]:
    reasons: Sequence[Mapping[str, Any]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
    return reasons


def _retryable(exc: ClientError) -> bool:
    code = _code(exc)
    if code != "TransactionCanceledException":
        return code in _RETRYABLE_CODES
    codes = {str(r.get("Code")) for r in _reasons(exc)} - {"None"}
    if not codes:  # no reasons given: the message lists them, e.g. "[None, TransactionConflict]"
        message = str(exc.response.get("Error", {}).get("Message", ""))
        return any(reason in message for reason in _RETRYABLE_REASONS)
    return codes <= _RETRYABLE_REASONS


def _item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item: attribute names plus values (strings in UTF-8)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        for kind, raw in value.items():
            if kind == "B":
                size += len(raw)
            elif kind == "BOOL":
                size += 1
            else:
                size += len(str(raw).encode())
    return size
