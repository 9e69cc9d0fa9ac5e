"""Buckets, objects, access points and account Block Public Access, as the S3 APIs return them.

A bucket that does not exist is left out of `buckets`, an object that does not exist is left
out of `objects`; an access point named but not found is an `$unreadable` marker with the
not-found code; a part we were refused is an `$unreadable` marker. The collector's own
`HeadObject` can be refused by a bucket-policy Deny aimed at others: that is unreadable too.
With object reads off (`read_objects=False`, `READ_OBJECTS=false`), no object is read: its head
and ACL are `{"$unreadable": "ObjectReadsDisabled"}` markers (unknown, never absent).

A bucket's tags (`GetBucketTagging`; `NoSuchTagSet` is no tags) and its ABAC status
(`GetBucketAbac`) decide whether its tags are `aws:ResourceTag/<key>` in a request's context
(`engine.resolve`). ABAC is off until it is set ("By default, ABAC is disabled for all Amazon S3
general purpose buckets", buckets-tagging-enable-abac.html) and `AbacStatus.Status` is optional
in the answer (API_AbacStatus.html): an answer without it is a bucket whose ABAC was never set,
`Disabled`. A status naming neither value is not readable (`UNKNOWN_ABAC_STATUS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..arn import parse_arn
from ..model import Json
from .base import (
    OBJECT_READS_DISABLED,
    Absent,
    Fetched,
    Present,
    Read,
    ReadPlan,
    Unreadable,
    without_metadata,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3control import S3ControlClient

KmsKeyFound = Callable[[str], None]

UNKNOWN_ABAC_STATUS = "UnknownAbacStatus"
"""The `$unreadable` code of a bucket's `abac` when GetBucketAbac named another status."""
ABAC_NOT_IN_SDK = "GetBucketAbacNotInThisBoto3"
"""The `$unreadable` code of a bucket's `abac` when the installed boto3 lacks the call."""
ABAC_STATUSES = frozenset({"Enabled", "Disabled"})


def _bucket_region(location: Json) -> str:
    """GetBucketLocation's LocationConstraint as a region name (null is us-east-1, EU eu-west-1)."""
    constraint = location.get("LocationConstraint")
    if not constraint:
        return "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


def _default_kms_key(encryption: Json) -> str | None:
    """The customer KMS key of a bucket's default encryption, if it has one."""
    for rule in encryption.get("Rules", ()):
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if str(default.get("SSEAlgorithm", "")).startswith("aws:kms") and default.get(
            "KMSMasterKeyID"
        ):
            return str(default["KMSMasterKeyID"])
    return None


