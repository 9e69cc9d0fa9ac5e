"""One test per context key derived from a record (spec 3.9): value, type and source."""

from __future__ import annotations

import pytest

from chalicelib.events import parse_event
from tests.unit.events.eventdata import context, load, parsed

FIXTURE_01 = "01-iamuser-getobject-version-vpce-explicit-deny"
FIXTURE_02 = "02-assumedrole-putobject-ssekms-generatedatakey-denied"
FIXTURE_03 = "03-root-putbucketpolicy-blockpublicpolicy"
FIXTURE_04 = "04-federateduser-listobjectsv2-session-policy"
FIXTURE_05 = "05-anonymous-headobject"
FIXTURE_07 = "07-assumedrole-lambda-deleteobject-version-scp-deny"
KMS_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("scenario", "key", "values", "source"),
    [
        (FIXTURE_02, "aws:SourceIp", ("52.23.45.67",), "event:sourceIPAddress"),
        (FIXTURE_01, "aws:SourceVpce", ("vpce-0a1b2c3d4e5f60789",), "event:vpcEndpointId"),
        (FIXTURE_01, "aws:VpcSourceIp", ("10.20.3.41",), "event:sourceIPAddress"),
        (FIXTURE_01, "aws:SecureTransport", ("true",), "event:tlsDetails.tlsVersion"),
        (
            "presigned-sigv2-plain-http-getobject",
            "aws:SecureTransport",
            ("false",),
            "derived:no tlsDetails or CipherSuite in the record",
        ),
        (FIXTURE_01, "s3:TlsVersion", ("1.3",), "event:tlsDetails.tlsVersion"),
        (FIXTURE_02, "s3:TlsVersion", ("1.2",), "event:tlsDetails.tlsVersion"),
        (
            FIXTURE_07,
            "aws:PrincipalArn",
            ("arn:aws:iam::111122223333:role/service-role/cleanup-lambda-role",),
            "event:userIdentity.sessionContext.sessionIssuer.arn",
        ),
        (
            FIXTURE_04,
            "aws:PrincipalArn",
            ("arn:aws:sts::111122223333:federated-user/partner-portal-jdoe",),
            "event:userIdentity.arn",
        ),
        (
            FIXTURE_03,
            "aws:PrincipalArn",
            ("arn:aws:iam::111122223333:root",),
            "derived:account root",
        ),
        (FIXTURE_01, "aws:PrincipalAccount", ("111122223333",), "event:userIdentity.accountId"),
        (FIXTURE_05, "aws:PrincipalAccount", ("anonymous",), "derived:anonymous"),
        (FIXTURE_01, "aws:PrincipalType", ("User",), "derived:userIdentity.type"),
        (FIXTURE_07, "aws:PrincipalType", ("AssumedRole",), "derived:userIdentity.type"),
        (FIXTURE_04, "aws:PrincipalType", ("FederatedUser",), "derived:userIdentity.type"),
        (FIXTURE_03, "aws:PrincipalType", ("Account",), "derived:userIdentity.type"),
        (FIXTURE_05, "aws:PrincipalType", ("Anonymous",), "derived:userIdentity.type"),
        (
            FIXTURE_07,
            "aws:userid",
            ("AROA5EXAMPLELAMBDA07:cleanup-function",),
            "event:userIdentity.principalId",
        ),
        (FIXTURE_03, "aws:userid", ("111122223333",), "event:userIdentity.principalId"),
        (FIXTURE_01, "aws:username", ("etl-batch",), "event:userIdentity.userName"),
        (
            FIXTURE_02,
            "aws:MultiFactorAuthPresent",
            ("false",),
            "event:userIdentity.sessionContext.attributes.mfaAuthenticated",
        ),
        (
            FIXTURE_03,
            "aws:MultiFactorAuthAge",
            ("488",),
            "derived:eventTime - sessionContext.attributes.creationDate",
        ),
        (
            FIXTURE_02,
            "aws:TokenIssueTime",
            ("2025-03-04T09:02:11Z",),
            "event:userIdentity.sessionContext.attributes.creationDate",
        ),
        (
            "assumedrole-via-athena-getobject",
            "aws:SourceIdentity",
            ("alice@example.com",),
            "event:userIdentity.sessionContext.sourceIdentity",
        ),
        (FIXTURE_01, "aws:CurrentTime", ("2025-03-04T10:15:22Z",), "event:eventTime"),
        (FIXTURE_01, "aws:EpochTime", ("1741083322",), "derived:eventTime"),
        (FIXTURE_01, "aws:RequestedRegion", ("eu-west-1",), "event:awsRegion"),
        (
            "awsservice-cloudtrail-putobject-log-delivery",
            "aws:UserAgent",
            ("cloudtrail.amazonaws.com",),
            "event:userAgent",
        ),
        (
            "assumedrole-via-athena-getobject",
            "aws:ViaAWSService",
            ("true",),
            "event:userIdentity.invokedBy",
        ),
        (FIXTURE_01, "aws:ViaAWSService", ("false",), "derived:no userIdentity.invokedBy"),
        (
            "assumedrole-via-athena-getobject",
            "aws:CalledVia",
            ("athena.amazonaws.com",),
            "event:userIdentity.invokedBy (a chain of one service)",
        ),
        (
            "assumedrole-via-athena-getobject",
            "aws:CalledViaFirst",
            ("athena.amazonaws.com",),
            "event:userIdentity.invokedBy (a chain of one service)",
        ),
        (
            "assumedrole-via-athena-getobject",
            "aws:CalledViaLast",
            ("athena.amazonaws.com",),
            "event:userIdentity.invokedBy (a chain of one service)",
        ),
        (
            "awsservice-cloudtrail-putobject-log-delivery",
            "aws:PrincipalIsAWSService",
            ("true",),
            "derived:userIdentity.type",
        ),
        (
            "awsservice-cloudtrail-putobject-log-delivery",
            "aws:PrincipalServiceName",
            ("cloudtrail.amazonaws.com",),
            "event:userIdentity.invokedBy",
        ),
        (
            FIXTURE_01,
            "s3:authType",
            ("REST-HEADER",),
            "event:additionalEventData.AuthenticationMethod",
        ),
        (
            "presigned-sigv2-plain-http-getobject",
            "s3:authType",
            ("REST-QUERY-STRING",),
            "event:additionalEventData.AuthenticationMethod",
        ),
        (
            FIXTURE_01,
            "s3:signatureversion",
            ("AWS4-HMAC-SHA256",),
            "event:additionalEventData.SignatureVersion",
        ),
        (
            "presigned-sigv2-plain-http-getobject",
            "s3:signatureversion",
            ("AWS",),
            "event:additionalEventData.SignatureVersion",
        ),
        (
            FIXTURE_02,
            "s3:x-amz-server-side-encryption",
            ("aws:kms",),
            "event:requestParameters.x-amz-server-side-encryption",
        ),
        (
            FIXTURE_02,
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            (KMS_KEY,),
            "event:requestParameters.x-amz-server-side-encryption-aws-kms-key-id",
        ),
        (
            "putobject-sse-c-blocked",
            "s3:x-amz-server-side-encryption-customer-algorithm",
            ("AES256",),
            "event:requestParameters.x-amz-server-side-encryption-customer-algorithm",
        ),
        (
            "bare-record-iamuser-putobject-acl-tagging-lock-headers",
            "s3:x-amz-acl",
            ("public-read",),
            "event:requestParameters.x-amz-acl",
        ),
        (
            "bare-record-iamuser-putobject-acl-tagging-lock-headers",
            "s3:x-amz-storage-class",
            ("STANDARD_IA",),
            "event:requestParameters.x-amz-storage-class",
        ),
        (
            "bare-record-iamuser-putobject-acl-tagging-lock-headers",
            "s3:object-lock-mode",
            ("GOVERNANCE",),
            "event:requestParameters.x-amz-object-lock-mode",
        ),
        (
            "bare-record-iamuser-putobject-acl-tagging-lock-headers",
            "s3:RequestObjectTagKeys",
            ("team", "class"),
            "event:requestParameters.x-amz-tagging",
        ),
        (
            "bare-record-iamuser-putobject-acl-tagging-lock-headers",
            "s3:RequestObjectTag/class",
            ("secret",),
            "event:requestParameters.x-amz-tagging",
        ),
        (
            "copyobject-versioned-source-url-encoded",
            "s3:x-amz-metadata-directive",
            ("REPLACE",),
            "event:requestParameters.x-amz-metadata-directive",
        ),
        (
            "createbucket-location-ownership",
            "s3:x-amz-object-ownership",
            ("ObjectWriter",),
            "event:requestParameters.x-amz-object-ownership",
        ),
        (
            "createbucket-location-ownership",
            "s3:LocationConstraint",
            ("eu-west-1",),
            "event:requestParameters.CreateBucketConfiguration.LocationConstraint",
        ),
        (FIXTURE_04, "s3:prefix", ("partners/contoso/",), "event:requestParameters.prefix"),
        ("listobjects-v1-top-level", "s3:prefix", ("",), "event:requestParameters.prefix"),
        (FIXTURE_04, "s3:delimiter", ("/",), "event:requestParameters.delimiter"),
        (FIXTURE_04, "s3:max-keys", ("1000",), "event:requestParameters.max-keys"),
        (
            FIXTURE_07,
            "s3:VersionId",
            ("Lpk4FvBkDJ3XhK8.aBcD1234EfGh5678",),
            "event:requestParameters.versionId",
        ),
        (
            FIXTURE_01,
            "s3:ResourceAccount",
            ("111122223333",),
            "event:resources[AWS::S3::Bucket].accountId",
        ),
        (
            "putbucketlifecycle-naming-trap",
            "s3:ResourceAccount",
            ("111122223333",),
            "derived:recipientAccountId (bucket owner assumed)",
        ),
        (
            "access-point-getobject",
            "s3:DataAccessPointArn",
            ("arn:aws:s3:eu-west-1:111122223333:accesspoint/finance-ap",),
            "event:resources[AWS::S3::AccessPoint]",
        ),
        (
            "access-point-getobject",
            "s3:DataAccessPointAccount",
            ("111122223333",),
            "event:resources[AWS::S3::AccessPoint]",
        ),
    ],
)
def test_context_key_is_derived_with_its_source(
    scenario: str, key: str, values: tuple[str, ...], source: str
) -> None:
    keys = context(parsed(scenario))

    assert keys[key] == (values, source)


