"""CloudTrail records and EventBridge envelopes for the demo's denied requests.

The shapes follow what S3 writes to CloudTrail and EventBridge delivers (spec §4.2, §5.1): the
demo's events go through the same parser as real ones, so they must look like real ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ..model import Json

_NAMESPACE = uuid.UUID("5b1f3c0e-4d1a-4f0e-9a52-3d6c8e0f4a21")
_USER_AGENT = (
    "[Boto3/1.34.20 md/Botocore#1.34.20 ua/2.0 os/linux lang/python#3.11 Botocore/1.34.20]"
)
_TLS_CIPHER = "TLS_AES_128_GCM_SHA256"


def demo_id(*parts: str) -> str:
    """A stable UUID for the demo's event ids (same scenario and run → same id)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def iam_user_identity(*, account_id: str, user_name: str, user_id: str) -> Json:
    """`userIdentity` of a request signed with an IAM user's access key."""
    return {
        "type": "IAMUser",
        "principalId": user_id,
        "arn": f"arn:aws:iam::{account_id}:user/{user_name}",
        "accountId": account_id,
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": user_name,
    }


def assumed_role_identity(
    *, account_id: str, role_name: str, role_id: str, session_name: str, path: str = "/"
) -> Json:
    """`userIdentity` of a request made with a role session (the issuer ARN keeps the path)."""
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session_name}",
        "arn": f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}",
        "accountId": account_id,
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account_id}:role{path}{role_name}",
                "accountId": account_id,
                "userName": role_name,
            },
            "attributes": {"creationDate": "2025-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def s3_access_denied_record(
    *,
    event_id: str,
    event_time: str,
    region: str,
    identity: Json,
    event_name: str,
    bucket: str,
    bucket_account: str,
    key: str | None = None,
    request_parameters: Mapping[str, Any] | None = None,
    error_message: str = "Access Denied",
    https: bool = True,
    vpc_endpoint_id: str | None = None,
    source_ip: str = "203.0.113.10",
) -> Json:
    """One CloudTrail record of an S3 call denied with `AccessDenied`.

    `https=False` leaves out `tlsDetails` and the cipher suite, which is how CloudTrail shows a
    plain-HTTP request (aws:SecureTransport is false).
    """
    host = f"{bucket}.s3.{region}.amazonaws.com"
    params: Json = {"bucketName": bucket, "Host": host}
    if key is not None:
        params["key"] = key
    params.update(request_parameters or {})
    resources: list[Json] = []
    if key is not None:
        resources.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
    resources.append(
        {"accountId": bucket_account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}
    )
    additional: Json = {"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader"}
    record: Json = {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": event_time,
        "eventSource": "s3.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": _USER_AGENT,
        "errorCode": "AccessDenied",
        "errorMessage": error_message,
        "requestParameters": params,
        "responseElements": None,
        "additionalEventData": additional,
        "requestID": event_id.replace("-", "")[:16].upper(),
        "eventID": event_id,
        "readOnly": event_name.startswith(("Get", "Head", "List")),
        "resources": resources,
        "eventType": "AwsApiCall",
        "managementEvent": key is None,
        "recipientAccountId": bucket_account,
        "eventCategory": "Management" if key is None else "Data",
    }
    if https:
        additional["CipherSuite"] = _TLS_CIPHER
        record["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": _TLS_CIPHER,
            "clientProvidedHostHeader": host,
        }
    if vpc_endpoint_id is not None:
        record["vpcEndpointId"] = vpc_endpoint_id
        record["vpcEndpointAccountId"] = bucket_account
    return record


def cross_account_copies(record: Json, *, requester_account: str) -> tuple[Json, Json]:
    """The two records CloudTrail delivers for a cross-account request (spec §4.2): the bucket
    owner's `record` and the requester's, each with its own `eventID` and `recipientAccountId`,
    both with one `sharedEventID`."""
    event_id = str(record["eventID"])
    shared = demo_id(event_id, "shared")
    owner = {**record, "sharedEventID": shared}
    requester = {
        **record,
        "sharedEventID": shared,
        "eventID": demo_id(event_id, "requester"),
        "recipientAccountId": requester_account,
    }
    return owner, requester


def eventbridge_envelope(record: Json, *, envelope_id: str) -> Json:
    """The EventBridge event that carries one CloudTrail record to the rule's target."""
    return {
        "version": "0",
        "id": envelope_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }


def denied_message(principal_arn: str, action: str, resource: str, context: str) -> str:
    """The enhanced access-denied message S3 writes to `errorMessage` (spec §4.1)."""
    return (
        f"User: {principal_arn} is not authorized to perform: {action} "
        f'on resource: "{resource}" {context}'
    )


def user_get_object_denial(
    *,
    event_id: str,
    event_time: str,
    account_id: str,
    region: str,
    user_name: str,
    user_id: str,
    bucket: str,
    key: str,
) -> Json:
    """An EventBridge event for an IAM user's GetObject denied for lack of an identity allow."""
    principal = f"arn:aws:iam::{account_id}:user/{user_name}"
    record = s3_access_denied_record(
        event_id=event_id,
        event_time=event_time,
        region=region,
        identity=iam_user_identity(account_id=account_id, user_name=user_name, user_id=user_id),
        event_name="GetObject",
        bucket=bucket,
        bucket_account=account_id,
        key=key,
        error_message=denied_message(
            principal,
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/{key}",
            "because no identity-based policy allows the s3:GetObject action",
        ),
    )
    return eventbridge_envelope(record, envelope_id=f"eb-{event_id}")