class BucketCollector:
    """Reads a bucket's configuration: every part the S3 authorization layers look at."""

    permissions: ClassVar[tuple[str, ...]] = (
        "s3:GetBucketAcl",
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:GetBucketPolicyStatus",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketVersioning",
        "s3:GetBucketTagging",
        "s3:GetBucketAbac",
    )

    def __init__(self, s3: S3Client, plan: ReadPlan) -> None:
        self._s3 = s3
        self._plan = plan
        self.buckets: dict[str, Json] = {}
        self._missing: set[str] = set()
        self._default_keys: dict[str, list[KmsKeyFound]] = {}

    def document(self) -> Json:
        return {n: b for n, b in sorted(self.buckets.items()) if n not in self._missing}

    def add_bucket(self, bucket: str, *, on_default_kms_key: KmsKeyFound | None = None) -> Json:
        """Schedule the reads of one bucket; `on_default_kms_key` gets its default KMS key."""
        if on_default_kms_key is not None:
            self._default_keys.setdefault(bucket, []).append(on_default_kms_key)
        if bucket in self.buckets:
            return self.buckets[bucket]
        entry: Json = {"objects": {}}
        self.buckets[bucket] = entry
        s3 = self._s3

        def part(
            name: str,
            call: Callable[[], Any],
            needs: str,
            shape: Callable[[Any], Any],
            *,
            also: tuple[str, ...] = (),
        ) -> None:
            def on_result(result: Fetched) -> None:
                match result:
                    case Present(value=value):
                        entry[name] = shape(value)
                    case Absent(code="NoSuchBucket"):
                        self._missing.add(bucket)
                    case Absent():
                        pass
                    case Unreadable() as refused:
                        for field in (name, *also):
                            entry[field] = None if field == "region" else refused.to_doc()

            self._plan.read(
                Read(key=(needs, bucket), call=call, needs=needs, what=f"bucket {bucket}"),
                on_result,
            )

        def on_acl(acl: Json) -> Json:
            entry["owner"] = {"ID": acl.get("Owner", {}).get("ID")}
            return without_metadata(acl)

        def on_encryption(response: Json) -> Json:
            encryption: Json = response["ServerSideEncryptionConfiguration"]
            key = _default_kms_key(encryption)
            if key is not None:
                for found in self._default_keys.get(bucket, ()):
                    found(key)
            return encryption

        part(
            "acl",
            lambda: s3.get_bucket_acl(Bucket=bucket),
            "s3:GetBucketAcl",
            on_acl,
            also=("owner",),
        )
        # A region we may not read stays null (unknown): it decides no layer.
        part(
            "region",
            lambda: s3.get_bucket_location(Bucket=bucket),
            "s3:GetBucketLocation",
            _bucket_region,
        )
        part(
            "policy",
            lambda: s3.get_bucket_policy(Bucket=bucket)["Policy"],
            "s3:GetBucketPolicy",
            lambda policy: policy,
        )
        part(
            "policy_status",
            lambda: s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"],
            "s3:GetBucketPolicyStatus",
            lambda status: status,
        )
        part(
            "ownership_controls",
            lambda: s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"],
            "s3:GetBucketOwnershipControls",
            lambda controls: controls,
        )
        part(
            "public_access_block",
            lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
            "s3:GetBucketPublicAccessBlock",
            lambda block: block,
        )
        part(
            "encryption",
            lambda: s3.get_bucket_encryption(Bucket=bucket),
            "s3:GetEncryptionConfiguration",
            on_encryption,
        )
        part(
            "request_payment",
            lambda: s3.get_bucket_request_payment(Bucket=bucket),
            "s3:GetBucketRequestPayment",
            lambda payment: payment.get("Payer", "BucketOwner"),
        )
        part(
            "versioning",
            lambda: s3.get_bucket_versioning(Bucket=bucket),
            "s3:GetBucketVersioning",
            without_metadata,
        )
        part("tags", lambda: _tag_set(s3, bucket), "s3:GetBucketTagging", lambda tags: tags)
        if hasattr(s3, "get_bucket_abac"):
            part(
                "abac", lambda: s3.get_bucket_abac(Bucket=bucket), "s3:GetBucketAbac", _abac_status
            )
        else:  # a boto3 older than the call (a Lambda runtime's own): unknown, never "off"
            entry["abac"] = Unreadable(code=ABAC_NOT_IN_SDK, needs="s3:GetBucketAbac").to_doc()
        return entry


def _tag_set(s3: S3Client, bucket: str) -> list[Json]:
    """The bucket's TagSet (`[{"Key", "Value"}]`); a bucket without tags answers NoSuchTagSet."""
    try:
        return [
            {"Key": tag["Key"], "Value": tag["Value"]}
            for tag in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
        ]
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchTagSet":
            return []
        raise


def _abac_status(response: Json) -> str | Json:
    """GetBucketAbac's AbacStatus.Status (none: never set, `Disabled`), or an `$unreadable`
    marker when it names another value."""
    status = (response.get("AbacStatus") or {}).get("Status")
    if status is None:
        return "Disabled"
    if status in ABAC_STATUSES:
        return str(status)
    return Unreadable(code=UNKNOWN_ABAC_STATUS, needs="s3:GetBucketAbac").to_doc()


