"""ARN parsing and formatting for the services S3 authorization touches.

Pure: standard library only. `parse_arn` never raises on odd input: it returns None, so callers
can report "not an ARN" in their own words.
"""

from __future__ import annotations

from .lean_dataclass import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Arn:
    """The six parts of an ARN: arn:partition:service:region:account:resource."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def resource_type(self) -> str:
        """The part of `resource` before the first '/' or ':' (e.g. "user", "role", "key")."""
        for i, ch in enumerate(self.resource):
            if ch in "/:":
                return self.resource[:i]
        return self.resource

    @property
    def resource_name(self) -> str:
        """The last path segment of `resource` (a user, role or session name, a key id)."""
        return self.resource.rsplit("/", 1)[-1]


def parse_arn(text: str) -> Arn | None:
    """Split an ARN into its parts; None when `text` is not an ARN."""
    if not isinstance(text, str) or not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) != 6 or not parts[1] or not parts[2]:
        return None
    return Arn(
        partition=parts[1],
        service=parts[2],
        region=parts[3],
        account=parts[4],
        resource=parts[5],
    )


def partition_of(arn: str) -> str:
    """The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`...); `aws` for anything else."""
    parsed = parse_arn(arn)
    return parsed.partition if parsed is not None else "aws"


def is_account_id(text: str) -> bool:
    """Twelve ASCII digits: what a record or an ARN must give before it names an account."""
    return len(text) == 12 and text.isascii() and text.isdigit()


def is_kms_key_arn(text: str) -> bool:
    """A KMS key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`): the only name of a key that IAM
    policies match; an alias, an alias ARN or a bare key id is not."""
    arn = parse_arn(text)
    return arn is not None and arn.service == "kms" and arn.resource.startswith("key/")


def is_access_point_alias(bucket: str) -> bool:
    """Whether a bucket name is an access point alias (S3 gives every access point one, ending
    in `-s3alias`; no bucket name may end so).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-alias.html"""
    return bucket.endswith("-s3alias")


def s3_bucket_arn(bucket: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def s3_object_arn(bucket: str, key: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}/{key}"


def access_point_object_arn(access_point_arn: str, key: str | None) -> str:
    """The ARN S3 authorizes through an access point: `<ap>/object/<key>` or the AP itself."""
    return f"{access_point_arn}/object/{key}" if key is not None else access_point_arn


def split_s3_arn(text: str) -> tuple[str, str | None] | None:
    """(bucket, key or None) of an `arn:aws:s3:::bucket[/key]` ARN; None for anything else."""
    if not isinstance(text, str):
        return None
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or parts[2] != "s3":
        return None
    if parts[3] or parts[4]:
        return None
    bucket, sep, key = parts[5].partition("/")
    if not bucket:
        return None
    return bucket, (key if sep else None)


def account_root_arn(account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def role_arn_from_session(session_arn: str) -> str | None:
    """`arn:aws:iam::A:role/R` for `arn:aws:sts::A:assumed-role/R/S` (the role path is lost).

    CloudTrail's `sessionIssuer.arn` carries the path; prefer it whenever it is known.
    """
    arn = parse_arn(session_arn)
    if arn is None or arn.service != "sts" or not arn.resource.startswith("assumed-role/"):
        return None
    parts = arn.resource.split("/")
    if len(parts) < 3:
        return None
    return f"arn:{arn.partition}:iam::{arn.account}:role/{parts[1]}"