@pytest.mark.parametrize(
    ("scenario", "key", "why"),
    [
        (FIXTURE_01, "aws:SourceIp", "through a VPC endpoint aws:SourceIp is absent"),
        (FIXTURE_02, "aws:SourceVpce", "no VPC endpoint was used"),
        (FIXTURE_01, "aws:MultiFactorAuthPresent", "long-term access keys carry no MFA key"),
        (FIXTURE_02, "aws:MultiFactorAuthAge", "no MFA was used"),
        (FIXTURE_07, "aws:username", "aws:username exists for IAM users only"),
        (FIXTURE_05, "aws:PrincipalArn", "anonymous requests have no principal ARN"),
        (FIXTURE_05, "s3:signatureversion", "an unsigned request has no signature version"),
        ("assumedrole-via-athena-getobject", "aws:SourceIp", "a service name is not an IP"),
        (FIXTURE_01, "aws:CalledVia", "no service made the call"),
        (
            "awsservice-cloudtrail-putobject-log-delivery",
            "aws:CalledVia",
            "a service principal's own call is made via no service",
        ),
        ("awsaccount-cross-account-getobject", "aws:PrincipalArn", "unknown in another account"),
    ],
)
def test_context_key_that_cannot_be_derived_is_absent(scenario: str, key: str, why: str) -> None:
    assert key not in context(parsed(scenario)), why