def _tags_into(entry: Json) -> Callable[[Fetched], None]:
    """The continuation that puts a TagSet read (`[{"Key", "Value"}]`) in `entry["tags"]`, or
    its refusal's marker; nothing when the thing is gone (its other reads say so)."""

    def on_tags(result: Fetched) -> None:
        match result:
            case Present(value=tags):
                entry["tags"] = [{"Key": t["Key"], "Value": t["Value"]} for t in tags]
            case Absent():
                pass
            case Unreadable() as refused:
                entry["tags"] = refused.to_doc()

    return on_tags


class ObjectCollector:
    """Reads an object's head (owner-independent state, SSE-KMS key, version), its ACL and its
    tags (`s3:ExistingObjectTag/<key>` of the requests on it)."""

    permissions: ClassVar[tuple[str, ...]] = (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
    )

    def __init__(self, s3: S3Client, plan: ReadPlan, *, read_objects: bool = True) -> None:
        self._s3 = s3
        self._plan = plan
        self._read_objects = read_objects

    def add_object(
        self,
        bucket_entry: Json,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        on_kms_key: KmsKeyFound | None = None,
    ) -> None:
        """Read `key` into `bucket_entry["objects"]`; `on_kms_key` gets its SSE-KMS key."""
        objects: Json = bucket_entry["objects"]
        if key in objects:
            return
        entry: Json = {}
        objects[key] = entry
        head_needs = "s3:GetObjectVersion" if version_id else "s3:GetObject"
        acl_needs = "s3:GetObjectVersionAcl" if version_id else "s3:GetObjectAcl"
        tags_needs = "s3:GetObjectVersionTagging" if version_id else "s3:GetObjectTagging"
        if not self._read_objects:
            entry["head"] = Unreadable(code=OBJECT_READS_DISABLED, needs=head_needs).to_doc()
            entry["acl"] = Unreadable(code=OBJECT_READS_DISABLED, needs=acl_needs).to_doc()
            entry["tags"] = Unreadable(code=OBJECT_READS_DISABLED, needs=tags_needs).to_doc()
            return
        s3 = self._s3
        version: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        what = f"object s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")

        def on_head(result: Fetched) -> None:
            match result:
                case Present(value=head):
                    entry["head"] = without_metadata(head)
                    if head.get("SSEKMSKeyId") and on_kms_key is not None:
                        on_kms_key(str(head["SSEKMSKeyId"]))
                case Absent():
                    objects.pop(key, None)
                case Unreadable() as refused:
                    entry["head"] = refused.to_doc()

        def on_acl(result: Fetched) -> None:
            match result:
                case Present(value=acl):
                    entry["acl"] = without_metadata(acl)
                case Absent():
                    pass
                case Unreadable() as refused:
                    entry["acl"] = refused.to_doc()

        self._plan.read(
            Read(
                key=("s3:HeadObject", bucket, key, version_id),
                call=lambda: s3.head_object(Bucket=bucket, Key=key, **version),
                needs=head_needs,
                what=what,
            ),
            on_head,
        )
        self._plan.read(
            Read(
                key=("s3:GetObjectAcl", bucket, key, version_id),
                call=lambda: s3.get_object_acl(Bucket=bucket, Key=key, **version),
                needs=acl_needs,
                what=what,
            ),
            on_acl,
        )
        self._plan.read(
            Read(
                key=("s3:GetObjectTagging", bucket, key, version_id),
                call=lambda: s3.get_object_tagging(Bucket=bucket, Key=key, **version)["TagSet"],
                needs=tags_needs,
                what=what,
            ),
            _tags_into(entry),
        )