def test_vpc_endpoint_note_says_where_the_vpc_id_comes_from() -> None:
    request = parsed(FIXTURE_01)

    assert request.vpc_endpoint_id == "vpce-0a1b2c3d4e5f60789"
    assert any("ec2:DescribeVpcEndpoints" in note for note in request.notes)


def test_context_entry_types_follow_iam_context_key_types() -> None:
    types = {entry.name: entry.type for entry in parsed(FIXTURE_03).context}

    assert types["aws:SourceIp"] == "ip"
    assert types["aws:SecureTransport"] == "boolean"
    assert types["aws:EpochTime"] == "numeric"
    assert types["aws:CurrentTime"] == "date"
    assert types["aws:PrincipalArn"] == "string"


def test_called_via_only_for_the_services_aws_documents_as_setting_it() -> None:
    """A call made on the principal's behalf by a service AWS does not document as setting
    aws:CalledVia (here Glue) is via a service, with no aws:CalledVia."""
    record = load("assumedrole-via-athena-getobject")
    record["detail"]["userIdentity"]["invokedBy"] = "glue.amazonaws.com"

    keys = context(parse_event(record))

    assert keys["aws:ViaAWSService"][0] == ("true",)
    assert "aws:CalledVia" not in keys and "aws:CalledViaFirst" not in keys


@pytest.mark.parametrize(
    ("until", "days"),
    [
        ("2026-01-01T00:00:00Z", "302"),
        ("2025-03-14T10:15:22Z", "10"),
        ("2025-03-14T10:15:21Z", "9"),
    ],
)
def test_an_upload_setting_a_retention_carries_its_remaining_days(until: str, days: str) -> None:
    """A maximum-retention Deny (NumericGreaterThan s3:object-lock-remaining-retention-days)
    reads the whole days from the request to the retain-until date it sets."""
    record = load("deleteobject-bypass-governance")  # eventTime 2025-03-04T10:15:22Z
    record["detail"]["eventName"] = "PutObject"
    params = record["detail"]["requestParameters"]
    params.pop("versionId")
    params.pop("x-amz-bypass-governance-retention")
    params["x-amz-object-lock-mode"] = "GOVERNANCE"
    params["x-amz-object-lock-retain-until-date"] = until

    keys = context(parse_event(record))

    assert keys["s3:object-lock-remaining-retention-days"][0] == (days,)