class AccountSettingsCollector:
    """Reads the account-level Block Public Access settings (S3 Control)."""

    permissions: ClassVar[tuple[str, ...]] = ("s3:GetAccountPublicAccessBlock",)

    def __init__(self, s3control: S3ControlClient, plan: ReadPlan) -> None:
        self._s3control = s3control
        self._plan = plan
        self.public_access_block: Json | None = None

    def add_account(self, account_id: str) -> None:
        s3control = self._s3control

        def on_block(result: Fetched) -> None:
            match result:
                case Present(value=block):
                    self.public_access_block = block
                case Unreadable() as refused:
                    self.public_access_block = refused.to_doc()
                case Absent():
                    self.public_access_block = None

        self._plan.read(
            Read(
                key=("s3:GetAccountPublicAccessBlock", account_id),
                call=lambda: s3control.get_public_access_block(AccountId=account_id)[
                    "PublicAccessBlockConfiguration"
                ],
                needs="s3:GetAccountPublicAccessBlock",
                what=f"account {account_id}",
            ),
            on_block,
        )


class AccessPointCollector:
    """Reads an access point (network origin, its own Block Public Access), its policy and its
    tags (`aws:ResourceTag/<key>` of the requests through it: ABAC is on for access points)."""

    permissions: ClassVar[tuple[str, ...]] = (
        "s3:GetAccessPoint",
        "s3:GetAccessPointPolicy",
        "s3:ListTagsForResource",
    )

    _FIELDS = (
        "Name",
        "Bucket",
        "NetworkOrigin",
        "VpcConfiguration",
        "PublicAccessBlockConfiguration",
        "BucketAccountId",
        "AccessPointArn",
        "Alias",
    )

    def __init__(
        self, s3control_for_region: Callable[[str | None], S3ControlClient], plan: ReadPlan
    ) -> None:
        self._s3control_for_region = s3control_for_region
        self._plan = plan
        self.access_points: dict[str, Json] = {}
        self._missing: set[str] = set()

    def document(self) -> Json:
        return {a: p for a, p in sorted(self.access_points.items()) if a not in self._missing}

    def add_access_point(self, access_point_arn: str) -> None:
        arn = parse_arn(access_point_arn)
        if (
            arn is None
            or arn.resource_type != "accesspoint"
            or access_point_arn in self.access_points
        ):
            return
        account, name = arn.account, arn.resource_name
        entry: Json = {"Name": name}
        self.access_points[access_point_arn] = entry
        s3control = self._s3control_for_region(arn.region or None)  # an access point's region

        def on_access_point(result: Fetched) -> None:
            match result:
                case Present(value=point):
                    entry.update({k: point[k] for k in self._FIELDS if k in point})
                case Absent(code=code):
                    # named but not found: unknown to the diagnosis, never "no access point"
                    self.access_points[access_point_arn] = Unreadable(
                        code=code, needs="s3:GetAccessPoint"
                    ).to_doc()
                case Unreadable() as refused:
                    self.access_points[access_point_arn] = refused.to_doc()

        def on_policy(result: Fetched) -> None:
            match result:
                case Present(value=policy):
                    entry["policy"] = policy
                case Absent():
                    pass
                case Unreadable() as refused:
                    entry["policy"] = refused.to_doc()

        what = f"access point {access_point_arn}"
        self._plan.read(
            Read(
                key=("s3:GetAccessPoint", access_point_arn),
                call=lambda: s3control.get_access_point(AccountId=account, Name=name),
                needs="s3:GetAccessPoint",
                what=what,
            ),
            on_access_point,
        )
        self._plan.read(
            Read(
                key=("s3:GetAccessPointPolicy", access_point_arn),
                call=lambda: s3control.get_access_point_policy(AccountId=account, Name=name)[
                    "Policy"
                ],
                needs="s3:GetAccessPointPolicy",
                what=what,
            ),
            on_policy,
        )
        self._plan.read(
            Read(
                key=("s3:ListTagsForResource", access_point_arn),
                call=lambda: s3control.list_tags_for_resource(
                    AccountId=account, ResourceArn=access_point_arn
                )["Tags"],
                needs="s3:ListTagsForResource",
                what=what,
            ),
            _tags_into(entry),
        )
